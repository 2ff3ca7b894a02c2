# Exercise harness: README.md#exercise-mode
"""The notebooks' workbook cells (tests/checks/workbook.py): on the generated stubs they report every exercise of
their chapter NOT IMPLEMENTED and raise nothing; a wrong function fails with the first mismatch; a missing package,
module or function says how to fix it; an edited module is re-imported.

Only the cells tagged `workbook` run here (no figures, no models): the notebooks themselves run once, on the
reference, in tests/run.sh."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import jupytext
import pytest

from tests.checks import CheckFailed
from tests.checks.workbook import (
    LearnerPackageError,
    chapter_exercises,
    check_chapter,
    check_exercise,
    learner_package,
)

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
WITH_EXERCISES = [nb for nb in NOTEBOOKS if chapter_exercises(int(nb.name[:2]))]


def workbook_cells(notebook: Path) -> list[str]:
    return [
        cell.source
        for cell in jupytext.read(notebook).cells
        if cell.cell_type == "code" and "workbook" in cell.metadata.get("tags", [])
    ]


def test_every_chapter_with_exercises_has_a_workbook_notebook() -> None:
    chapters = {int(nb.name[:2]) for nb in WITH_EXERCISES}
    missing = [c for c in range(100) if chapter_exercises(c) and c not in chapters]
    assert not missing, f"chapters with exercises but no notebook: {missing}"


@pytest.mark.parametrize("notebook", WITH_EXERCISES, ids=lambda p: p.name)
def test_workbook_cells_report_every_exercise_not_implemented_on_the_stubs(
    notebook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cells = workbook_cells(notebook)
    exercises = chapter_exercises(int(notebook.name[:2]))
    assert cells, f"{notebook.name}: the chapter has exercises ({', '.join(exercises)}) but no cell tagged 'workbook'"
    monkeypatch.setenv("RL_IMPL", "exercises")
    namespace: dict = {"__name__": "__workbook__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for i, source in enumerate(cells):
            exec(compile(source, f"{notebook.name}:workbook cell {i}", "exec"), namespace)  # raises if a cell crashes
    text = out.getvalue()
    for exercise in exercises:
        assert re.search(rf"NOT IMPLEMENTED[^\n]*\b{re.escape(exercise)}\b", text), (
            f"{notebook.name}: {exercise} is not reported NOT IMPLEMENTED on the stubs:\n{text}"
        )
    assert not re.search(r"^\s*(PASS|FAIL|MISSING)\b", text, flags=re.M), f"stubs must neither pass nor fail:\n{text}"


def _package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, modules: dict[str, str]) -> Path:
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    for module, source in modules.items():
        (package / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    return package


def test_a_wrong_function_fails_with_the_first_mismatch() -> None:
    with pytest.raises(CheckFailed) as failure:
        check_exercise("foundations.reward_to_go", lambda rewards, gamma=1.0: rewards)
    message = str(failure.value)
    assert "reward_to_go failed check 'reward_to_go_hand_worked'" in message, message
    assert "expected" in message and "got" in message, message


def test_check_chapter_lists_every_exercise_then_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    _package(tmp_path, monkeypatch, "wb_partial", {
        "foundations": "from minimal_impl.foundations import softmax_score\n\n"
                       "def reward_to_go(rewards, gamma=1.0):\n    return rewards\n",
    })  # fmt: skip
    with pytest.raises(CheckFailed, match="reward_to_go failed check"):
        check_chapter(0, learner_package("wb_partial"))
    table = capsys.readouterr().out
    assert re.search(r"FAIL\s+foundations\.reward_to_go", table), table
    assert re.search(r"PASS\s+foundations\.softmax_score", table), table
    assert re.search(
        r"MISSING\s+foundations\.reinforce_loss\s+wb_partial\.foundations has no 'reinforce_loss'", table
    ), table
    assert "1 passed, 1 failed, 3 missing" in table, table


def test_missing_package_module_or_name_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    with pytest.raises(LearnerPackageError, match="make_exercises.py --out wb_absent"):
        learner_package("wb_absent")
    monkeypatch.setenv("RL_IMPL", "my-solutions")
    with pytest.raises(LearnerPackageError, match="not an importable package name"):
        learner_package()
    _package(
        tmp_path,
        monkeypatch,
        "wb_old_copy",
        {"gae": "def compute_gae(*args, **kwargs):\n    raise NotImplementedError\n"},
    )
    result = check_exercise("memory.lora_params", impl=learner_package("wb_old_copy"))
    assert result.status == "MISSING" and "Copy exercises/memory.py into wb_old_copy/" in result.detail, result
    assert "MISSING memory.lora_params" in capsys.readouterr().out


def test_an_edited_module_is_reimported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _package(tmp_path, monkeypatch, "wb_edited", {"gae": "def compute_gae():\n    return 1\n"})
    impl = learner_package("wb_edited")
    assert impl.gae.compute_gae() == 1
    path = package / "gae.py"
    path.write_text("def compute_gae():\n    return 2\n")
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))  # a later edit, even within the file system's time resolution
    assert impl.gae.compute_gae() == 2, "the learner's edit was not picked up"
