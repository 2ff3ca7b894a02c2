# Chapter 06 notes: learning_notes/06_training_engineering/README.md#train-the-agent-with-your-own-code
"""Where a run's algorithms come from: `minimal_impl` (ours) or a learner's package (`--impl PACKAGE`).

    python -m minimal_impl.train --preset tiny_sample_nq --impl my_solutions
    python -m minimal_impl.train --preset tiny_sample_nq --impl my_solutions --allow-failing-checks

The trainer never imports `gae`, `ppo`, `kl`, ... directly: it calls them through an `Impl`, so the same
loop trains the agent with the learner's GAE, PPO loss, KL, GRPO, rewards, tool-call parsing and BM25.
Before a run on someone else's package, `check_impl` runs the checks of `tests/checks` on its functions
(the same ones `pytest --impl` runs) and `checks_table` prints PASS / NOT IMPLEMENTED / FAIL with the
first mismatch. A run refuses to start on anything but a clean table unless the learner asks for it
(`allow_failing_checks`): then a FAIL trains as written (watch a bug break learning) and a NOT
IMPLEMENTED function is replaced by ours, everywhere the learner's package refers to it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType

# the modules a run takes from the implementation package (the names `pytest --impl` uses)
IMPL_MODULES = (
    "masked",
    "gae",
    "ppo",
    "kl",
    "grpo",
    "rewards",
    "tool_calls",
    "bm25",
    "actor_loss",
    "reinforce",
    "policy_losses",
    "rollout_correction",
)
REFERENCE = "minimal_impl"


class ImplError(ValueError):
    """The implementation package cannot be used as it is (the message says why and what to do)."""


@dataclass
class Impl:
    """The modules of one implementation package, by name: `impl.gae.compute_gae`."""

    package: str
    modules: dict[str, ModuleType]
    from_reference: list[str] = field(default_factory=list)  # what ours replaced ("module" or "module.name")
    check_rows: list[CheckRow] = field(default_factory=list)  # the checks run before training (none for ours)

    def __getattr__(self, name: str) -> ModuleType:
        modules = self.__dict__.get("modules", {})
        if name in modules:
            return modules[name]
        raise AttributeError(f"implementation {self.__dict__.get('package')!r} has no module {name!r}")


def load_impl(package: str = REFERENCE) -> Impl:
    """Import `package.<module>` for every module of IMPL_MODULES, without running any check.

    Example: load_impl().gae.compute_gae is minimal_impl.gae.compute_gae. A module the package lacks is
    an ImplError naming it (`check_impl` reports its exercises NOT IMPLEMENTED instead).
    """
    impl, missing = _import_modules(package)
    if missing:
        raise ImplError(f"--impl {package}: no module {', '.join(f'{package}.{m}' for m in missing)}")
    return impl


def _import_modules(package: str) -> tuple[Impl, list[str]]:
    try:
        importlib.import_module(package)
    except ModuleNotFoundError as err:
        raise ImplError(
            f"--impl {package}: cannot import package {package!r} ({err}). It must be importable from the "
            "repository root, e.g. a copy made with `python scripts/make_exercises.py --out my_solutions`."
        ) from None
    modules, missing = {}, []
    for name in IMPL_MODULES:
        try:
            modules[name] = importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as err:
            if err.name not in (f"{package}.{name}", package):
                raise ImplError(f"--impl {package}: importing {package}.{name} failed: {err}") from None
            missing.append(name)
        except Exception as err:  # a syntax error or a failing import inside the learner's module
            raise ImplError(
                f"--impl {package}: importing {package}.{name} failed: {type(err).__name__}: {err}"
            ) from None
    return Impl(package, modules), missing


@dataclass
class CheckRow:
    """One exercise's outcome: status PASS, NOT IMPLEMENTED or FAIL, and the first mismatch."""

    module: str
    name: str
    status: str
    detail: str = ""

    @property
    def exercise(self) -> str:
        return f"{self.module}.{self.name}"


