# Chapter 05 notes: learning_notes/05_agent_rl/README.md#bm25-speed-on-real-length-text
"""Safe pruning for BM25 (MaxScore): skip the long posting lists of common words without changing the top k.

A query like "what is the default timeout of the http client" shares "the", "of" and "is" with most
documents. Summing every query term's row of the weight matrix W `[V, N]` then touches nearly all N
documents, although the top 10 are decided by the rare terms. MaxScore (Turtle & Flood 1995) makes
that skip exact with one number per term, its largest weight:

    ub(t) = count(t in q) * max_d w(t, d)                 an upper bound on what t adds to any score

1. Seeds. Take the query's highest-ub terms (rare ones) until their postings hold a few documents,
   score those documents exactly (all query terms), and let theta be the k-th best score: the true
   k-th best score is at least theta, since those are real documents.
2. Split. Sort the terms by ub; the longest prefix whose ub's add up to less than theta is
   "non-essential": a document that contains none of the other ("essential") terms scores at most
   that sum, below theta, so it cannot be in the top k. Candidates = the essential terms' postings.
3. Filter. A candidate's partial score over the essential terms plus the non-essential ub's bounds
   its score; below theta it is dropped before anything else is read.
4. Complete. The survivors' weights for the non-essential terms are looked up by binary search in
   those terms' (document-sorted) posting lists: a few lookups instead of a scan of N/2 documents.

Every drop compares an upper bound with theta strictly (with a small relative margin for rounding),
and theta never exceeds the true k-th score, so a dropped document scores strictly below the k-th
best: the top k, ties included, is the one the full product gives. It needs weights >= 0 (true for
BM25 unless an okapi idf floor is negative; the caller checks). A query without enough seed documents
gets theta = 0: no pruning, every candidate is scored (the caller's rare path).

Everything runs on a block of queries at once, as flat arrays (no Python loop per query or per
posting): entries are (query, term, count) triples, pairs are (query, document) pairs.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

REFINE_DOCS = 256  # seed documents per query scored exactly to raise theta
SEED_DOCS = 64  # seed entries are added rarest first until their postings hold this many documents
RARE_FRACTION = 64  # seed entries: posting lists of at most N / RARE_FRACTION documents (or k)
MARGIN = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-5}  # relative rounding slack per weight dtype


def max_weights(data: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """`[V]` float64 largest weight of each row of a CSR matrix, floored at 0 (0 for an empty row).

    `max_weights(np.array([1.0, 3.0, 2.0]), np.array([0, 2, 2, 3]))` -> `[3.0, 0.0, 2.0]`.
    """
    lengths = np.diff(indptr)  # [V]
    out = np.zeros(len(lengths))
    nonempty = np.flatnonzero(lengths > 0)
    if len(nonempty):
        # reduceat over each nonempty row's start; rows are contiguous and nonempty, so each segment is one row
        out[nonempty] = np.maximum.reduceat(np.asarray(data, dtype=np.float64), np.asarray(indptr)[nonempty])
    return np.maximum(out, 0.0)


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated `arange(s, s + n)` for every (s, n), without a Python loop.

    `ranges(np.array([10, 20]), np.array([3, 2]))` -> `[10, 11, 12, 20, 21]`.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)  # [n] exclusive end of each run in the output
    # position i of run j holds starts[j] + (i - (ends[j] - lengths[j]))
    shift = np.repeat(np.asarray(starts, dtype=np.int64) - (ends - lengths), lengths)  # [total]
    return shift + np.arange(total)


def dense_rows(weights: sp.csr_matrix, min_df: int) -> tuple[np.ndarray, np.ndarray]:
    """A dense copy of the rows of the terms in at least `min_df` documents: O(1) lookups for common words.

    Returns `slot [V]` (row of each term in the table, -1 if not dense) and `table [n, N]` (the index's
    dtype). It costs n * N * itemsize bytes: for min_df = N / 8, at most 8 rows' worth of N per 8
    dense terms, about as much as those terms' postings take in CSR.
    """
    df = np.diff(weights.indptr)
    common = np.flatnonzero(df >= max(min_df, 1))
    slot = np.full(weights.shape[0], -1, dtype=np.int64)
    slot[common] = np.arange(len(common))
    table = np.zeros((len(common), weights.shape[1]), dtype=weights.dtype)
    for i, term in enumerate(common.tolist()):
        lo, hi = weights.indptr[term], weights.indptr[term + 1]
        table[i, weights.indices[lo:hi]] = weights.data[lo:hi]
    return slot, table


def lookup(
    weights: sp.csr_matrix, terms: np.ndarray, docs: np.ndarray, dense: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """`[P]` float64 weights w(terms[i], docs[i]) of a CSR matrix with sorted rows; 0 where the pair is absent.

    Terms in the `dense` table (`dense_rows`) are read directly. The others are grouped by term; each
    group is one binary search (`np.searchsorted`) of its documents in that term's posting list, so the
    Python loop runs once per distinct term of a block of queries, not once per pair.
    """
    out = np.zeros(len(terms))
    if len(terms) == 0:
        return out
    if dense is not None:
        slot, table = dense
        where = slot[terms]
        direct = where >= 0
        out[direct] = table[where[direct], docs[direct]]
        searched = np.flatnonzero(~direct)
    else:
        searched = np.arange(len(terms))
    order = searched[np.argsort(terms[searched], kind="stable")]
    sorted_terms = terms[order]
    cuts = np.flatnonzero(np.diff(sorted_terms)) + 1
    for lo_pair, hi_pair in zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(order)].tolist()):
        if lo_pair == hi_pair:
            continue
        term = int(sorted_terms[lo_pair])
        lo, hi = int(weights.indptr[term]), int(weights.indptr[term + 1])
        row = weights.indices[lo:hi]  # sorted document ids of the term's postings
        which = order[lo_pair:hi_pair]
        pos = np.searchsorted(row, docs[which])
        found = pos < hi - lo
        found[found] = row[pos[found]] == docs[which][found]
        out[which[found]] = weights.data[lo + pos[found]]
    return out


def _group_starts(group: np.ndarray, num_groups: int) -> np.ndarray:
    """`[G + 1]` start offsets of each group in an array sorted by `group` (values in [0, G))."""
    starts = np.zeros(num_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(group, minlength=num_groups), out=starts[1:])
    return starts


def _cumsum_in_group(values: np.ndarray, starts: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Inclusive running sum of `values` that restarts at each group (`values` sorted by `group`)."""
    total = np.zeros(len(values) + 1)
    np.cumsum(values, out=total[1:])
    return total[1:] - total[starts[group]]


