# Exercise harness: README.md#exercise-mode
"""Checks that take a function (yours or ours) and name the first mismatch.

In a notebook:
    from tests.checks import check_gae
    check_gae(my_compute_gae)      # prints PASS ... or raises CheckFailed with inputs, expected, got

Each module here declares `EXERCISE_CHECKS = {(module, exercise name): [check, ...]}` (the name may be
"Class.method", checked through its class) and `check_*` functions; `REGISTRY` merges them all, and
tests/test_exercises.py runs every check against the package chosen with `pytest --impl`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from ._util import CheckFailed, run_checks

REGISTRY: dict[tuple[str, str], list[Callable]] = {}
_exports: dict[str, Callable] = {}
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("_"):
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    REGISTRY.update(getattr(_module, "EXERCISE_CHECKS", {}))
    _exports.update({name: obj for name, obj in vars(_module).items() if name.startswith("check_")})
globals().update(_exports)

__all__ = ["REGISTRY", "CheckFailed", "run_checks", *sorted(_exports)]
