# Chapter 05 notes: learning_notes/05_agent_rl/README.md#bm25-speed
"""The BM25 benchmark runs end to end on a tiny corpus, and refuses to report a too-small real measurement."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("rank_bm25", reason="the benchmark compares against rank-bm25 (requirements-dev.txt)")
pytest.importorskip("bm25s", reason="the benchmark compares against bm25s (requirements-dev.txt)")

from bench import bm25_bench  # noqa: E402
from bench.build_corpus import collect, collect_passages, source_roots  # noqa: E402
from minimal_impl.bm25 import tokenize  # noqa: E402


def test_bench_smoke_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "table.md"
    argv = ["--docs", "300", "--queries", "20", "--rank-bm25-queries", "5", "--single-queries", "5"]
    status = bm25_bench.main([*argv, "--repeats", "1", "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    assert status == 0
    table = out.read_text(encoding="utf-8")
    assert table.strip() == capsys.readouterr().out.strip()
    main, ablation = table.split("Ablation")
    rows = [line for line in main.splitlines() if line.startswith("| ") and not line.startswith(("| library", "| ---"))]
    assert len(rows) == 5 + bm25_bench.maxscore_available_numba(), table  # + bm25s's numba backend
    ablation_rows = [line for line in ablation.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(ablation_rows) == 13 and all(line.endswith("| yes |") for line in ablation_rows[1:]), ablation
    assert sum("(the default)" in line for line in ablation_rows) == 2, ablation
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


def test_bench_passages_smoke_run(tmp_path: Path) -> None:
    """The real-length corpus: passages of 50+ tokens, queries of 6-7 terms that include common words."""
    out = tmp_path / "table.md"
    argv = ["--corpus", "passages", "--docs", "300", "--queries", "20", "--rank-bm25-queries", "5"]
    status = bm25_bench.main(
        [*argv, "--single-queries", "5", "--repeats", "1", "--cache-dir", str(tmp_path), "--out", str(out)]
    )
    assert status == 0
    table = out.read_text(encoding="utf-8")
    assert "300 passages" in table and "its 2 most common ones" in table
    assert "rank-bm25 100.0%" in table and "bm25s 100.0%" in table, "the libraries disagree on the top-10 scores"


def test_passages_are_long_and_queries_have_common_words() -> None:
    texts, sources = collect_passages(source_roots(), limit=200, seed=1)
    assert len(texts) == 200 == len(set(texts)) and all(len(tokenize(t)) >= 50 for t in texts)
    assert all(len(t.split()) <= 100 for t in texts) and any(s.startswith("metadata/") for s in sources)
    corpus = [tokenize(t) for t in texts]
    queries, targets = bm25_bench.common_word_queries(corpus, 50, seed=0)
    common = {t for t, _ in Counter(t for doc in corpus for t in set(doc)).most_common(20)}
    assert all(6 <= len(q) <= 7 for q in queries) and all(set(q) <= set(corpus[d]) for q, d in zip(queries, targets))
    assert sum(bool(common & set(q)) for q in queries) >= 45, "most queries should contain a very common word"
