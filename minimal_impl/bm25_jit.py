# Chapter 05 notes: learning_notes/05_agent_rl/README.md#bm25-speed-on-real-length-text
"""Exact top k from cheap upper bounds, as compiled loops (numba): bound every document, score a few exactly.

The numpy pruning of `bm25_maxscore.py` and `bm25_blockmax.py` works on blocks of queries as flat
arrays: every step is another pass over every candidate. Here each query is a loop, compiled to machine
code by numba (`@njit`); without numba the same functions run as plain Python (correct, far slower).

The costly terms of a query with common words are the common words themselves ("the" is in 93% of the
passages). Their weights enter only through a one-byte quantized upper bound per (common term, document),
so the 55,000 postings of "the" are never read:

    impact(t, d) = ceil(w(t, d) / step_t) in 0..255,   step_t = max_d w(t, d) / 254,   w <= impact * step

Per query (terms "common" when in >= N / COMMON_FRACTION documents, the others "rare"):
1. Partial scores over the rare terms, posting by posting: acc[d] (float32, rounded up by a slack at
   use); each document that a rare term reaches is listed once.
2. Bounds of the listed documents: bound(d) = acc[d] + sum_common count * impact * step (one-byte loads).
3. Exact scores, highest bound first, from the document's own row of W^T (about 60 terms side by side in
   memory), summed in the query's term order, the order of the plain product `Q @ W`: equal bits. The
   k + FIRST_EXTRA best bounds are scored first; their k-th best exact score is theta, and only a bound
   >= theta is scored after them.
4. A document that no rare term reached scores at most the common terms' largest weights, summed
   (`common_max`). Only when that reaches theta (1-2% of the bench's queries, and queries of common
   words only) are they bounded too, every document from the impact rows alone, and step 3 runs on them.

Exact for the usual reason: a skipped document's upper bound is below a real document's score (with a
relative margin for rounding), so the top k, ties included, is the plain product's. Needs weights >= 0.
Costs memory: W^T (a second copy of the weights, 12 bytes per posting) and C * N bytes of impacts.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

try:
    import numba
except ImportError:  # optional (requirements-dev.txt); without it the loops run as plain Python
    numba = None

AVAILABLE = numba is not None
# step 3 scores the k + FIRST_EXTRA best bounds first (on the passages bench, 4: ~14 exact scores per query
# first, then ~0.06 more; 10: ~20, then ~0.03)
FIRST_EXTRA = 4


def _compiled(fn: Callable) -> Callable:
    """`numba.njit` with an on-disk cache (the first call in a fresh clone compiles, ~15 s; later runs load it)."""
    return numba.njit(cache=True, nogil=True)(fn) if numba is not None else fn


def impact_rows(weights: sp.csr_matrix, min_df: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-byte upper bounds of the weights of the terms in >= min_df documents.

    Returns `slot [V]` (row of each term in the table, -1 if not common), `impact [C, N]` uint8 and
    `step [C]` float64 with w(t, d) <= impact[slot[t], d] * step[slot[t]] for every document (0 where absent).
    For one term with weights [0, 1.0, 2.54] over 3 documents (min_df 1): impact `[[0, 100, 254]]`, step `[0.01]`.
    """
    df = np.diff(weights.indptr)
    common = np.flatnonzero(df >= max(min_df, 1))
    slot = np.full(weights.shape[0], -1, dtype=np.int64)
    slot[common] = np.arange(len(common))
    impact = np.zeros((len(common), weights.shape[1]), dtype=np.uint8)
    step = np.ones(len(common))
    for i, term in enumerate(common.tolist()):
        lo, hi = weights.indptr[term], weights.indptr[term + 1]
        w = np.asarray(weights.data[lo:hi], dtype=np.float64)
        step[i] = max(float(w.max(initial=0.0)) / 254, np.finfo(np.float64).tiny)  # one spare level for rounding
        levels = np.ceil(w / step[i])
        levels += levels * step[i] < w  # where the division rounded one level low
        impact[i, weights.indices[lo:hi]] = np.clip(levels, 0, 255)
    return slot, impact, step


