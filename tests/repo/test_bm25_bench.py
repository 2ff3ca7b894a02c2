# Chapter 05 notes: learning_notes/05_agent_rl/README.md#bm25-speed
"""The BM25 benchmark runs end to end on a tiny corpus, and refuses to report a too-small real measurement."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("rank_bm25", reason="the benchmark compares against rank-bm25 (requirements-dev.txt)")
pytest.importorskip("bm25s", reason="the benchmark compares against bm25s (requirements-dev.txt)")

from bench import bm25_bench  # noqa: E402
from bench.build_corpus import collect, source_roots  # noqa: E402


def test_bench_smoke_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "table.md"
    argv = ["--docs", "300", "--queries", "20", "--rank-bm25-queries", "5", "--single-queries", "5"]
    status = bm25_bench.main([*argv, "--repeats", "1", "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    assert status == 0
    table = out.read_text(encoding="utf-8")
    assert table.strip() == capsys.readouterr().out.strip()
    rows = [
        line for line in table.splitlines() if line.startswith("| ") and not line.startswith(("| library", "| ---"))
    ]
    assert len(rows) == 5, table
    assert "Smoke run: 300 documents" in table and "Command: `python bench/bm25_bench.py --docs 300" in table
    assert "rank-bm25 100.0%" in table and "bm25s 100.0%" in table, "the libraries disagree on the top-10 scores"
    assert list((tmp_path / "cache").glob("bm25_corpus_*.json")), "the corpus was not cached"


def test_bench_refuses_a_small_corpus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(bm25_bench, "build_corpus", lambda *args, **kwargs: (["a b c"] * 10, ["stdlib/x"] * 10))
    status = bm25_bench.main(["--docs", "60000", "--cache-dir", str(tmp_path), "--out", str(tmp_path / "t.md")])
    assert status == 1
    assert not (tmp_path / "t.md").exists()


def test_corpus_is_deterministic_and_real_text() -> None:
    stdlib = [root for root in source_roots() if root[0] == "stdlib"]
    first, sources = collect(stdlib, limit=200, seed=3)
    again, _ = collect(stdlib, limit=200, seed=3)
    assert first == again and len(first) == 200 == len(set(first))
    assert all(source.startswith("stdlib/") for source in sources)
    assert len({s for s in sources}) > 5, "the shuffle should draw from many modules"
