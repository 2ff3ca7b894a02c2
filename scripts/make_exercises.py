# Exercise harness: README.md#exercise-mode
"""Generate `exercises/` from `minimal_impl/`: same signatures and docstrings, bodies replaced by hints.

In `minimal_impl/`, an exercise is a function (or method) whose body starts, right after the
docstring, with a marker and its hints:

    # EXERCISE difficulty=2 minutes=25
    # HINT: first hint
    # HINT: second hint
    <reference solution up to the end of the function>

Usage:
    python scripts/make_exercises.py                 # regenerate exercises/
    python scripts/make_exercises.py --check         # exit 1 if exercises/ is stale (CI runs this)
    python scripts/make_exercises.py --out my_work   # a fresh copy to work in (never overwrites)
    python scripts/make_exercises.py --list          # the exercise table
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "minimal_impl"
MARKER = re.compile(r"^(\s*)# EXERCISE difficulty=(\d) minutes=(\d+)\s*$")
HINT = re.compile(r"^\s*# HINT: (.*)$")
STARS = {1: "★☆☆ (easy)", 2: "★★☆ (medium)", 3: "★★★ (hard)"}


@dataclass
class Exercise:
    module: str
    name: str  # "func" or "Class.method"
    difficulty: int
    minutes: int
    hints: list[str] = field(default_factory=list)
    start: int = 0  # 0-based line index of the marker
    end: int = 0  # 0-based index one past the last line of the function
    indent: str = ""


def _functions(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    yield f"{node.name}.{item.name}", item


def find_exercises(source: str, module: str) -> list[Exercise]:
    """Locate every marked exercise in one module's source."""
    lines = source.splitlines()
    found = []
    for name, node in _functions(ast.parse(source)):
        body = node.body
        first = (
            body[1]
            if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            else body[0]
        )
        doc_end = body[0].end_lineno if first is not body[0] else node.lineno
        for i in range(doc_end, first.lineno - 1):
            match = MARKER.match(lines[i])
            if match:
                hints = []
                j = i + 1
                while j < len(lines) and HINT.match(lines[j]):
                    hints.append(HINT.match(lines[j]).group(1))
                    j += 1
                found.append(
                    Exercise(
                        module,
                        name,
                        int(match.group(2)),
                        int(match.group(3)),
                        hints,
                        i,
                        node.end_lineno,
                        match.group(1),
                    )
                )
                break
    return found


def stub_lines(ex: Exercise) -> list[str]:
    ind = ex.indent
    out = [f"{ind}# Exercise: difficulty {STARS.get(ex.difficulty, ex.difficulty)}, about {ex.minutes} minutes."]
    if ex.hints:
        out.append(f"{ind}# Hints:")
        out += [f"{ind}#   {k}. {hint}" for k, hint in enumerate(ex.hints, 1)]
    out.append(f'{ind}raise NotImplementedError("{ex.module}.{ex.name}: exercise not implemented yet")')
    return out


def absolute_imports(source: str, package_modules: set[str]) -> str:
    """Relative imports of modules that have no stub (`from .episode import X`) point back to minimal_impl.

    A stub package holds only the modules with exercises; `from .ppo import aggregate_loss` stays
    relative (the learner's own ppo.py), `from .episode import Trajectory` becomes
    `from minimal_impl.episode import Trajectory`. Example: {"ppo"} keeps `.ppo`, rewrites `.episode`.
    """
    lines = source.splitlines()
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ImportFrom) or node.level != 1:
            continue
        if node.module is None:  # `from . import episode, ppo`: one line per module, absolute where stubless
            names = [alias.name for alias in node.names]
            text = "\n".join(
                f"from . import {n}" if n in package_modules else f"from {SOURCE.name} import {n}" for n in names
            )
        elif node.module.split(".")[0] in package_modules:
            continue
        else:
            original = "\n".join(lines[node.lineno - 1 : node.end_lineno])
            text = original.replace(f"from .{node.module} import", f"from {SOURCE.name}.{node.module} import", 1)
        lines[node.lineno - 1 : node.end_lineno] = [text] + [None] * (node.end_lineno - node.lineno)
    return "\n".join(line for line in lines if line is not None)