def unsigned(indices: np.ndarray) -> np.ndarray:
    """The same index array viewed as unsigned (no copy), for the compiled loops.

    numba lets a signed index count from the end (`a[-1]`), so every `a[i]` with a signed i carries a check
    for i < 0; an unsigned one does not. On the passages bench that made the whole search about 15% faster.
    `unsigned(np.array([3, 7], dtype=np.int32))` -> `array([3, 7], dtype=uint32)`.
    """
    return indices.view(np.uint32 if indices.dtype.itemsize == 4 else np.uint64)


@_compiled
def insert_top(top_doc: np.ndarray, top_score: np.ndarray, size: int, k: int, doc: int, score: float) -> int:
    """Insert (doc, score) into a list sorted by score descending, then doc ascending, kept at most k long.

    Returns the new size. `top_score = [5.0, 3.0, 0.0]`, size 2, k 3, insert (doc 7, 4.0) -> `[5.0, 4.0, 3.0]`, 3.
    """
    at = size  # slide left past every entry that ranks below the new one
    while at > 0 and (top_score[at - 1] < score or (top_score[at - 1] == score and top_doc[at - 1] > doc)):
        at -= 1
    if at >= k or (at > 0 and top_doc[at - 1] == doc):  # out of the top k, or listed already (seeds may repeat)
        return size
    for j in range(min(size, k - 1), at, -1):
        top_doc[j], top_score[j] = top_doc[j - 1], top_score[j - 1]
    top_doc[at], top_score[at] = doc, score
    return min(size + 1, k)


@_compiled
def next_geq(indices: np.ndarray, lo: int, end: int, doc: int) -> int:
    """The first position p in [lo, end) with indices[p] >= doc (end if none): gallop, then bisect.

    `next_geq(np.array([2, 5, 9, 14]), 0, 4, 9)` -> 2.
    """
    step = 1
    hi = lo
    while hi < end and indices[hi] < doc:  # gallop: the answer lies in lo .. hi
        lo = hi + 1
        hi = lo + step
        step *= 2
    hi = min(hi, end)
    while lo < hi:
        mid = (lo + hi) >> 1
        if indices[mid] < doc:
            lo = mid + 1
        else:
            hi = mid
    return lo


@_compiled
def doc_score(
    doc_indptr: np.ndarray,
    doc_terms: np.ndarray,
    doc_weights: np.ndarray,
    terms: np.ndarray,
    counts: np.ndarray,
    doc: int,
) -> float:
    """sum_j counts[j] * w(terms[j], doc) from the document's own row of W^T (`[N, V]` CSR, terms sorted).

    `terms` sorted ascending: one merge of two sorted lists, summed in the order of `terms` (the order
    of the plain product `Q @ W`), so equal inputs give equal bits. A document row holds ~60 terms
    next to each other in memory; a binary search per query term in W's posting lists would jump.
    """
    score = 0.0
    p, end = doc_indptr[doc], doc_indptr[doc + 1]
    for j in range(len(terms)):
        p = next_geq(doc_terms, p, end, terms[j])  # a whole docstring may hold thousands of terms
        if p < end and doc_terms[p] == terms[j]:
            score += counts[j] * doc_weights[p]
    return score


@_compiled
def top_bounds(values: np.ndarray, num: int, m: int) -> np.ndarray:
    """Positions of the m largest of values[:num], in no particular order (one pass, a small sorted buffer).

    `top_bounds(np.array([3.0, 9.0, 1.0, 7.0]), 4, 2)` -> the positions of 9.0 and 7.0: `{1, 3}`.
    """
    pos = np.empty(m, dtype=np.int64)
    val = np.empty(m)
    size = 0
    for i in range(num):
        v = values[i]
        if size == m and v <= val[m - 1]:
            continue
        at = min(size, m - 1)  # insert v, keeping val sorted descending
        while at > 0 and val[at - 1] < v:
            if at < m:
                pos[at], val[at] = pos[at - 1], val[at - 1]
            at -= 1
        pos[at], val[at] = i, v
        size = min(size + 1, m)
    return pos[:size]


