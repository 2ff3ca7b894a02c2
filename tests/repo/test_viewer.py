# Chapter 06 notes: learning_notes/06_training_engineering/README.md#see-what-the-agent-did
"""The rollout viewer: pages from a real run, bad input, and the pages loaded in a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from minimal_impl import viewer

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "data" / "viewer_sample"  # one evaluated step of the default run (seed 0), shipped
FIGURE = ROOT / "learning_notes" / "06_training_engineering" / "figures" / "viewer.png"
BROWSER_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
    "--disable-background-networking", "--disable-component-update", "--hide-scrollbars",
]  # fmt: skip


def test_the_trainer_writes_pages_at_every_evaluation(reference_run: Path) -> None:
    folder = reference_run / "rollouts"
    assert sorted(p.name for p in folder.glob("step_*.jsonl")) == [
        "step_0000.jsonl",
        "step_0002.jsonl",
        "step_0004.jsonl",
    ]
    for step in (2, 4):
        records, bad = viewer.read_records(folder / f"step_{step:04d}.jsonl")
        train = [r for r in records if r["kind"] == "train"]
        evals = [r for r in records if r["kind"] == "eval"]
        assert bad == 0 and len(train) == 2 * 2 and len(evals) == 4, "viewer_groups x rollout_n; the 4 eval samples"
        for r in train:
            assert len(r["tokens"]) == len(r["roles"]) and len(r["tensors"]["adv"]) == len(r["tokens"])
            assert r["tensors"]["mask"] == r["roles"], "the tensors line up with the response tokens"
    page = (folder / "step_0004.html").read_text()
    assert page.count('class="episode ') == 8 and "http" not in page.replace("http-equiv", ""), "no network"
    assert {"index.html", "compare.html"} <= {p.name for p in folder.iterdir()}


def test_bad_input_gives_a_message_or_a_page_that_says_so(reference_run: Path, tmp_path: Path, capsys) -> None:
    empty = tmp_path / "no_rollouts"
    empty.mkdir()
    assert viewer.main([str(empty)]) == 2
    err = capsys.readouterr().err
    assert "recorded no rollouts" in err and "save_rollouts=true" in err
    run = tmp_path / "run"
    shutil.copytree(reference_run / "rollouts", run / "rollouts")
    with (run / "rollouts" / "step_0002.jsonl").open("a") as handle:
        handle.write('{"kind": "eval", "que')
    (run / "rollouts" / "step_0006.jsonl").write_text("")  # an evaluation that recorded nothing
    messages: list[str] = []
    index = viewer.render_run(run, log=messages.append)
    assert index.is_file() and any("skipped 1 torn" in m for m in messages)
    assert "1 torn or unreadable line(s)" in (run / "rollouts" / "step_0002.html").read_text()
    assert "No episodes were recorded" in (run / "rollouts" / "step_0006.html").read_text()
    assert "Nothing to compare yet" in (run / "rollouts" / "compare.html").read_text(), "no best_model/ here"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no Chromium on this machine (tests/run.sh installs Debian's chromium where apt-get works)")


def _browser(binary: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(tmp_path)}
    cmd = [binary, *BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


def test_pages_load_in_a_real_browser(reference_run: Path, tmp_path: Path) -> None:
    binary = _chromium()
    page = reference_run / "rollouts" / "step_0004.html"
    result = _browser(binary, tmp_path, "--dump-dom", page.as_uri())
    dom = result.stdout
    assert result.returncode == 0 and 'data-ready="1"' in dom, "the page's script ran to its end"
    records, _ = viewer.read_records(reference_run / "rollouts" / "step_0004.jsonl")
    assert len(re.findall(r'<div class="episode (?:correct|wrong)"', dom)) == len(records)
    tokens = sum(len(r["tokens"]) for r in records)
    assert len(re.findall(r'<span class="tok m[01]', dom)) == tokens, "one span per token, with its mask class"
    assert dom.count('class="tok m0') == sum(r["roles"].count(0) for r in records), "masked tokens: class m0"
    assert 'id="shown">8<' in dom, "the filter script counted the episodes"
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, f"console messages: {console}"


def test_screenshot_of_a_real_run(tmp_path: Path) -> None:
    """Renders the shipped step of the default run and photographs it: the picture in chapter 06's notes
    (UPDATE_FIGURES=1 copies it there)."""
    binary = _chromium()
    run = tmp_path / "sample"
    shutil.copytree(SAMPLE, run)
    viewer.render_run(run, log=lambda m: None)
    page = next((run / "rollouts").glob("step_*.html"))
    shot = ROOT / ".build" / "viewer.png"
    shot.parent.mkdir(exist_ok=True)
    result = _browser(binary, tmp_path, "--window-size=1300,1250", f"--screenshot={shot}", page.as_uri())
    assert result.returncode == 0 and shot.stat().st_size > 20_000, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("UPDATE_FIGURES") == "1":
        shutil.copy(shot, FIGURE)
    records, _ = viewer.read_records(next((run / "rollouts").glob("step_*.jsonl")))
    assert {r["kind"] for r in records} == {"train", "eval"}, "the sample holds training groups and evaluations"
