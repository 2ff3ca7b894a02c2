# Exercise harness: README.md#exercise-mode
"""Workbook cells of the notebooks: check the learner's own package, one exercise or one chapter at a time.

The notebooks run on the reference (`minimal_impl`) by default, so CI executes them as they are. A
learner points them at their own copy (`python scripts/make_exercises.py --out my_solutions`) with the
environment variable `RL_IMPL`, or by passing the package name:

    RL_IMPL=my_solutions .venv/bin/jupyter lab notebooks/      # every workbook cell checks my_solutions

    impl = learner_package()                     # RL_IMPL, default minimal_impl
    my_gae = impl.gae.compute_gae                # or write `def my_gae(...)` in the cell itself
    check_exercise("gae.compute_gae", my_gae)    # PASS ... | NOT IMPLEMENTED YET ... | raises CheckFailed
    check_chapter(3, impl)                       # one status line per exercise of chapter 03

A function that still raises NotImplementedError is reported, not raised, so a learner can run the
whole notebook while only some exercises are done; a wrong one raises CheckFailed with the first
mismatch (the case, its inputs, expected and got), which a notebook shows under the cell.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ._util import CheckFailed

ENV_VAR = "RL_IMPL"
REFERENCE = "minimal_impl"
ROOT = Path(__file__).resolve().parents[2]
CHAPTER_HEADER = re.compile(r"^# Chapter (\d+) notes:")
NOT_IMPLEMENTED = "NOT IMPLEMENTED YET"


class LearnerPackageError(ImportError):
    """The package named by RL_IMPL (or passed in) cannot be imported; the message says how to make it."""


class LearnerPackage:
    """Lazy access to `<package>.<module>` (`impl.gae.compute_gae`), re-imported when its file changes.

    A learner edits `my_solutions/gae.py` and runs the check cell again: the new code is checked without
    restarting the kernel. The reference package is never reloaded.
    """

    def __init__(self, package: str) -> None:
        self.package = package
        self._mtimes: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"LearnerPackage({self.package!r})"

    def __getattr__(self, module: str) -> ModuleType:
        if module.startswith("_"):
            raise AttributeError(module)
        name = f"{self.package}.{module}"
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == self.package:
                raise LearnerPackageError(_missing_package(self.package)) from None
            if err.name == name:
                raise LearnerPackageError(
                    f"{self.package} has no module {module!r}: your copy may predate it. Copy "
                    f"exercises/{module}.py into {self.package}/ (or make a new copy with "
                    f"`python scripts/make_exercises.py --out NEW_NAME`)."
                ) from None
            raise
        if self.package != REFERENCE and getattr(mod, "__file__", None):
            mtime = os.stat(mod.__file__).st_mtime
            if self._mtimes.setdefault(name, mtime) != mtime:
                mod = importlib.reload(mod)
                self._mtimes[name] = mtime
        return mod


def _missing_package(package: str) -> str:
    source = f" (from {ENV_VAR})" if os.environ.get(ENV_VAR, "").strip() == package else ""
    return (
        f"cannot import the package {package!r}{source}. Make your copy "
        f"from the repository root with `python scripts/make_exercises.py --out {package}` (it must sit in "
        f"{ROOT}, or anywhere on sys.path), or unset {ENV_VAR} to run the reference {REFERENCE!r}."
    )


def learner_package(package: str | None = None) -> LearnerPackage:
    """The package the workbook cells check: `package`, else $RL_IMPL, else the reference `minimal_impl`.

    >>> learner_package("minimal_impl").gae.compute_gae.__module__
    'minimal_impl.gae'
    """
    name = package or os.environ.get(ENV_VAR, "").strip() or REFERENCE
    if not all(part.isidentifier() for part in name.split(".")):
        raise LearnerPackageError(f"{ENV_VAR}={name!r} is not an importable package name (like my_solutions)")
    if str(ROOT) not in sys.path:  # a kernel started in notebooks/ still finds packages at the root
        sys.path.insert(0, str(ROOT))
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name != name.split(".")[0] and err.name != name:
            raise
        raise LearnerPackageError(_missing_package(name)) from None
    return LearnerPackage(name)


def chapter_of(module: str) -> int | None:
    """The chapter a reference module belongs to, from its line 1 (`# Chapter 03 notes: ...`)."""
    path = ROOT / REFERENCE / f"{module}.py"
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as f:
        match = CHAPTER_HEADER.match(f.readline())
    return int(match.group(1)) if match else None


def chapter_exercises(chapter: int) -> list[str]:
    """Every checked exercise of a chapter as `module.name`, in the order of the exercise table.

    >>> chapter_exercises(3)[:2]
    ['gae.compute_gae', 'grpo.grpo_advantages']
    """
    from . import REGISTRY

    return sorted((f"{m}.{n}" for m, n in REGISTRY if chapter_of(m) == chapter), key=_table_order)


def _table_order(exercise: str) -> tuple:
    """Module name, then position in the source file (what `make_exercises.py --list` shows)."""
    module, name = exercise.split(".", 1)
    source = (ROOT / REFERENCE / f"{module}.py").read_text(encoding="utf-8")
    last = name.split(".")[-1]
    found = re.search(rf"^\s*def {re.escape(last)}\(", source, flags=re.M)
    return module, found.start() if found else len(source)


@dataclass
class Result:
    exercise: str
    status: str  # "PASS" | "NOT IMPLEMENTED" | "FAIL" | "MISSING"
    detail: str


def _target(impl: LearnerPackage, exercise: str) -> Callable:
    """The object the checks take: the function, or the class for a `Class.method` exercise."""
    module, name = exercise.split(".", 1)
    mod = getattr(impl, module)
    try:
        return getattr(mod, name.split(".")[0])
    except AttributeError:
        raise LearnerPackageError(
            f"{impl.package}.{module} has no {name.split('.')[0]!r}: copy its stub from exercises/{module}.py"
        ) from None


def _run(exercise: str, fn: Callable) -> Result:
    cases = _cases(exercise)
    for case in cases:
        try:
            case(fn)
        except NotImplementedError as err:
            return Result(exercise, "NOT IMPLEMENTED", str(err) or f"{exercise} still raises NotImplementedError")
        except CheckFailed as err:
            return Result(exercise, "FAIL", f"{exercise} failed check '{case.__name__}'\n{err}")
    return Result(exercise, "PASS", f"all {len(cases)} checks match ({', '.join(c.__name__ for c in cases)})")


def check_exercise(exercise: str, fn: Callable | None = None, *, impl: LearnerPackage | None = None) -> Result:
    """Run one exercise's checks on `fn` (default: the function of that name in `impl` or $RL_IMPL).

    Prints `PASS exercise: ...` or `NOT IMPLEMENTED YET: exercise ...` and returns the result; a wrong
    function raises CheckFailed naming the first mismatch.
    """
    if fn is None:
        try:
            fn = _target(impl or learner_package(), exercise)
        except LearnerPackageError as err:
            print(f"MISSING {exercise}: {err}")
            return Result(exercise, "MISSING", str(err))
    result = _run(exercise, fn)
    if result.status == "FAIL":
        raise CheckFailed(result.detail)
    prefix = "PASS" if result.status == "PASS" else NOT_IMPLEMENTED
    print(f"{prefix} {exercise}: {result.detail}" if result.status == "PASS" else f"{prefix}: {result.detail}")
    return result


def check_chapter(chapter: int, impl: LearnerPackage | None = None) -> list[Result]:
    """Every exercise of one chapter on `impl` (default $RL_IMPL): a status table, then CheckFailed if any fails.

    Not-implemented exercises are listed, not raised: the table is the learner's progress. Prints e.g.

        Chapter 03: 14 exercises checked on 'my_solutions'
          PASS             gae.compute_gae                    6 checks
          NOT IMPLEMENTED  masked.masked_mean                 write it in my_solutions/masked.py
          ...
    """
    impl = impl or learner_package()
    exercises = chapter_exercises(chapter)
    if not exercises:
        raise KeyError(f"chapter {chapter:02d} has no checked exercises")
    results = []
    for exercise in exercises:
        try:
            results.append(_run(exercise, _target(impl, exercise)))
        except LearnerPackageError as err:
            results.append(Result(exercise, "MISSING", str(err)))
    print(f"Chapter {chapter:02d}: {len(exercises)} exercises checked on {impl.package!r}")
    for r in results:
        print(f"  {r.status:16s} {r.exercise:36s} {_summary(r, impl.package)}")
    counts = {s: sum(r.status == s for r in results) for s in ("PASS", "NOT IMPLEMENTED", "FAIL", "MISSING")}
    print(", ".join(f"{n} {_COUNT_WORDS[s]}" for s, n in counts.items() if n))
    failed = [r for r in results if r.status == "FAIL"]
    if failed:
        others = "".join(f"\n(also failing: {r.exercise})" for r in failed[1:])
        raise CheckFailed(failed[0].detail + others)
    return results


_COUNT_WORDS = {"PASS": "passed", "NOT IMPLEMENTED": "not implemented yet", "FAIL": "failed", "MISSING": "missing"}


def _summary(result: Result, package: str) -> str:
    """One line of the chapter table."""
    module = result.exercise.split(".", 1)[0]
    if result.status == "PASS":
        n = len(_cases(result.exercise))
        return f"{n} check{'s' if n != 1 else ''}"
    if result.status == "NOT IMPLEMENTED":
        return f"write it in {package}/{module}.py"
    if result.status == "FAIL":
        return result.detail.splitlines()[0].split(" failed ", 1)[-1] + " (details below)"
    return result.detail


def _cases(exercise: str) -> list[Callable]:
    from . import REGISTRY

    key = tuple(exercise.split(".", 1))
    if key not in REGISTRY:
        known = ", ".join(sorted(f"{m}.{n}" for m, n in REGISTRY))
        raise KeyError(f"no checks for {exercise!r}; the checked exercises are: {known}")
    return REGISTRY[key]


__all__ = [
    "ENV_VAR",
    "LearnerPackage",
    "LearnerPackageError",
    "Result",
    "chapter_exercises",
    "check_chapter",
    "check_exercise",
    "learner_package",
]
