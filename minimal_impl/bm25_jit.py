# Chapter 05 notes: learning_notes/05_agent_rl/README.md#bm25-speed-on-real-length-text
"""Exact top k from cheap upper bounds, as compiled loops (numba): bound every document, score a few exactly.

The numpy pruning of `bm25_maxscore.py` and `bm25_blockmax.py` works on blocks of queries as flat
arrays: every step is another pass over every candidate. Here each query is a loop, compiled to machine
code by numba (`@njit`); without numba the same functions run as plain Python (correct, far slower).

The costly terms of a query with common words are the common words themselves ("the" is in 93% of the
passages). Their weights enter only through a one-byte quantized upper bound per (common term, document),
so the 55,000 postings of "the" are never read:

    impact(t, d) = ceil(w(t, d) / step_t) in 0..255,   step_t = max_d w(t, d) / 254,   w <= impact * step

Per query (terms "common" when in >= N / DENSE_FRACTION documents):
1. Partial scores over the other terms, posting by posting: acc[d], exact (float64).
2. theta: exact scores of the first SEED_DOCS documents of the rarest terms (a lower bound on the final
   k-th best score, since they are real documents).
3. Candidates: documents with bound(d) = acc[d] + sum_common count * impact * step >= theta. A document
   that no rare term reached scores at most the common terms' ub sum; when that reaches theta (queries of
   common words only), every document is checked.
4. Exact scores, highest bound first, from the document's own row of W^T (about 60 terms side by side in
   memory), summed in the query's term order, the order of the plain product `Q @ W`: equal bits. Once a
   bound is below the k-th exact score, no later candidate can enter.

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
SEED_DOCS = 64  # step 2 scores the first documents of the rarest terms until there are this many


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

    The 2k best bounds first: their exact scores give a theta close to the final one; then only the
    candidates whose bound still reaches theta are scored. Returns the new size of the top k list.
    """
    keep = 1.0 - margin
    for i in top_bounds(cand_bound, num, min(2 * k, num)):
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
        indptr, indices, data: the `[V, N]` CSR weight matrix W (rows sorted by document, weights >= 0).
        doc_indptr, doc_terms, doc_weights: W^T as `[N, V]` CSR (rows sorted by term), for exact scores.
        max_weight: `[V]` largest weight of each term.
        slot, impact, impact_step: `impact_rows(W, ...)`: w(t, d) <= impact[slot[t], d] * impact_step[slot[t]].
        q_indptr, q_terms, q_counts: the `[Q, V]` canonical CSR query-count matrix (terms sorted, distinct).
        k: results per query; margin: relative rounding slack of the bounds.
        out_doc, out_score: `[Q, k]` zeros, filled with each query's top k, best first (ties: lower id).

    A query with fewer than k documents scoring > 0 gets all of them (found < k).
    """
    num_docs = len(doc_indptr) - 1
    acc = np.zeros(num_docs)  # [N] partial scores over the current query's rare terms
    listed = np.empty(num_docs, dtype=np.int64)  # documents of the rare terms' postings (repeats allowed)
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
        df = np.empty(n, dtype=np.int64)
        for j in range(n):
            t = terms[j]
            df[j] = indptr[t + 1] - indptr[t]
            if slot[t] >= 0:
                rows[num_common], scales[num_common] = slot[t], counts[j] * impact_step[slot[t]]
                common_max += counts[j] * max_weight[t]  # the most the common terms add to any score
                num_common += 1
            else:
                rare_postings += df[j]
        if rare_postings > len(listed):
            listed, cand_bound = np.empty(rare_postings, dtype=np.int64), np.empty(rare_postings)

        # 1. partial scores over the rare terms, posting by posting (exact); every posting's document is
        # listed, without a branch: a document listed twice reads acc = 0 the second time (step 3)
        num = 0
        for j in range(n):
            t, c = terms[j], counts[j]
            if slot[t] < 0:
                for p in range(indptr[t], indptr[t + 1]):
                    listed[num] = indices[p]
                    num += 1
                    acc[indices[p]] += c * data[p]

        # 2. theta: exact scores of the rarest terms' first documents (skipping those whose bound cannot
        # enter the seeds' top k); their k-th best is a lower bound on the final k-th best
        rarest_first = np.argsort(df)
        size, seen = 0, 0
        for r in range(n):
            if seen >= SEED_DOCS:
                break
            t = terms[rarest_first[r]]
            for p in range(indptr[t], min(indptr[t + 1], indptr[t] + SEED_DOCS - seen)):
                d = indices[p]
                b = acc[d]
                for i in range(num_common):
                    b += scales[i] * impact[rows[i], d]
                if size < k or b * (1 + margin) >= top_score[k - 1] * keep:
                    s = doc_score(doc_indptr, doc_terms, doc_weights, terms, counts, d)
                    if s > 0:
                        size = insert_top(top_doc, top_score, size, k, d, s)
            seen += df[rarest_first[r]]
        theta = top_score[k - 1] if size == k else 0.0

        # 3. bounds of the listed documents (every document when the common terms alone may reach theta),
        # the common terms added one row at a time (independent loads the CPU overlaps); keep bound >= theta
        if common_max * (1 + margin) >= theta * keep:
            if num_docs > len(listed):
                listed, cand_bound = np.empty(num_docs, dtype=np.int64), np.empty(num_docs)
            num = num_docs
            for d in range(num_docs):
                listed[d] = d
        for i in range(num):
            cand_bound[i] = acc[listed[i]]
            acc[listed[i]] = 0.0
        for r in range(num_common):
            row, scale = rows[r], scales[r]
            for i in range(num):
                cand_bound[i] += scale * impact[row, listed[i]]
        kept = 0
        for i in range(num):
            if cand_bound[i] * (1 + margin) >= theta * keep:
                listed[kept], cand_bound[kept] = listed[i], cand_bound[i]
                kept += 1

        # 4. exact scores of the candidates, best bounds first
        size = score_candidates(
            listed, cand_bound, kept, theta, size, k, margin, doc_indptr, doc_terms, doc_weights, terms, counts,
            top_doc, top_score,
        )  # fmt: skip
        found[q] = size
    return found