@_compiled
def score_candidates(
    listed: np.ndarray,
    cand_bound: np.ndarray,
    num: int,
    theta: float,
    size: int,
    k: int,
    margin: float,
    doc_indptr: np.ndarray,
    doc_terms: np.ndarray,
    doc_weights: np.ndarray,
    terms: np.ndarray,
    counts: np.ndarray,
    top_doc: np.ndarray,
    top_score: np.ndarray,
) -> int:
    """Step 4: exact scores of the candidates `listed[:num]` (bounds `cand_bound[:num]`) into the top k list.

    The k + FIRST_EXTRA best bounds first: their exact scores give a theta close to the final one; then
    only the candidates whose bound still reaches theta are scored. Returns the new size of the top k list.
    """
    keep = 1.0 - margin
    for i in top_bounds(cand_bound, num, min(k + FIRST_EXTRA, num)):
        s = doc_score(doc_indptr, doc_terms, doc_weights, terms, counts, listed[i])
        if s > 0:
            size = insert_top(top_doc, top_score, size, k, listed[i], s)
        cand_bound[i] = -1.0  # done
    if size == k:
        theta = max(theta, top_score[k - 1])
    for i in range(num):  # (a bound of 0 is a score of 0: never listed)
        if cand_bound[i] > 0 and cand_bound[i] * (1 + margin) >= theta * keep:
            s = doc_score(doc_indptr, doc_terms, doc_weights, terms, counts, listed[i])
            if s > 0:
                size = insert_top(top_doc, top_score, size, k, listed[i], s)
                if size == k:
                    theta = max(theta, top_score[k - 1])
    return size


