# Chapter 05 notes: learning_notes/05_agent_rl/README.md#bm25-at-wikipedia-scale
"""BM25 at scale: pruned search equals the plain product, the memory arithmetic equals the arrays' bytes,
and the compact memory-mapped index ranks like the float64 one."""

from __future__ import annotations

import json
import mmap
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from minimal_impl import bm25_blockmax as blockmax
from minimal_impl import bm25_maxscore as maxscore
from minimal_impl.bm25 import BM25, tokenize
from minimal_impl.bm25_scale import (
    compact,
    dict_bytes,
    index_memory_bytes,
    is_compact,
    load_compact,
    measured_memory_bytes,
    save_compact,
)
from minimal_impl.retrieval import load_corpus

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "corpus.jsonl"


@pytest.fixture(scope="module")
def corpus() -> list[list[str]]:
    return [tokenize(d["contents"]) for d in load_corpus(SAMPLE)]


@pytest.fixture(scope="module")
def queries(corpus: list[list[str]]) -> list[list[str]]:
    """Words of random documents (with repeats, so common words too), unknown words, empty and all-common."""
    rng = random.Random(0)
    out = [[rng.choice(doc) for _ in range(rng.randint(1, 8))] for doc in rng.sample(corpus, 300)]
    out += [["zzunknown", *q] for q in out[:20]] + [[], ["zzunknown"], ["the"] * 3, ["the", "of", "a", "in"]]
    return out


def _memory_mapped(array: np.ndarray) -> bool:
    """Whether the array's memory is a memory-mapped file (somewhere down its chain of bases)."""
    while array is not None:
        if isinstance(array, (np.memmap, mmap.mmap)):
            return True
        array = getattr(array, "base", None)
    return False


def test_small_helpers_do_what_their_docstrings_say() -> None:
    assert maxscore.max_weights(np.array([1.0, 3.0, 2.0]), np.array([0, 2, 2, 3])).tolist() == [3.0, 0.0, 2.0]
    assert maxscore.ranges(np.array([10, 20]), np.array([3, 2])).tolist() == [10, 11, 12, 20, 21]
    index = BM25().index([["a", "b"], ["b", "c"], ["a", "c", "c"]])
    terms = np.array([index.vocab[t] for t in ["a", "a", "c", "b"]])
    docs = np.array([0, 1, 2, 1])
    expected = [index.weights[t, d] for t, d in zip(terms, docs)]
    assert maxscore.lookup(index.weights, terms, docs).tolist() == expected
    dense = maxscore.dense_rows(index.weights, min_df=2)
    assert maxscore.lookup(index.weights, terms, docs, dense).tolist() == expected
    maxima = blockmax.block_maxima(sp.csr_matrix(np.array([[1.0, 3.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0]])), 2)
    assert maxima.toarray().tolist() == [[3.0, 2.0], [0.0, 0.0]]
    assert (maxima.indptr.tolist(), maxima.indices.tolist()) == ([0, 2, 2], [0, 1])


VARIANTS = {
    "default": {},
    "no-dense": {"dense_fraction": 0},
    "no-refine": {"refine": 0},
    "dense-half": {"dense_fraction": 2},
}
# the variants tune the numpy searches only; the compiled one runs once per mode
PRUNED = [(p, v) for p in ("blockmax", "maxscore") for v in VARIANTS] + [("compiled", "default")]


@pytest.mark.parametrize("mode", ["okapi", "lucene"])
@pytest.mark.parametrize(
    ("pruning", "variant"), [(p, VARIANTS[v]) for p, v in PRUNED], ids=[f"{v}-{p}" for p, v in PRUNED]
)
def test_pruned_search_equals_the_product(corpus, queries, mode: str, variant: dict, pruning: str, monkeypatch) -> None:
    index = BM25(idf=mode).index(corpus)
    index.pruning = pruning
    if "dense_fraction" in variant:
        index.dense_fraction = variant["dense_fraction"]
    if "refine" in variant:
        monkeypatch.setattr(maxscore, "REFINE_DOCS", variant["refine"])
    monkeypatch.setattr("minimal_impl.bm25.PRUNE_BLOCK", 64)  # several blocks
    for k in (1, 3, 10, 50):
        ids, scores = index.search(queries, k, prune=False)
        pruned_ids, pruned = index.search(queries, k, prune=True)
        np.testing.assert_allclose(pruned, scores, rtol=1e-12, atol=1e-12)
        assert (pruned_ids == ids).all(), f"k={k}: a different document at an untied rank"


