# Exercise harness: README.md#exercise-mode
"""Generate `exercises/` from `minimal_impl/`: same signatures and docstrings, bodies replaced by hints.

In `minimal_impl/`, an exercise is a function (or method) whose body starts, right after the
docstring, with a marker and its hints:

    # EXERCISE difficulty=2 minutes=25
    # HINT: first hint
    # HINT: second hint
    <reference solution up to the end of the function>

A stub keeps the signature, the docstring, the difficulty and time, and the FIRST hint only; the
others are revealed one at a time on request, so that a learner who is stuck gets a nudge, not the
answer. Progress is recorded in the learner's package (`<dir>/.hints.json`, git-ignored).

Usage:
    python scripts/make_exercises.py                          # regenerate exercises/
    python scripts/make_exercises.py --check                  # exit 1 if exercises/ is stale (CI runs this)
    python scripts/make_exercises.py --out my_solutions       # a fresh copy to work in (never overwrites)
    python scripts/make_exercises.py --list                   # the exercise table
    python scripts/make_exercises.py --hint gae.compute_gae   # the next hint (--dir my_solutions: where you work)
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "minimal_impl"
MARKER = re.compile(r"^(\s*)# EXERCISE difficulty=(\d) minutes=(\d+)\s*$")
HINT = re.compile(r"^\s*# HINT: (.*)$")
STARS = {1: "★☆☆ (easy)", 2: "★★☆ (medium)", 3: "★★★ (hard)"}
GENERATED = "exercises"  # the package this script regenerates (CI checks it is fresh)
DEFAULT_DIR = "my_solutions"  # the learner's copy the README suggests
PROGRESS_FILE = ".hints.json"  # {"gae.compute_gae": number of hints shown}, inside the learner's package


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

    @property
    def qualname(self) -> str:
        """ "gae.compute_gae", "kl.AdaptiveKLController.update": what --hint and the checks call it."""
        return f"{self.module}.{self.name}"


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


def hint_command(qualname: str, package: str) -> str:
    """The command that reveals the next hint of `qualname` ("gae.compute_gae") for `package`."""
    where = "" if package in (GENERATED, DEFAULT_DIR) else f" --dir {package}"
    return f"python scripts/make_exercises.py --hint {qualname}{where}"


def stub_lines(ex: Exercise, package: str = GENERATED) -> list[str]:
    """The body of a stub: difficulty and time, the first hint only, how to get the next one, a raise."""
    ind = ex.indent
    out = [f"{ind}# Exercise: difficulty {STARS.get(ex.difficulty, ex.difficulty)}, about {ex.minutes} minutes."]
    if ex.hints:
        first = f"Hint 1 of {len(ex.hints)}: {ex.hints[0]}"
        out += textwrap.wrap(first, width=116, initial_indent=f"{ind}# ", subsequent_indent=f"{ind}#   ")
    if len(ex.hints) > 1:
        out.append(f"{ind}# Stuck? The next hint: {hint_command(ex.qualname, package)}")
    out.append(f'{ind}raise NotImplementedError("{ex.qualname}: exercise not implemented yet")')
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


def module_header(module: str, package: str) -> str:
    if package == GENERATED:
        return (
            f"# Generated from minimal_impl/{module}.py by scripts/make_exercises.py; do not edit here: make your "
            f"own copy with `python scripts/make_exercises.py --out {DEFAULT_DIR}` (README.md#exercise-mode)."
        )
    return (
        f"# Your copy of the exercises of minimal_impl/{module}.py: write your solutions here. Check them with "
        f"`.venv/bin/pytest tests/test_exercises.py --impl {package}` (README.md#exercise-mode)."
    )


def make_stub_module(
    source: str, module: str, package: str = GENERATED, package_modules: set[str] | None = None
) -> str:
    """The exercise version of one module: every marked body replaced by its stub, and imports of
    modules the stub package does not have pointing to minimal_impl (`absolute_imports`)."""
    if package_modules is not None:
        source = absolute_imports(source, package_modules)
    lines = source.splitlines()
    for ex in sorted(find_exercises(source, module), key=lambda e: e.start, reverse=True):
        lines[ex.start : ex.end] = stub_lines(ex, package)
    return "\n".join([lines[0], module_header(module, package), *lines[1:]]) + "\n"


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


def generate(package: str = GENERATED) -> dict[str, str]:
    """file name -> content of the exercise package called `package`."""
    files = {"__init__.py": INIT}
    modules = exercise_modules()
    for module, text in modules.items():
        files[f"{module}.py"] = make_stub_module(text, module, package, set(modules))
    return files


# ---------------------------------------------------------------- progressive hints


def _find_exercise(qualname: str) -> Exercise | None:
    return next((ex for ex in all_exercises() if ex.qualname == qualname), None)


def _load_progress(path: Path) -> dict[str, int]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return (
        {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, int)} if isinstance(data, dict) else {}
    )


def reveal_hint(qualname: str, package_dir: Path) -> int:
    """Print the next hint of one exercise and record that it was shown; 1 if the name or dir is wrong."""
    ex = _find_exercise(qualname)
    if ex is None:
        names = [e.qualname for e in all_exercises()]
        close = difflib.get_close_matches(qualname, names, n=3, cutoff=0.5)
        suggestion = f" Did you mean {' or '.join(close)}?" if close else ""
        print(f"no exercise called {qualname!r}.{suggestion} --list shows them all (MODULE.FUNCTION).", file=sys.stderr)
        return 1
    if not package_dir.is_dir():
        print(
            f"{package_dir} does not exist: make your copy first (python scripts/make_exercises.py --out "
            f"{package_dir.name}), or name the package you work in with --dir.",
            file=sys.stderr,
        )
        return 1
    progress_path = package_dir / PROGRESS_FILE
    progress = _load_progress(progress_path)
    total = len(ex.hints)
    shown = min(max(progress.get(qualname, 1), 1), total)  # the stub shows the first one
    if shown >= total:
        print(f"{qualname}: no hints left, all {total} are below.")
        for k, hint in enumerate(ex.hints, 1):
            print(textwrap.fill(hint, width=100, initial_indent=f"  {k}. ", subsequent_indent="     "))
        print(
            f"Still stuck? Compare with the reference, minimal_impl/{ex.module}.py, and the chapter note named on "
            "its line 1; the failing check's message names the case and the first mismatch."
        )
        return 0
    shown += 1
    progress[qualname] = shown
    progress_path.write_text(json.dumps(progress, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{qualname}, hint {shown} of {total}:")
    print(textwrap.fill(ex.hints[shown - 1], width=100, initial_indent="  ", subsequent_indent="  "))
    if shown > 1:
        print("Earlier hints:")
        for k in range(1, shown):
            print(textwrap.fill(ex.hints[k - 1], width=100, initial_indent=f"  {k}. ", subsequent_indent="     "))
    left = total - shown
    if left:
        print(f"{left} more: run the same command again.")
    else:
        print("That was the last hint.")
    return 0


def _relative(path: Path) -> str:
    """`path` relative to the working directory when it is below it (what to type), else absolute."""
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except ValueError:  # another drive on Windows
        return str(path)


def check_command(target: Path) -> str:
    """The pytest command that checks the package at `target` (the venv's pytest, and the package's parent
    on PYTHONPATH when it does not sit at the repository root)."""
    pytest = _relative(ROOT / ".venv" / "bin" / "pytest")
    tests = _relative(ROOT / "tests" / "test_exercises.py")
    env = "" if target.parent.resolve() == ROOT else f"PYTHONPATH={target.parent} "
    return f"{env}{pytest} {tests} --impl {target.name}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if exercises/ differs from what would be generated"
    )
    parser.add_argument("--out", type=Path, help="write a fresh copy here instead of exercises/ (refuses to overwrite)")
    parser.add_argument("--list", action="store_true", help="print the table of exercises")
    parser.add_argument("--hint", metavar="MODULE.FUNCTION", help="print the next hint of one exercise")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(DEFAULT_DIR),
        help=f"with --hint: the package you work in, where hint progress is kept (default: {DEFAULT_DIR})",
    )
    args = parser.parse_args(argv)

    if args.hint:
        return reveal_hint(args.hint, args.dir if args.dir.is_absolute() else Path.cwd() / args.dir)

    if args.list:
        print(f"{'exercise':42} {'difficulty':14} minutes  hints")
        for ex in all_exercises():
            print(f"{ex.qualname:42} {STARS[ex.difficulty]:14} {ex.minutes:>7}  {len(ex.hints):>5}")
        return 0

    target = ROOT / GENERATED
    package = GENERATED
    if args.check:
        files = generate()
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
        package = target.name
    files = generate(package)
    target.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files to {target} ({len(all_exercises())} exercises)")
    if args.out is not None:
        print(f"check your work with: {check_command(target)}")
        print(f"stuck on one? the next hint: {hint_command('MODULE.FUNCTION', package)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
