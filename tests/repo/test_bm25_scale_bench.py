# Chapter 05 notes: learning_notes/05_agent_rl/README.md#bm25-at-wikipedia-scale
"""The scale benchmark runs end to end on 2,000 synthetic passages, and its arithmetic equals the arrays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench import bm25_scale_bench as bench

PARTS = ("weights", "indices", "indptr", "per_term", "per_doc")  # exact parts; "vocab" is an estimate


def test_synthetic_corpus_is_deterministic_and_passage_shaped() -> None:
    ids, offsets = bench.synthetic_ids(500, seed=3)
    again, _ = bench.synthetic_ids(500, seed=3)
    assert np.array_equal(ids, again)
    lengths = np.diff(offsets)
    assert lengths.min() >= bench.MIN_LEN and lengths.max() <= bench.MAX_LEN
    assert np.mean(ids == 0) > 0.05, "rank 1 of a Zipf(1.1) law over 1M terms has about 12% of the tokens"
    corpus = bench.token_lists(ids, offsets)
    assert len(corpus) == 500 and corpus[0][0] == f"t{ids[0]}"
    queries = bench.scale_queries(ids, offsets, 20)
    assert all(6 <= len(q) <= 7 and len(set(q)) == len(q) for q in queries)


def test_scale_bench_smoke_run(tmp_path: Path) -> None:
    argv = ["--sizes", "2000", "--queries", "50", "--batch", "20", "--out-dir", str(tmp_path), "--fresh"]
    status = bench.main(argv)
    assert status == 0
    results = json.loads((tmp_path / "bm25_scale.json").read_text())
    entry = results["2000"]
    build = entry["build"]
    assert build["docs"] == 2000 and build["tokens"] > 2000 * bench.MIN_LEN
    for part in PARTS:
        assert build["predicted_float64"][part] == build["measured_float64"][part], part
    assert build["predicted_float64"]["weights"] == 8 * build["postings"]
    assert build["predicted_compact"]["weights"] == 4 * build["postings"]
    assert build["disk_float64_bytes"] > build["disk_compact_bytes"] > 0
    assert build["phases"]["index"]["wall_s"] > 0 and build["peak_rss_bytes"] > build["baseline_rss_bytes"]
    for variant in ("float64", "compact"):
        serve = entry[variant]
        assert serve["queries"] == 50 and serve["batch"] == 20
        assert serve["queries_per_s"] > 0 and serve["queries_per_cpu_s"] > 0
        assert serve["rss_after_queries_bytes"] > 0 and serve["peak_rss_bytes"] >= serve["baseline_rss_bytes"]
    assert entry["float64"]["index_nbytes"] == build["measured_float64"]["total"]
    assert entry["compact"]["weights_dtype"] == "float32"
    assert entry["compact"]["same_top10_as_float64"] == 1.0
    table = (tmp_path / "bm25_scale.md").read_text()
    assert "| 2,000 | float64 in RAM |" in table and "| 2,000 | compact, mmap |" in table
    (tmp_path / "bm25_scale.md").unlink()
    assert bench.main(["--table-only", "--out-dir", str(tmp_path)]) == 0
    assert (tmp_path / "bm25_scale.md").read_text() == table
