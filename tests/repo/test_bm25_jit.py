# Chapter 05 notes: learning_notes/05_agent_rl/README.md#bm25-speed-on-real-length-text
"""The compiled BM25 search (minimal_impl/bm25_jit.py): its bounds hold, and it returns the plain product's top k."""

from __future__ import annotations

import random

import numpy as np
import pytest
import scipy.sparse as sp

from minimal_impl import bm25_jit
from minimal_impl.bm25 import BM25


def test_impact_rows_bound_every_weight_within_one_level() -> None:
    rng = np.random.default_rng(0)
    dense = rng.random((5, 300)) * rng.random((5, 1)) * 9 * (rng.random((5, 300)) < 0.6)  # [V, N], zeros where absent
    weights = sp.csr_matrix(dense)
    slot, impact, step = bm25_jit.impact_rows(weights, min_df=150)
    common = np.flatnonzero(slot >= 0)
    assert common.tolist() == np.flatnonzero((dense > 0).sum(axis=1) >= 150).tolist()
    bound = impact[slot[common]] * step[slot[common], None]  # [C, N]
    assert (bound >= dense[common]).all(), "a quantized bound below its weight"
    assert ((impact[slot[common]].astype(float) - 1) * step[slot[common], None] < dense[common] + 1e-12).all()
    assert (impact[slot[common]][dense[common] == 0] == 0).all()


def test_top_bounds_and_insert_top() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        values = rng.integers(0, 6, rng.integers(1, 40)).astype(float)  # many ties
        m = int(rng.integers(1, len(values) + 1))
        got = np.sort(values[bm25_jit.top_bounds(values, len(values), m)])
        assert (got == np.sort(values)[-m:]).all()
    top_doc, top_score = np.zeros(3, dtype=np.int64), np.zeros(3)
    size = 0
    for doc, score in [(4, 2.0), (1, 5.0), (9, 2.0), (2, 2.0), (1, 5.0)]:  # (1, 5.0) twice: listed once
        size = bm25_jit.insert_top(top_doc, top_score, size, 3, doc, score)
    assert size == 3 and top_doc.tolist() == [1, 2, 4] and top_score.tolist() == [5.0, 2.0, 2.0]


def _corpus(seed: int, num_docs: int) -> list[list[str]]:
    """Documents over a Zipf-like vocabulary: a few words in most documents, many rare ones, repeats included."""
    rng = random.Random(seed)
    common = "the of a and to in is".split()
    rare = [f"w{i}" for i in range(300)]
    docs = []
    for _ in range(num_docs):
        doc = [rng.choice(common) for _ in range(rng.randint(0, 8))]
        doc += [rng.choice(rare[: rng.randint(5, 300)]) for _ in range(rng.randint(0, 10))]
        docs.append(doc)
    return docs


@pytest.mark.parametrize("mode", ["okapi", "lucene"])
def test_compiled_search_equals_the_product_on_every_kind_of_query(mode: str) -> None:
    """Common words only (every document is checked), rare words only, mixed, repeated, unknown and empty queries."""
    docs = _corpus(0, 400)
    index = BM25(idf=mode).index(docs)
    index.pruning = "compiled"
    assert index.prunable
    rng = random.Random(2)
    words = sorted(index.vocab)
    common = "the of a and to in is".split()
    queries = [[], ["unknown"], ["the"], ["the", "the", "of"], common, ["w1"], ["w299", "zzz"]]
    queries += [[rng.choice(words) for _ in range(rng.randint(1, 8))] for _ in range(150)]
    queries += [rng.sample(common, 2) + [rng.choice(words) for _ in range(4)] for _ in range(150)]
    for k in (1, 5, 10, 400):
        ids, scores = index.search(queries, k, prune=False)
        pruned_ids, pruned = index.search(queries, k, prune=True)
        np.testing.assert_allclose(pruned, scores, rtol=1e-12, atol=1e-12)
        assert (pruned_ids == ids).all(), f"k={k}: a different document at an untied rank"


def _kernel(index: BM25, queries: list[list[str]], k: int, search=None, common_min_df: int | None = None) -> tuple:
    """`bounded_search` (or `search`) called directly: (found, ids, scores); `common_min_df` rebuilds the impact rows."""
    query_matrix = index._query_matrix(queries)
    query_matrix.sum_duplicates()
    query_matrix.sort_indices()
    transposed, *rows = index.compiled_index
    if common_min_df is not None:
        rows = bm25_jit.impact_rows(index.weights, common_min_df)
    return bm25_jit.search_matrices(
        index.weights, transposed, index.max_weight, rows, query_matrix, k=k, margin=1e-9, kernel=search
    )


def test_the_loops_give_the_same_answer_as_plain_python() -> None:
    """Without numba the same functions run as Python: check that path on a small corpus (the outer loop only)."""
    if not bm25_jit.AVAILABLE:
        pytest.skip("numba is not installed: the loops already run as plain Python in every other test")
    index = BM25().index(_corpus(3, 120))
    queries = [["the", "a", "w3", "w17"], ["of", "w1"], ["the"], ["w250", "w251"]]
    out = [_kernel(index, queries, 5, search) for search in (bm25_jit.bounded_search, bm25_jit.bounded_search.py_func)]
    assert [a.tolist() for a in out[0]] == [a.tolist() for a in out[1]]


def test_zero_weights_listed_twice_still_give_the_product() -> None:
    """okapi with epsilon 0: words in over half the documents weigh 0, so step 1 may list a document twice.

    With no common rows at all (min_df above N) those words are "rare": their postings are walked, and a
    query of many of them lists more entries than there are documents (the buffer must grow).
    """
    docs = [["the", "of"] + doc for doc in _corpus(4, 300)]  # "the" and "of" in every document
    index = BM25(idf="okapi", epsilon=0.0).index(docs)
    assert (index.weights.data == 0).any(), "the corpus should give some zero weights"
    common = "the of a and to in is".split()
    queries = [common, common + ["w1", "w2"], ["the", "w5"], ["w7", "w8", "w9"]]
    found, ids, scores = _kernel(index, queries, 10, common_min_df=len(docs) + 1)
    want_ids, want = index.search(queries, 10, prune=False)
    for q in range(len(queries)):  # found < k: the rest (zero scores) is filled in by BM25.search
        n = found[q]
        np.testing.assert_allclose(scores[q, :n], want[q, :n], rtol=1e-12, atol=0)
        assert ids[q, :n].tolist() == want_ids[q, :n].tolist()
        assert n == 10 or (want[q, n:] <= 0).all()
