# Exercise harness: README.md#exercise-mode
"""A stub module that imports non-exercise modules of minimal_impl still imports (they point back to ours)."""

from __future__ import annotations

import importlib
import sys

from scripts.make_exercises import absolute_imports, make_stub_module

SOURCE = '''# Chapter 99 notes: nowhere
"""A module with one exercise that leans on a module without exercises."""

from __future__ import annotations

from . import episode, ppo
from .episode import Trajectory
from .ppo import aggregate_loss


def total_turns(trajs: list) -> int:
    """Model turns over a list of episodes."""
    # EXERCISE difficulty=1 minutes=5
    # HINT: Trajectory.num_turns counts one episode's turns.
    return sum(t.num_turns for t in trajs)
'''


def test_imports_of_stubless_modules_become_absolute() -> None:
    out = absolute_imports(SOURCE, {"ppo", "demo"})
    assert "from minimal_impl.episode import Trajectory" in out
    assert "from .ppo import aggregate_loss" in out, "a module with exercises stays the learner's own"
    assert "from . import ppo" in out and "from minimal_impl import episode" in out


def test_generated_stub_imports_and_raises(tmp_path) -> None:
    package = tmp_path / "stubpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "ppo.py").write_text("def aggregate_loss():\n    return 0\n")
    (package / "demo.py").write_text(make_stub_module(SOURCE, "demo", package_modules={"ppo", "demo"}))
    sys.path.insert(0, str(tmp_path))
    try:
        demo = importlib.import_module("stubpkg.demo")
        assert demo.Trajectory.__module__ == "minimal_impl.episode"
        try:
            demo.total_turns([])
        except NotImplementedError as err:
            assert "demo.total_turns" in str(err)
        else:
            raise AssertionError("the stub must raise NotImplementedError")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("stubpkg")]:
            del sys.modules[name]
