# Chapter 05 notes: learning_notes/05_agent_rl/README.md#bm25-speed-on-real-length-text
"""Block-max pruning for BM25: upper bounds per block of documents, tight enough for common-word queries.

MaxScore (`bm25_maxscore.py`) bounds a term by its largest weight over the whole corpus. With
rank-bm25's okapi idf, "the" and "a" get the floor epsilon * mean(idf) (about 2.5 here), so their
bounds (about 5.8 each) add up to a sizeable part of a 6-term query's k-th best score (about 20):
queries made only of common words ("the a given two python 0") then leave "the" essential, and its
55,000 postings are read in full. The bound is loose because no single document has every term at
its maximum. Cutting the documents into blocks of B consecutive ids and keeping each term's maximum
per block tightens it where it matters: a block without the rare words of the query has a small bound.

    bmax(t, j) = max_{d in block j} w(t, d)          one number per (term, block that contains t)
    ub(q, j)   = sum_{t in q} count(t) * bmax(t, j)   >= score(q, d) for every d in block j

1. theta: a lower bound on each query's k-th best score, from the exact scores of a few seed
   documents (`bm25_maxscore.seed_theta`).
2. Blocks: ub(q, .) for every block is one sparse product [Q, V] @ [V, N / B] (as the plain search
   is [Q, V] @ [V, N], but B times shorter rows for common terms). Blocks with ub < theta are skipped.
   (MaxScore's split does not help here: a non-essential term's global bound, used for every block,
   is looser than its block maxima, so more blocks survive; measured 10x slower.)
3. Candidates: every document of a surviving block; their exact scores are looked up term by term,
   largest bound first, dropping a document as soon as its score so far plus the remaining terms'
   bounds falls below theta (`bm25_maxscore.complete_scores`).

Exact for the same reason as MaxScore: every skipped document's upper bound is strictly below a real
document's score (with a small relative margin for rounding). Needs weights >= 0.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .bm25_maxscore import MARGIN, Dense, complete_scores, query_entries, seed_theta

BLOCK = 4  # documents per block (4 measured fastest of 2, 4, 8, 16, 32 on the passages bench, okapi)


def block_maxima(weights: sp.csr_matrix, block: int = BLOCK) -> sp.csr_matrix:
    """`[V, ceil(N / block)]` CSR float64: the largest weight of each term in each block of `block` documents.

    `block_maxima(sp.csr_matrix(np.array([[1.0, 3.0, 0.0, 2.0]])), 2).toarray()` -> `[[3.0, 2.0]]`.
    """
    num_terms, num_docs = weights.shape
    num_blocks = -(-num_docs // block)
    blocks = weights.indices // block  # [nnz] block of each posting, non-decreasing within a row
    row = np.repeat(np.arange(num_terms), np.diff(weights.indptr))  # [nnz]
    # a new (term, block) run starts where the row or the block changes
    starts = np.flatnonzero(np.r_[True, (np.diff(row) != 0) | (np.diff(blocks) != 0)]) if len(row) else row[:0]
    values = np.maximum.reduceat(weights.data.astype(np.float64), starts) if len(starts) else np.zeros(0)
    indptr = np.searchsorted(row[starts], np.arange(num_terms + 1))  # first run of each row
    return sp.csr_matrix((values, blocks[starts], indptr), shape=(num_terms, num_blocks))


def blockmax_candidates(
    weights: sp.csr_matrix,
    max_weight: np.ndarray,
    maxima: sp.csr_matrix,
    queries: sp.csr_matrix,
    k: int,
    block: int = BLOCK,
    dense: Dense = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The documents that can be in each query's top k, with their exact float64 scores (block-max pruning).

    Args:
        weights: `[V, N]` CSR weight matrix, rows sorted by document, all weights >= 0.
        max_weight: `[V]` largest weight of each term.
        maxima: `block_maxima(weights, block)`.
        queries: `[Q, V]` CSR query-term counts, canonical (one entry per distinct term, sorted).
        k: the number of results the caller will keep.
        dense: `dense_rows(weights, ...)`, for fast lookups of the common terms (optional).

    Returns:
        As `bm25_maxscore.maxscore_candidates`: `query, doc, score` sorted by (query, score descending,
        doc) and `[Q + 1]` offsets; only documents scoring > 0; every document that can reach the top k.
    """
    num_queries, num_docs = queries.shape[0], weights.shape[1]
    margin = MARGIN.get(np.dtype(weights.dtype), 1e-5)
    entries = query_entries(weights, max_weight, queries)
    theta, _, _ = seed_theta(weights, entries, num_queries, k, dense=dense)  # 1.
    bounds = queries.astype(np.float64) @ maxima  # 2. [Q, N / B] ub(q, j), stored where > 0 only
    block_query = np.repeat(np.arange(num_queries), np.diff(bounds.indptr))
    keep = bounds.data * (1 + margin) >= theta[block_query] * (1 - margin)
    block_query, block_id = block_query[keep], bounds.indices[keep].astype(np.int64)
    # 3. every document of a kept block (the last block may be short)
    cand_doc = (block_id[:, None] * block + np.arange(block)).ravel()
    cand_query = np.repeat(block_query, block)
    inside = cand_doc < num_docs
    cand_query, cand_doc = cand_query[inside], cand_doc[inside]
    use = np.ones(len(entries.term), dtype=bool)
    query, doc, score, _ = complete_scores(
        weights, dense, entries, use, theta, cand_query, cand_doc, np.zeros(len(cand_doc))
    )
    positive = score > 0  # documents of a kept block that contain no query term
    query, doc, score = query[positive], doc[positive], score[positive]
    offsets = np.zeros(num_queries + 1, dtype=np.int64)
    np.cumsum(np.bincount(query, minlength=num_queries), out=offsets[1:])
    return query, doc, score, offsets