def _partial_scores(
    weights: sp.csr_matrix, num_queries: int, query: np.ndarray, term: np.ndarray, count: np.ndarray
) -> sp.csr_matrix:
    """`[Q, N]` float64 sum of count * W[term] per query over the given entries: one sparse product.

    Only the rows of the entries' terms are gathered (and widened to float64), so a float32 or
    memory-mapped W is never copied whole, and the partial scores are exact float64 sums.
    """
    rows, column = np.unique(term, return_inverse=True)
    sub = weights[rows]  # [R, N], the needed rows only
    if sub.dtype != np.float64:
        sub = sub.astype(np.float64)
    matrix = sp.csr_matrix((count, (query, column)), shape=(num_queries, len(rows)))
    return matrix @ sub


Dense = tuple[np.ndarray, np.ndarray] | None  # (slot [V], table [n, N]) from dense_rows, or None


def _add_lookups(
    weights: sp.csr_matrix,
    dense: Dense,
    entry_start: np.ndarray,
    entry_term: np.ndarray,
    entry_count: np.ndarray,
    use: np.ndarray,
    pair_query: np.ndarray,
    pair_doc: np.ndarray,
) -> np.ndarray:
    """`[P]` for each (query, doc) pair: the sum of count * w over the query's entries selected by `use`."""
    picked = np.flatnonzero(use)  # entry indices, sorted by query
    starts = np.searchsorted(picked, entry_start)  # [Q + 1] runs of picked entries per query
    per_pair = np.diff(starts)[pair_query]
    entry = picked[ranges(starts[pair_query], per_pair)]  # every (pair, picked entry) combination
    pair = np.repeat(np.arange(len(pair_doc)), per_pair)
    w = lookup(weights, entry_term[entry], pair_doc[pair], dense)
    return np.bincount(pair, weights=w * entry_count[entry], minlength=len(pair_doc))


