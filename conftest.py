# Exercise harness: README.md#exercise-mode
"""pytest options shared by the whole suite.

`--impl PACKAGE` picks the implementation the chapter tests check: `minimal_impl` (the default, our
reference solutions), `exercises` (the generated stubs), or any importable package with the same
module names (`gae`, `ppo`, ...), such as a learner's copy made by `scripts/make_exercises.py`.
A test that reaches a `NotImplementedError` is reported as "not implemented yet", not as a failure.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest
from hypothesis import settings

# property tests explore the same examples on every run, so CI results are reproducible;
# HYPOTHESIS_PROFILE=explore searches new random examples instead
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

NOT_IMPLEMENTED = "NOT IMPLEMENTED YET"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--impl",
        default="minimal_impl",
        help="package whose functions the chapter tests check (default: minimal_impl)",
    )


class Implementation:
    """Lazy access to `<package>.<module>`: `impl.gae.compute_gae`."""

    def __init__(self, package: str) -> None:
        self.package = package

    def __getattr__(self, module: str) -> ModuleType:
        if module.startswith("_"):
            raise AttributeError(module)
        name = f"{self.package}.{module}"
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name in (self.package, name):
                # AttributeError (not a test failure) so that introspection such as hypothesis's works
                raise AttributeError(f"--impl {self.package}: cannot import module {name!r} ({err})") from None
            raise


@pytest.fixture(scope="session")
def impl(request: pytest.FixtureRequest) -> Implementation:
    """The implementation under test, chosen with --impl."""
    return Implementation(request.config.getoption("--impl"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and call.excinfo.errisinstance(NotImplementedError):
        message = str(call.excinfo.value) or item.name
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"{NOT_IMPLEMENTED}: {message}")
        report.not_implemented = message  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    pending = sorted(
        {r.not_implemented for r in terminalreporter.stats.get("skipped", []) if hasattr(r, "not_implemented")}
    )
    if pending:
        terminalreporter.section("exercises not implemented yet")
        for message in pending:
            terminalreporter.line(f"{NOT_IMPLEMENTED}: {message}")
        terminalreporter.line(f"{len(pending)} exercise(s) still raise NotImplementedError: implement them and rerun.")


# The longest test files go first: the two xdist workers take whole files (`--dist loadfile`) in collection
# order (`--no-loadscope-reorder` in tests/run.sh), so a long file started last would run alone at the end.
LONGEST_FIRST = (
    "tests/repo/test_train.py",
    "tests/repo/test_harness.py",
    "tests/repo/test_faults.py",
    "tests/repo/test_bm25_scale.py",
    "tests/test_bm25.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable: the rest keep their order