def make_stub_module(source: str, module: str, package_modules: set[str] | None = None) -> str:
    """The exercise version of one module: every marked body replaced by its stub, and imports of
    modules the stub package does not have pointing to minimal_impl (`absolute_imports`)."""
    if package_modules is not None:
        source = absolute_imports(source, package_modules)
    lines = source.splitlines()
    for ex in sorted(find_exercises(source, module), key=lambda e: e.start, reverse=True):
        lines[ex.start : ex.end] = stub_lines(ex)
    header = (
        f"# Generated from minimal_impl/{module}.py by scripts/make_exercises.py; do not edit here: "
        "work in a copy (README.md#exercise-mode)."
    )
    return "\n".join([lines[0], header, *lines[1:]]) + "\n"


def paste_solutions(stub_source: str, reference_source: str, module: str) -> str:
    """Put the reference bodies back into a stub module (what a learner who solved everything has)."""
    ref_lines = reference_source.splitlines()
    solutions = {ex.name: ref_lines[ex.start : ex.end] for ex in find_exercises(reference_source, module)}
    lines = stub_source.splitlines()
    stubs = {name: node for name, node in _functions(ast.parse(stub_source))}
    for name in sorted(solutions, key=lambda n: stubs[n].lineno, reverse=True):
        node = stubs[name]
        first_stub = next(i for i in range(node.lineno, node.end_lineno) if lines[i].strip().startswith("# Exercise:"))
        lines[first_stub : node.end_lineno] = solutions[name]
    return "\n".join(lines) + "\n"


def exercise_modules() -> dict[str, str]:
    """module name -> reference source, for every module that has at least one exercise."""
    out = {}
    for path in sorted(SOURCE.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        if any(MARKER.match(line) for line in text.splitlines()):
            out[path.stem] = text
    return out


def all_exercises() -> list[Exercise]:
    return [ex for module, text in exercise_modules().items() for ex in find_exercises(text, module)]


INIT = '''# Exercise harness: README.md#exercise-mode
"""Your implementations: generated stubs of minimal_impl/ (see README.md#exercise-mode)."""
'''


def generate() -> dict[str, str]:
    """file name -> content of the exercise package."""
    files = {"__init__.py": INIT}
    modules = exercise_modules()
    for module, text in modules.items():
        files[f"{module}.py"] = make_stub_module(text, module, set(modules))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if exercises/ differs from what would be generated"
    )
    parser.add_argument("--out", type=Path, help="write a fresh copy here instead of exercises/ (refuses to overwrite)")
    parser.add_argument("--list", action="store_true", help="print the table of exercises")
    args = parser.parse_args(argv)

    if args.list:
        print(f"{'exercise':42} {'difficulty':14} minutes")
        for ex in all_exercises():
            print(f"{ex.module + '.' + ex.name:42} {STARS[ex.difficulty]:14} {ex.minutes}")
        return 0

    files = generate()
    target = ROOT / "exercises"
    if args.check:
        stale = [
            name
            for name, text in files.items()
            if not (target / name).exists() or (target / name).read_text(encoding="utf-8") != text
        ]
        extra = [p.name for p in target.glob("*.py") if p.name not in files]
        if stale or extra:
            print(
                f"exercises/ is stale: {', '.join(stale + extra)}. Run: python scripts/make_exercises.py",
                file=sys.stderr,
            )
            return 1
        print(f"exercises/ is up to date ({len(files) - 1} modules, {len(all_exercises())} exercises)")
        return 0
    if args.out is not None:
        target = args.out if args.out.is_absolute() else Path.cwd() / args.out
        if target.exists() and any(target.iterdir()):
            print(
                f"{target} already exists and is not empty: not overwriting your work. Pick another --out.",
                file=sys.stderr,
            )
            return 1
        if not target.name.isidentifier():
            print(
                f"--out must be a valid Python package name (got {target.name!r}) so that --impl can import it.",
                file=sys.stderr,
            )
            return 1
    target.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files to {target} ({len(all_exercises())} exercises)")
    if args.out is not None:
        print(f"check your work with: pytest tests/test_exercises.py --impl {target.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