def _kth_best(query: np.ndarray, score: np.ndarray, num_queries: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per query: the order of its candidates by score (descending) and its k-th best score (0 if fewer than k).

    One sort of `query * span - score` (span > every score): the order by query, then by score. Rounding in
    that key may swap two nearly equal scores; the k-th is still a real candidate's score, so a lower bound.
    """
    span = 2.0 * (float(score.max(initial=0.0)) + 1.0)
    order = np.argsort(query * span - score)
    starts = _group_starts(query, num_queries)
    kth = np.zeros(num_queries)
    has_k = np.diff(starts) >= k
    kth[has_k] = score[order[starts[:-1][has_k] + k - 1]]
    return order, kth


class Entries(NamedTuple):
    """A block of queries as flat (query, term, count) entries, sorted by query then term, with per-entry bounds."""

    query: np.ndarray  # [E] query of each entry
    term: np.ndarray  # [E] term (row of W)
    count: np.ndarray  # [E] float64 count of the term in the query
    start: np.ndarray  # [Q + 1] first entry of each query
    ub: np.ndarray  # [E] count * max_d w(term, d): the most the entry adds to any score
    df: np.ndarray  # [E] posting-list length


def query_entries(weights: sp.csr_matrix, max_weight: np.ndarray, queries: sp.csr_matrix) -> Entries:
    """The entries of a canonical `[Q, V]` CSR query-count matrix (one entry per distinct term)."""
    term = queries.indices.astype(np.int64)
    count = queries.data.astype(np.float64)
    return Entries(
        query=np.repeat(np.arange(queries.shape[0]), np.diff(queries.indptr)),
        term=term,
        count=count,
        start=np.asarray(queries.indptr, dtype=np.int64),
        ub=count * max_weight[term],
        df=np.diff(weights.indptr)[term],
    )


def seed_theta(
    weights: sp.csr_matrix, entries: Entries, num_queries: int, k: int, refine: int | None = None, dense: Dense = None
) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix | None]:
    """Steps 1-2: a lower bound theta `[Q]` on each query's k-th best score, from a few exact scores.

    Returns theta (0 where fewer than k seed documents exist), the `[E]` mask of seed entries, and
    the `[Q, N]` partial scores over the seed entries (None when there are no entries).
    """
    e, num_docs = entries, weights.shape[1]
    theta = np.zeros(num_queries)
    seed = np.zeros(len(e.term), dtype=bool)
    if not len(e.term):
        return theta, seed, None
    # 1. seeds: the rare entries, and the rarest ones until their postings hold SEED_DOCS documents
    by_df = np.lexsort((e.df, e.query))  # per query, rarest first
    before = _cumsum_in_group(e.df[by_df], e.start, e.query[by_df]) - e.df[by_df]
    seed[by_df] = before < max(SEED_DOCS, k)  # always the rarest entry (nothing before it)
    seed |= e.df <= max(num_docs // RARE_FRACTION, k)
    hits = _partial_scores(weights, num_queries, e.query[seed], e.term[seed], e.count[seed])
    cand_query = np.repeat(np.arange(num_queries), np.diff(hits.indptr))
    order, theta = _kth_best(cand_query, hits.data, num_queries, k)
    refine = REFINE_DOCS if refine is None else refine
    if refine:  # 2. exact scores of each query's best seed documents: their k-th best is a higher theta
        starts = _group_starts(cand_query, num_queries)
        best = order[np.arange(len(order)) - starts[cand_query[order]] < max(refine, k)]
        full = hits.data[best] + _add_lookups(
            weights, dense, e.start, e.term, e.count, ~seed, cand_query[best], hits.indices[best]
        )
        _, exact_kth = _kth_best(cand_query[best], full, num_queries, k)
        theta = np.maximum(theta, exact_kth)
    return theta, seed, hits


def non_essential_entries(entries: Entries, theta: np.ndarray, margin: float) -> np.ndarray:
    """Step 3: `[E]` mask of each query's non-essential entries, the longest prefix (lowest ub first) whose
    ub's add up to less than theta: a document containing none of the other entries cannot reach theta."""
    e = entries
    asc = np.lexsort((-e.term, e.ub, e.query))  # per query, ub ascending
    cum = _cumsum_in_group(e.ub[asc], e.start, e.query[asc])
    non_essential = np.zeros(len(e.term), dtype=bool)
    non_essential[asc] = cum * (1 + margin) < theta[e.query[asc]] * (1 - margin)
    return non_essential


def complete_scores(
    weights: sp.csr_matrix,
    dense: Dense,
    entries: Entries,
    use: np.ndarray,
    theta: np.ndarray,
    cand_query: np.ndarray,
    cand_doc: np.ndarray,
    score: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Add the entries selected by `use` (`[E]` mask) to the candidates' partial scores, one entry per query
    at a time, largest ub first, dropping every candidate whose score so far plus the ub's still to come
    falls below theta. Returns `query, doc, score` sorted by (query, score descending, doc) and `[Q + 1]` offsets.
    """
    e, num_queries = entries, len(theta)
    margin = MARGIN.get(np.dtype(weights.dtype), 1e-5)
    rest_desc = np.flatnonzero(use)[np.lexsort((e.term[use], -e.ub[use], e.query[use]))]
    rest_query = e.query[rest_desc]
    rest_starts = _group_starts(rest_query, num_queries)
    remaining = np.bincount(rest_query, weights=e.ub[rest_desc], minlength=num_queries)  # [Q]
    step = 0
    while True:
        alive = score * (1 + margin) + remaining[cand_query] >= theta[cand_query] * (1 - margin)
        cand_query, cand_doc, score = cand_query[alive], cand_doc[alive], score[alive]
        has = rest_starts[:-1] + step < rest_starts[1:]  # [Q] queries with a step-th looked-up entry
        if not has.any():
            break
        entry = np.full(num_queries, -1)
        entry[has] = rest_desc[rest_starts[:-1][has] + step]
        pick = np.flatnonzero(has[cand_query])
        picked = entry[cand_query[pick]]
        score[pick] += e.count[picked] * lookup(weights, e.term[picked], cand_doc[pick], dense)
        remaining[has] -= e.ub[entry[has]]
        remaining[has] = np.maximum(remaining[has], 0.0)
        step += 1
    order = np.lexsort((cand_doc, -score, cand_query))
    cand_query, cand_doc, score = cand_query[order], cand_doc[order], score[order]
    return cand_query, cand_doc, score, _group_starts(cand_query, num_queries)


def maxscore_candidates(
    weights: sp.csr_matrix,
    max_weight: np.ndarray,
    queries: sp.csr_matrix,
    k: int,
    prune: bool = True,
    refine: int | None = None,
    dense: Dense = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The documents that can be in each query's top k, with their exact float64 scores.

    Args:
        weights: `[V, N]` CSR weight matrix, rows sorted by document, all weights >= 0 (float64 or float32).
        max_weight: `[V]` `max_weights(weights.data, weights.indptr)`.
        queries: `[Q, V]` CSR query-term counts, canonical (one entry per distinct term, sorted).
        k: the number of results the caller will keep.
        prune: False: theta = 0 everywhere, every candidate is scored (the ablation baseline).
        refine: theta from the exact scores of this many best seed documents per query (0: from their
            seed-only partial scores, also a lower bound, but a lower one).
        dense: `dense_rows(weights, ...)`, for fast lookups of the common terms (optional).

    Returns:
        `query, doc, score` flat `[C]` arrays sorted by (query, score descending, doc ascending), and
        `[Q + 1]` offsets of each query's run. A query with theta > 0 gets every document that can reach
        its top k (at least k of them); a query with theta = 0 gets every document sharing a term with it.
    """
    num_queries, num_docs = queries.shape[0], weights.shape[1]
    margin = MARGIN.get(np.dtype(weights.dtype), 1e-5)
    e = query_entries(weights, max_weight, queries)
    theta, seed, hits = np.zeros(num_queries), np.zeros(len(e.term), dtype=bool), None
    if prune:
        theta, seed, hits = seed_theta(weights, e, num_queries, k, refine, dense)

    non_essential = non_essential_entries(e, theta, margin)  # 3. split
    scan = ~non_essential | seed  # postings read in full (the seeds' already are)

    # 4. candidates: the scanned entries' partial scores
    extra = scan & ~seed
    if extra.any():
        more = _partial_scores(weights, num_queries, e.query[extra], e.term[extra], e.count[extra])
        hits = more if hits is None else hits + more
    if hits is None:
        hits = sp.csr_matrix((num_queries, num_docs))
    cand_query = np.repeat(np.arange(num_queries), np.diff(hits.indptr))

    # 5. complete: look up the other entries for the candidates that can still reach theta
    return complete_scores(
        weights, dense, e, ~scan, theta, cand_query, hits.indices.astype(np.int64), hits.data.astype(np.float64)
    )
