# Chapter 05 notes: learning_notes/05_agent_rl/README.md#bm25-derived-with-a-worked-example
"""Checks for minimal_impl/bm25.py: the 4-document example of the notes, the idf rules, top-k ties.

The notes' corpus (k1 = 1.5, b = 0.75, epsilon = 0.25), tokenized:
    d0 "the cat sat" (3 tokens), d1 "the dog barked loudly" (4), d2 "the mat" (2), d3 "cat chases cat" (3)
N = 4, avgdl = 3; vocabulary in order of first occurrence with its df:
    the 3, cat 2, sat 1, dog 1, barked 1, loudly 1, mat 1, chases 1
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch

from ._util import expect_close, expect_raises, expect_true, fail, run_checks


def _close(case: str, got: object, expected: object, inputs: dict, tol: float = 1e-6) -> None:
    """expect_close for numpy results: arrays and numpy scalars are compared as float64 tensors."""
    if isinstance(got, (np.ndarray, np.generic)):
        if not np.issubdtype(got.dtype, np.number):
            fail(case, inputs, expected, got, f"expected numbers, got dtype {got.dtype}")
        got = torch.from_numpy(np.array(got, dtype=np.float64))
    expect_close(case, got, expected, inputs, atol=tol, rtol=tol)


# the notes' numbers: L = log(3.5 / 1.5) is the okapi idf of a df = 1 term
L = math.log(7 / 3)  # 0.847298
FLOOR = 0.25 * (5 * L / 8)  # epsilon * mean idf = 0.25 * (-L + 0 + 6 L) / 8 = 0.132390
NOTES_DF = np.array([3, 2, 1, 1, 1, 1, 1, 1])
NOTES_DOC_LEN = np.array([3, 4, 2, 3])
# tf[t, d] of the notes' corpus, rows in vocabulary order
NOTES_TF = np.array(
    [
        [1, 1, 1, 0],  # the
        [1, 0, 0, 2],  # cat
        [1, 0, 0, 0],  # sat
        [0, 1, 0, 0],  # dog
        [0, 1, 0, 0],  # barked
        [0, 1, 0, 0],  # loudly
        [0, 0, 1, 0],  # mat
        [0, 0, 0, 1],  # chases
    ],
    dtype=np.float64,
)
# tf part tf (k1 + 1) / (tf + K), K = k1 (1 - b + b |d| / avgdl): K = 1.5, 1.875, 1.125, 1.5 for d0..d3
TF_PART = {3: 2.5 / 2.5, 4: 2.5 / 2.875, 2: 2.5 / 2.125}  # tf = 1, by document length: 1.0, 0.869565, 1.176471


def idf_okapi_hand_worked(fn: Callable) -> None:
    # notes: df = 3 > N/2 is negative (-L) and floored; df = 2 = N/2 gives exactly 0; df = 1 gives L
    got = fn(NOTES_DF, 4, mode="okapi", epsilon=0.25)
    inputs = {"df": NOTES_DF.tolist(), "num_docs": 4, "mode": "okapi", "epsilon": 0.25}
    expected = [FLOOR, 0.0] + [L] * 6
    if isinstance(got, np.ndarray) and got.shape == (8,) and np.allclose(got, [-L, 0.0] + [L] * 6):
        fail(
            "okapi idf of the notes' vocabulary",
            inputs,
            expected,
            got,
            "the negative idf of 'the' (df = 3 > N/2) was kept: rank-bm25's BM25Okapi replaces every idf < 0 by "
            "epsilon * mean(idf), the mean over all terms taken before the replacement",
        )
    _close("okapi idf of the notes' vocabulary (floor = 0.25 * mean of the raw idfs)", got, expected, inputs)


def idf_okapi_floor_uses_raw_mean(fn: Callable) -> None:
    # raw idfs -2.398, -2.398, -1.099, +1.099: their mean -1.199 is negative, so the floor is -0.599;
    # a mean taken after replacement, or over the positive terms only, gives other numbers
    df = np.array([5, 5, 4, 1])
    n = 5
    raw = [math.log(n - d + 0.5) - math.log(d + 0.5) for d in df]
    floor = 0.5 * sum(raw) / len(raw)
    expected = [floor if r < 0 else r for r in raw]
    inputs = {"df": df.tolist(), "num_docs": n, "epsilon": 0.5}
    expect_true("this case's mean idf is negative", floor < 0, "bad test data")
    got = fn(df, n, mode="okapi", epsilon=0.5)
    _close("negative mean: the floor itself is negative (rank-bm25's rule)", got, expected, inputs)


def idf_lucene_hand_worked(fn: Callable) -> None:
    got = fn(NOTES_DF, 4, mode="lucene")
    inputs = {"df": NOTES_DF.tolist(), "num_docs": 4, "mode": "lucene"}
    # log(1 + 1.5/3.5) = log(10/7), log(1 + 2.5/2.5) = log 2, log(1 + 3.5/1.5) = log(10/3)
    expected = [math.log(10 / 7), math.log(2)] + [math.log(10 / 3)] * 6
    _close("lucene idf of the notes' vocabulary", got, expected, inputs)


def idf_edge_cases(fn: Callable) -> None:
    got = fn(np.zeros(0, dtype=np.int64), 3, mode="okapi")
    expect_true("empty vocabulary", len(got) == 0, f"expected an empty array, got {got!r}")
    try:
        fn(NOTES_DF, 4, mode="tfidf")
    except ValueError:
        pass
    else:
        fail("unknown idf mode", {"mode": "tfidf"}, "ValueError", "no error")


def _notes_tf() -> sp.csr_matrix:
    return sp.csr_matrix(NOTES_TF)


def weights_hand_worked(fn: Callable) -> None:
    idf = np.array([FLOOR, 0.0] + [L] * 6)
    got = fn(_notes_tf(), NOTES_DOC_LEN, idf, 1.5, 0.75)
    inputs = {"tf": NOTES_TF.tolist(), "doc_len": NOTES_DOC_LEN.tolist(), "idf": idf.tolist(), "k1": 1.5, "b": 0.75}
    expect_true("weights are sparse", sp.issparse(got), f"expected a scipy sparse matrix, got {type(got).__name__}")
    expect_true("weights shape", got.shape == (8, 4), f"shape {got.shape} instead of (8, 4)", inputs)
    expected = np.zeros((8, 4))
    expected[0, :3] = [FLOOR * TF_PART[3], FLOOR * TF_PART[4], FLOOR * TF_PART[2]]  # the: 0.132390, 0.115122, 0.155753
    expected[2, 0] = L * TF_PART[3]  # sat in d0: 0.847298
    expected[3:6, 1] = L * TF_PART[4]  # dog, barked, loudly in d1: 0.736781
    expected[6, 2] = L * TF_PART[2]  # mat in d2: 0.996821
    expected[7, 3] = L * TF_PART[3]  # chases in d3: 0.847298
    _close("okapi weights of the notes' corpus (cat has idf 0)", got.toarray(), expected, inputs)


def weights_lucene_numerator(fn: Callable) -> None:
    idf = np.ones(8)
    got = fn(_notes_tf(), NOTES_DOC_LEN, idf, 1.5, 0.75, k1_plus_one=False).toarray()
    inputs = {"tf": NOTES_TF.tolist(), "doc_len": NOTES_DOC_LEN.tolist(), "idf": "ones", "k1_plus_one": False}
    # cat twice in d3: 2 / (2 + 1.5) = 0.571429 (tf saturates: twice the count, not twice the weight)
    _close("lucene tf part of cat in d3", got[1, 3], 2 / 3.5, inputs)
    _close("lucene tf part of the in d1", got[0, 1], 1 / 2.875, inputs)


def weights_limits(fn: Callable) -> None:
    rng = np.random.default_rng(0)
    tf = sp.random(30, 12, density=0.3, random_state=1, format="csr")
    tf.data = rng.integers(1, 6, size=tf.nnz).astype(np.float64)
    doc_len = np.asarray(tf.sum(axis=0)).ravel().astype(np.int64) + rng.integers(0, 5, size=12)
    idf = rng.uniform(0.1, 3.0, size=30)
    dense_tf = tf.toarray()
    inputs = {"tf": "random 30 x 12, counts 1..5", "idf": "uniform(0.1, 3)"}
    got = fn(tf, doc_len, idf, 1.2, 0.0).toarray()
    _close(
        "b = 0: no length normalisation, w = idf tf (k1+1)/(tf+k1)",
        got,
        idf[:, None] * dense_tf * 2.2 / (dense_tf + 1.2),
        {**inputs, "b": 0.0},
    )
    got = fn(tf, doc_len, idf, 0.0, 0.75).toarray()
    _close("k1 = 0: tf is ignored, w = idf where the term occurs", got, idf[:, None] * (dense_tf > 0), inputs)
    # brute force with the full formula
    avgdl = doc_len.mean()
    norm = 1.5 * (1 - 0.75 + 0.75 * doc_len[None, :] / avgdl)
    expected = np.where(dense_tf > 0, idf[:, None] * dense_tf * 2.5 / (dense_tf + norm), 0.0)
    got = fn(tf, doc_len, idf, 1.5, 0.75).toarray()
    _close("random tf matrix against the formula term by term", got, expected, inputs)


def top_k_hand_worked(fn: Callable) -> None:
    ids, scores = np.array([10, 11, 12, 13, 14]), np.array([0.5, 2.0, 0.5, 1.0, 0.5])
    inputs = {"doc_ids": ids.tolist(), "scores": scores.tolist(), "k": 3}
    got_ids, got_scores = fn(ids, scores, 3)
    if isinstance(got_ids, np.ndarray) and got_ids.tolist() in ([11, 13, 14], [11, 13, 12]):
        fail(
            "top-3 ids",
            inputs,
            [11, 13, 10],
            got_ids,
            "the 0.5 tie went to a higher id: ties are broken by the lowest doc id (rank-bm25's get_top_n does the "
            "opposite; ours is documented in the notes)",
        )
    _close("top-3 ids: the 0.5 tie goes to the lowest id, 10", got_ids, [11, 13, 10], inputs)
    _close("top-3 scores", got_scores, [2.0, 1.0, 0.5], inputs)


def top_k_ties_unsorted_ids(fn: Callable) -> None:
    ids, scores = np.array([9, 3, 7, 1, 5]), np.array([1.0, 1.0, 1.0, 1.0, 3.0])
    inputs = {"doc_ids": ids.tolist(), "scores": scores.tolist(), "k": 3}
    got_ids, _ = fn(ids, scores, 3)
    _close("ties among unsorted ids keep the lowest ones, in id order", got_ids, [5, 1, 3], inputs)
    got_ids, got_scores = fn(ids, scores, 10)
    inputs["k"] = 10
    _close("k > n returns every candidate, sorted", got_ids, [5, 1, 3, 7, 9], inputs)
    _close("k > n scores", got_scores, [3.0, 1.0, 1.0, 1.0, 1.0], inputs)


def top_k_matches_full_sort(fn: Callable) -> None:
    rng = np.random.default_rng(7)
    for trial in range(50):
        n = int(rng.integers(1, 60))
        ids = rng.permutation(1000)[:n]
        scores = rng.integers(-3, 4, size=n) / 2.0  # many ties, negatives too
        k = int(rng.integers(1, 70))
        expected = sorted(zip(ids.tolist(), scores.tolist()), key=lambda p: (-p[1], p[0]))[:k]
        got_ids, got_scores = fn(ids, scores, k)
        inputs = {"trial": trial, "doc_ids": ids.tolist(), "scores": scores.tolist(), "k": k}
        _close("ids equal a full sort by (-score, id)", got_ids, [p[0] for p in expected], inputs)
        _close("scores equal a full sort", got_scores, [p[1] for p in expected], inputs)


def top_k_rejects_bad_k(fn: Callable) -> None:
    expect_raises(
        "k = 0",
        lambda: fn(np.array([0, 1]), np.array([1.0, 2.0]), 0),
        ValueError,
        "the docstring asks for it: k < 1 is a caller's bug (an empty top-k would look like 'no results')",
        {"doc_ids": [0, 1], "scores": [1.0, 2.0], "k": 0},
    )


def check_compute_idf(fn: Callable, verbose: bool = True) -> None:
    run_checks("compute_idf", fn, IDF_CHECKS, verbose)


def check_bm25_weights(fn: Callable, verbose: bool = True) -> None:
    run_checks("bm25_weights", fn, WEIGHT_CHECKS, verbose)


def check_top_k(fn: Callable, verbose: bool = True) -> None:
    run_checks("top_k", fn, TOP_K_CHECKS, verbose)


IDF_CHECKS = [idf_okapi_hand_worked, idf_okapi_floor_uses_raw_mean, idf_lucene_hand_worked, idf_edge_cases]
WEIGHT_CHECKS = [weights_hand_worked, weights_lucene_numerator, weights_limits]
TOP_K_CHECKS = [top_k_hand_worked, top_k_ties_unsorted_ids, top_k_matches_full_sort, top_k_rejects_bad_k]

# (module, exercise name) -> checks; tests/checks/__init__.py merges these into REGISTRY
EXERCISE_CHECKS = {
    ("bm25", "compute_idf"): IDF_CHECKS,
    ("bm25", "bm25_weights"): WEIGHT_CHECKS,
    ("bm25", "top_k"): TOP_K_CHECKS,
}