@pytest.mark.parametrize(
    ("pruning", "block"), [(p, b) for p in ("blockmax", "maxscore") for b in (1, 3, 8)] + [("compiled", 4)]
)  # BLOCK is block-max's block size: the compiled search runs once
def test_pruned_search_keeps_ties_and_the_lower_ids(pruning: str, block: int, monkeypatch) -> None:
    """Many documents tied at the k-th score (copies), across block boundaries: the lowest ids win, as in the product."""
    rng = random.Random(1)
    words = "the of a and to in is alpha beta gamma delta epsilon zeta eta theta".split()
    base = [[rng.choice(words) for _ in range(rng.randint(3, 12))] for _ in range(40)]
    docs = [doc for doc in base for _ in range(rng.randint(1, 5))]  # runs of identical documents
    rng.shuffle(docs)
    monkeypatch.setattr("minimal_impl.bm25.BLOCK", block)
    for mode in ("okapi", "lucene"):
        index = BM25(idf=mode).index(docs)
        index.pruning = pruning
        queries = [[rng.choice(words) for _ in range(rng.randint(1, 7))] for _ in range(200)]
        for k in (1, 2, 5, 10):
            ids, scores = index.search(queries, k, prune=False)
            pruned_ids, pruned = index.search(queries, k, prune=True)
            np.testing.assert_allclose(pruned, scores, rtol=1e-12, atol=1e-12)
            assert (pruned_ids == ids).all()


def test_negative_weights_turn_pruning_off() -> None:
    docs = [["a", "b"], ["a", "b"], ["a", "c"]]  # okapi: the mean idf is negative, so is the floor
    index = BM25().index(docs)
    assert not index.prunable
    assert [x.tolist() for x in index.search([["a", "c"]], 3, prune=True)] == [
        x.tolist() for x in index.search([["a", "c"]], 3, prune=False)
    ]


def test_memory_arithmetic_equals_the_arrays(corpus) -> None:
    index = BM25().index(corpus)
    measured = measured_memory_bytes(index)
    mean_chars = sum(map(len, index.vocab)) / len(index.vocab)
    predicted = index_memory_bytes(index.weights.nnz, len(index.vocab), index.num_docs, mean_term_chars=mean_chars)
    for part in ("weights", "indices", "indptr", "per_term", "per_doc"):
        assert predicted[part] == measured[part], part
    assert predicted["vocab"] == pytest.approx(measured["vocab"], rel=0.05)  # CPython's layout, an estimate
    small = compact(index)
    measured = measured_memory_bytes(small)
    predicted = index_memory_bytes(small.weights.nnz, len(small.vocab), small.num_docs, weight_dtype="float32")
    assert (predicted["weights"], predicted["indices"]) == (measured["weights"], measured["indices"])
    assert predicted["weights"] == small.weights.nnz * 4 and index_memory_bytes(1000, 100, 10)["weights"] == 8000
    assert dict_bytes(100_000) == 3_844_864 == sys.getsizeof({f"w{i}": i for i in range(100_000)})


def test_compact_index_is_memory_mapped_and_ranks_like_float64(corpus, queries, tmp_path: Path) -> None:
    index = BM25().index(corpus)
    save_compact(index, tmp_path / "compact")
    assert is_compact(tmp_path / "compact") and not is_compact(tmp_path)
    small = load_compact(tmp_path / "compact")
    assert small.weights.dtype == np.float32 and small.weights.indices.dtype == np.int32
    assert _memory_mapped(small.weights.data) and _memory_mapped(small.weights.indices)
    assert small.vocab == index.vocab and small.prunable
    for prune in (False, True):
        ids, scores = index.search(queries, 10, prune=False)
        small_ids, small_scores = small.search(queries, 10, prune=prune)
        np.testing.assert_allclose(small_scores, scores, rtol=1e-6, atol=1e-6)  # float32 weights
        assert (small_ids == ids).mean() > 0.99  # equal except where two scores are within float32 rounding
    loaded = load_compact(tmp_path / "compact", mmap=False)
    assert not _memory_mapped(loaded.weights.data)


def test_compact_load_errors(corpus, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no compact BM25 index"):
        load_compact(tmp_path)
    save_compact(BM25().index(corpus[:50]), tmp_path / "c")
    meta = json.loads((tmp_path / "c" / "bm25_compact.json").read_text())
    (tmp_path / "c" / "bm25_compact.json").write_text(json.dumps({**meta, "nnz": meta["nnz"] + 1}))
    with pytest.raises(ValueError, match="disagree"):
        load_compact(tmp_path / "c")
    (tmp_path / "c" / "indices.npy").unlink()
    with pytest.raises(ValueError, match="not a readable compact BM25 index"):
        load_compact(tmp_path / "c")