@_compiled
def bounded_search(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    doc_indptr: np.ndarray,
    doc_terms: np.ndarray,
    doc_weights: np.ndarray,
    max_weight: np.ndarray,
    slot: np.ndarray,
    impact: np.ndarray,
    impact_step: np.ndarray,
    q_indptr: np.ndarray,
    q_terms: np.ndarray,
    q_counts: np.ndarray,
    k: int,
    margin: float,
    out_doc: np.ndarray,
    out_score: np.ndarray,
) -> np.ndarray:
    """Top k of each query (steps 1-4 of the module docstring); returns `[Q]` results found per query.

    Args:
        indptr, indices, data: the `[V, N]` CSR weight matrix W (rows sorted by document, weights >= 0),
            indices `unsigned` (any integer type works; unsigned is faster), N < 2^32.
        doc_indptr, doc_terms, doc_weights: W^T as `[N, V]` CSR (rows sorted by term), for exact scores.
        max_weight: `[V]` largest weight of each term.
        slot, impact, impact_step: `impact_rows(W, ...)`: w(t, d) <= impact[slot[t], d] * impact_step[slot[t]].
        q_indptr, q_terms, q_counts: the `[Q, V]` canonical CSR query-count matrix (terms sorted, distinct).
        k: results per query; margin: relative rounding slack of the bounds.
        out_doc, out_score: `[Q, k]` zeros, filled with each query's top k, best first (ties: lower id).

    A query with fewer than k documents scoring > 0 gets all of them (found < k).
    """
    num_docs = len(doc_indptr) - 1
    # [N] partial scores over the current query's rare terms, in float32: only a bound is needed (exact
    # scores come from W^T), and half the bytes of the array touched at random is the faster step 1
    acc = np.zeros(num_docs, dtype=np.float32)
    listed = np.empty(num_docs, dtype=np.uint32)  # the documents the rare terms reach, each once
    cand_bound = np.empty(num_docs)  # [listed] their bounds
    found = np.zeros(len(q_indptr) - 1, dtype=np.int64)
    keep = 1.0 - margin  # x * (1 + margin) < theta * keep: x is below theta beyond rounding
    for q in range(len(q_indptr) - 1):
        terms = q_terms[q_indptr[q] : q_indptr[q + 1]]
        counts = q_counts[q_indptr[q] : q_indptr[q + 1]]
        n = len(terms)
        if n == 0:
            continue
        top_doc, top_score = out_doc[q], out_score[q]
        rows = np.empty(n, dtype=np.int64)  # the query's common terms: rows of impact, and scales
        scales = np.empty(n)  # count * step: w <= scale * impact
        num_common, common_max, rare_postings = 0, 0.0, 0
        for j in range(n):
            t = terms[j]
            if slot[t] >= 0:
                rows[num_common], scales[num_common] = slot[t], counts[j] * impact_step[slot[t]]
                common_max += counts[j] * max_weight[t]  # the most the common terms add to any score
                num_common += 1
            else:
                rare_postings += indptr[t + 1] - indptr[t]
        if rare_postings > len(listed):  # (only zero weights can list a document twice)
            listed, cand_bound = np.empty(rare_postings, dtype=np.uint32), np.empty(rare_postings)

        # 1. partial scores over the rare terms, posting by posting. A document is listed when first
        # reached: it is always written at listed[num], and num moves on only if acc was 0 (no branch)
        num = 0
        for j in range(n):
            t, c = terms[j], counts[j]
            if slot[t] < 0:
                for p in range(indptr[t], indptr[t + 1]):
                    d = indices[p]
                    listed[num] = d
                    num += acc[d] == 0.0  # (a zero weight may list a document twice: harmless, see insert_top)
                    acc[d] += c * data[p]

        # 2. bounds of the listed documents; the common terms added one row at a time (independent loads
        # the CPU overlaps). Each of acc's <= n float32 additions rounds by <= 2^-24 relative: the slack
        # covers that twice over, so the bound stays >= the exact partial score
        slack = 1.0 + (n + 1) * 2.0**-23
        for i in range(num):
            cand_bound[i] = acc[listed[i]] * slack
            acc[listed[i]] = 0.0  # ready for the next query
        for r in range(num_common):
            row, scale = rows[r], scales[r]
            for i in range(num):
                cand_bound[i] += scale * impact[row, listed[i]]

        # 3. exact scores, best bounds first
        size = score_candidates(
            listed, cand_bound, num, 0.0, 0, k, margin, doc_indptr, doc_terms, doc_weights, terms, counts,
            top_doc, top_score,
        )  # fmt: skip

        # 4. the documents no rare term reached, when the common terms alone may reach theta: every
        # document, bounded by the impact rows (a listed one scored again is kept once by insert_top)
        theta = top_score[k - 1] if size == k else 0.0
        if num_common > 0 and common_max * (1 + margin) >= theta * keep:
            cand_bound[:] = 0.0
            for r in range(num_common):
                row, scale = rows[r], scales[r]
                for d in range(num_docs):
                    cand_bound[d] += scale * impact[row, d]
            for d in range(num_docs):
                listed[d] = d
            size = score_candidates(
                listed, cand_bound, num_docs, theta, size, k, margin, doc_indptr, doc_terms, doc_weights, terms,
                counts, top_doc, top_score,
            )  # fmt: skip
        found[q] = size
    return found


def search_matrices(
    weights: sp.csr_matrix,
    transposed: sp.csr_matrix,
    max_weight: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    queries: sp.csr_matrix,
    *,
    k: int,
    margin: float,
    kernel: Callable | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`bounded_search` (or `kernel`, e.g. its `.py_func`) on scipy matrices: `(found [Q], ids [Q, k], scores [Q, k])`.

    `weights` W `[V, N]`, `transposed` W^T, `rows` = `impact_rows(W, ...)`, `queries` the `[Q, V]` count
    matrix with its duplicates summed and its indices sorted. Rows with found < k list only their scorers.
    """
    ids = np.zeros((queries.shape[0], k), dtype=np.int64)  # [Q, k]
    scores = np.zeros((queries.shape[0], k))  # [Q, k]
    found = (kernel or bounded_search)(
        weights.indptr, unsigned(weights.indices), weights.data,
        transposed.indptr, unsigned(transposed.indices), transposed.data,
        max_weight, *rows,
        queries.indptr, queries.indices.astype(np.int64), queries.data.astype(np.float64),
        k, margin, ids, scores,
    )  # fmt: skip
    return found, ids, scores
