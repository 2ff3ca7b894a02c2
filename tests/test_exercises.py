# Exercise harness: README.md#exercise-mode
"""Every check of every exercise, run against the package chosen with `--impl` (default minimal_impl)."""

from __future__ import annotations

import pytest

from tests.checks import REGISTRY, CheckFailed

CASES = [
    pytest.param(module, name, case, id=f"{module}.{name}::{case.__name__}")
    for (module, name), cases in REGISTRY.items()
    for case in cases
]


@pytest.mark.parametrize(("module", "name", "case"), CASES)
def test_exercise(impl, module: str, name: str, case) -> None:
    target = getattr(impl, module)
    for part in name.split(".")[:1]:  # "Class.method" is checked through the class
        target = getattr(target, part)
    try:
        case(target)
    except CheckFailed as err:
        failure = f"{module}.{name} failed check '{case.__name__}'\n{err}"
    else:
        return
    # the message says what is wrong and where; a traceback through the checking helpers would bury it
    pytest.fail(failure, pytrace=False)
