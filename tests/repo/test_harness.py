# Exercise harness: README.md#exercise-mode
"""The exercise harness: generated stubs are fresh, every exercise is checked, learner mode reports honestly."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.make_exercises import ROOT, all_exercises, generate, main, paste_solutions
from tests.checks import REGISTRY

# every tests/test_*.py runs against --impl, so each of its tests must call an exercise;
# tests that do not depend on the learner's code live in tests/repo/
IMPL_TESTS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py"))


def _start_pytest(impl: str, cwd: Path, tests: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{cwd}{os.pathsep}{ROOT}", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *[str(ROOT / t) for t in tests],
        "--impl",
        impl,
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def learner_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.Popen]:
    """Two --impl runs, started together: the whole --impl suite on the untouched stubs (every test must
    say NOT IMPLEMENTED), and the checks of every exercise on stubs with the reference bodies pasted back
    in (the rest of the suite runs on the reference in the main run already)."""
    package = tmp_path_factory.mktemp("pasted") / "solved_exercises"
    package.mkdir()
    for name, text in generate().items():
        module = name.removesuffix(".py")
        if module != "__init__":
            text = paste_solutions(text, (ROOT / "minimal_impl" / name).read_text(encoding="utf-8"), module)
        (package / name).write_text(text, encoding="utf-8")
    runs = {
        "stubs": _start_pytest("exercises", ROOT, IMPL_TESTS),
        "pasted": _start_pytest("solved_exercises", package.parent, ["tests/test_exercises.py", "tests/test_probe.py"]),
    }
    yield runs
    for proc in runs.values():
        if proc.poll() is None:
            proc.kill()


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=600)
    return proc.returncode, out


def test_exercises_are_up_to_date() -> None:
    assert main(["--check"]) == 0, "exercises/ is stale: run python scripts/make_exercises.py"


def test_every_exercise_has_checks() -> None:
    exercises = {(ex.module, ex.name) for ex in all_exercises()}
    assert exercises == set(REGISTRY), f"unchecked: {exercises - set(REGISTRY)}; stale: {set(REGISTRY) - exercises}"


def test_every_exercise_has_difficulty_time_and_hints() -> None:
    for ex in all_exercises():
        assert ex.difficulty in (1, 2, 3) and 0 < ex.minutes <= 120, ex
        assert ex.hints, f"{ex.module}.{ex.name} has no hints"


def test_stubs_keep_signatures_and_docstrings() -> None:
    for ex in all_exercises():
        ours = importlib.import_module(f"minimal_impl.{ex.module}")
        stub = importlib.import_module(f"exercises.{ex.module}")
        for part in ex.name.split("."):
            ours, stub = getattr(ours, part), getattr(stub, part)
        assert inspect.signature(ours) == inspect.signature(stub), ex.name
        assert inspect.getdoc(ours) == inspect.getdoc(stub), ex.name


def test_untouched_stubs_are_reported_not_implemented(learner_runs: dict) -> None:
    returncode, out = _finish(learner_runs["stubs"])
    assert returncode == 0, out[-3000:]
    assert not re.search(r"\d+ (passed|failed)", out), f"stubs must neither pass nor fail:\n{out[-3000:]}"
    for ex in all_exercises():
        assert f"NOT IMPLEMENTED YET: {ex.module}.{ex.name}" in out, (
            f"{ex.module}.{ex.name} not reported:\n{out[-3000:]}"
        )


def test_stubs_with_reference_bodies_pasted_in_pass(learner_runs: dict) -> None:
    returncode, out = _finish(learner_runs["pasted"])
    assert returncode == 0, out[-3000:]
    assert "NOT IMPLEMENTED" not in out and " failed" not in out, out[-3000:]
    assert re.search(r"\d+ passed", out), out[-3000:]


def test_out_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "my_solutions"
    assert main(["--out", str(target)]) == 0
    (target / "gae.py").write_text("# my work\n", encoding="utf-8")
    assert main(["--out", str(target)]) == 1
    assert (target / "gae.py").read_text(encoding="utf-8") == "# my work\n"


def _flat(text: str) -> str:
    """Stub comments wrap long hints: compare text with the comment markers and line breaks removed."""
    return " ".join(text.replace("#", " ").split())


def test_stubs_show_the_first_hint_only() -> None:
    files = generate()
    for ex in all_exercises():
        stub = _flat(files[f"{ex.module}.py"])
        assert _flat(f"Hint 1 of {len(ex.hints)}: {ex.hints[0]}") in stub, ex.qualname
        for later in ex.hints[1:]:
            assert _flat(later) not in stub, f"{ex.qualname}: a later hint leaked into the stub: {later}"
        if len(ex.hints) > 1:
            assert f"--hint {ex.qualname}" in stub, ex.qualname


def test_hint_reveals_the_next_one_and_records_progress(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    work = tmp_path / "my_work"
    assert main(["--out", str(work)]) == 0
    ex = next(e for e in all_exercises() if e.qualname == "gae.compute_gae")
    capsys.readouterr()
    for k in range(2, len(ex.hints) + 1):
        assert main(["--hint", ex.qualname, "--dir", str(work)]) == 0
        out = capsys.readouterr().out
        assert f"hint {k} of {len(ex.hints)}" in out and _flat(ex.hints[k - 1]) in _flat(out), out
    assert main(["--hint", ex.qualname, "--dir", str(work)]) == 0
    assert "no hints left" in capsys.readouterr().out
    assert '"gae.compute_gae": 4' in (work / ".hints.json").read_text(encoding="utf-8")


def test_hint_names_a_wrong_exercise_or_a_missing_copy(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--out", str(tmp_path / "mine")]) == 0
    assert main(["--hint", "gae.compute_gea", "--dir", str(tmp_path / "mine")]) == 1
    assert "Did you mean gae.compute_gae" in capsys.readouterr().err
    assert main(["--hint", "gae.compute_gae", "--dir", str(tmp_path / "nowhere")]) == 1
    assert "--out" in capsys.readouterr().err


def test_a_copy_is_yours_and_names_the_venv_pytest(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    target = tmp_path / "my_copy"
    assert main(["--out", str(target)]) == 0
    out = capsys.readouterr().out
    assert ".venv/bin/pytest" in out and "--impl my_copy" in out and f"PYTHONPATH={tmp_path}" in out
    header = (target / "gae.py").read_text(encoding="utf-8").splitlines()[1]
    assert "Your copy" in header and "do not edit" not in header
    assert "--hint gae.compute_gae --dir my_copy" in (target / "gae.py").read_text(encoding="utf-8")
    assert "do not edit here" in (ROOT / "exercises" / "gae.py").read_text(encoding="utf-8").splitlines()[1]