def check_impl(package: str) -> tuple[Impl, list[CheckRow]]:
    """Run the checks of `tests/checks` on every exercise of IMPL_MODULES in `package`.

    Returns the package's modules (a missing module is taken from ours, and its exercises are rows
    NOT IMPLEMENTED) and one row per exercise, in the order of the checks registry.
    Example: check_impl("exercises") -> rows all NOT IMPLEMENTED; check_impl("minimal_impl") -> all PASS.
    """
    try:
        from tests.checks import REGISTRY, CheckFailed
    except ImportError as err:
        raise ImplError(f"--impl needs the repository's tests/checks package on the import path ({err})") from None
    impl, missing = _import_modules(package)
    for name in missing:  # an older copy without this module: ours stands in, its exercises are not written
        impl.modules[name] = importlib.import_module(f"{REFERENCE}.{name}")
        impl.from_reference.append(name)
    rows = []
    for (module, name), cases in REGISTRY.items():
        if module not in IMPL_MODULES:
            continue
        if module in missing:
            rows.append(CheckRow(module, name, "NOT IMPLEMENTED", f"{package} has no module {module}"))
            continue
        target = getattr(impl.modules[module], name.split(".")[0], None)
        if target is None:
            rows.append(CheckRow(module, name, "NOT IMPLEMENTED", f"{package}.{module} has no {name}"))
            continue
        rows.append(_run_cases(module, name, target, cases, CheckFailed))
    return impl, rows


def _run_cases(module: str, name: str, target: object, cases: list, failure: type) -> CheckRow:
    for case in cases:
        try:
            case(target)
        except NotImplementedError:
            return CheckRow(module, name, "NOT IMPLEMENTED")
        except failure as err:
            return CheckRow(module, name, "FAIL", f"check '{case.__name__}': {err}")
        except Exception as err:  # the learner's code crashed: that is a failure with its message, not ours
            return CheckRow(module, name, "FAIL", f"check '{case.__name__}' raised {type(err).__name__}: {err}")
    return CheckRow(module, name, "PASS")


def checks_table(package: str, rows: list[CheckRow], max_detail_lines: int = 6) -> str:
    """The table printed before a run on `package` (first lines of each mismatch under its row)."""
    width = max(len(r.exercise) for r in rows) if rows else 10
    lines = [f"checks of {package} (tests/checks, the same as `pytest --impl {package}`):"]
    for row in rows:
        lines.append(f"  {row.exercise:<{width}}  {row.status}")
        detail = row.detail.splitlines()
        for text in detail[:max_detail_lines]:
            lines.append(f"  {'':<{width}}    {text}")
        if len(detail) > max_detail_lines:
            lines.append(f"  {'':<{width}}    ... (pytest tests/test_exercises.py --impl {package} shows it all)")
    counts = {status: sum(r.status == status for r in rows) for status in ("PASS", "NOT IMPLEMENTED", "FAIL")}
    lines.append("  " + ", ".join(f"{n} {status}" for status, n in counts.items()))
    return "\n".join(lines)


def use_reference_for(impl: Impl, rows: list[CheckRow]) -> list[str]:
    """Replace every NOT IMPLEMENTED exercise of `impl` by ours, in every module that refers to it.

    The learner's modules import each other (`from .ppo import aggregate_loss` in their kl.py), so the
    stub is replaced wherever a module holds it, not only in its own module. Returns what was replaced.
    """
    replaced = []
    for row in rows:
        if row.status != "NOT IMPLEMENTED" or row.module in impl.from_reference:
            continue
        ours = importlib.import_module(f"{REFERENCE}.{row.module}")
        if "." in row.name:  # a method: patch the learner's class
            cls_name, method = row.name.split(".")
            learner_cls = getattr(impl.modules[row.module], cls_name)
            setattr(learner_cls, method, getattr(getattr(ours, cls_name), method))
        else:
            stub = getattr(impl.modules[row.module], row.name)
            for module in impl.modules.values():
                for key, value in list(vars(module).items()):
                    if value is stub:
                        setattr(module, key, getattr(ours, row.name))
        replaced.append(row.exercise)
    impl.from_reference += replaced
    return replaced
