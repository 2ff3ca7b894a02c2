# Chapter 05 notes: learning_notes/05_agent_rl/README.md#bm25-derived-with-a-worked-example
"""BM25 from scratch: the retriever behind the search tool of the agent in chapter 05.

A document d's score for a query q is a sum over the query's tokens t (repeated tokens count again):

    score(q, d) = sum_{t in q} idf(t) * tf(t,d) * (k1 + 1) / (tf(t,d) + k1 * (1 - b + b * |d| / avgdl))

k1 saturates the term frequency tf, b normalises by document length, idf rewards rare terms.
Two idf variants:
  - "okapi" (rank-bm25's `BM25Okapi`, our oracle): idf = log(N - df + 0.5) - log(df + 0.5), negative
    only when df > N/2; those terms get epsilon * (mean idf over the whole vocabulary) instead.
  - "lucene" (Lucene >= 8, Anserini, Pyserini): idf = log(1 + (N - df + 0.5) / (df + 0.5)), always
    positive; Lucene 8 also dropped the constant (k1 + 1) from the numerator (LUCENE-8563), which
    rescales every score and changes no ranking. We do the same in this mode, so our "lucene" scores
    equal bm25s's `method="lucene"`. Lucene stores document lengths lossily in one byte; we use the
    exact lengths ("accurate Lucene", Kamphuis et al. 2020). Pyserini's defaults are k1 = 0.9, b = 0.4;
    ours (1.5, 0.75) are rank-bm25's.

Speed comes from the data layout. Everything that does not depend on the query is computed once:
the weight w(t, d) of every (term, document) pair is stored in a sparse matrix W of shape [V, N],
one row per term (only the documents that contain it). A query is a sparse count vector over the
vocabulary, and its scores are that vector times W: a sum of a few rows. A batch of queries is one
sparse-times-sparse product [Q, V] @ [V, N] whose result holds, per query, only the documents that
share a term with it; the top k is picked among those, never over a dense [N] array.
Scores are float64 end to end so that they match rank-bm25 to 1e-12, not just in rank order.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .bm25_blockmax import BLOCK, block_maxima, blockmax_candidates
from .bm25_maxscore import MARGIN, dense_rows, max_weights, maxscore_candidates

IDF_MODES = ("okapi", "lucene")
INDEX_FILE = "bm25_index.npz"  # the file inside a directory given to save/load
FORMAT_VERSION = 1
PRUNE_BLOCK = 256  # queries per MaxScore block (bm25_maxscore.py)
PRUNE_MIN_POSTINGS = 20_000  # search(prune=None) prunes from this many posting entries per query on average
DENSE_FRACTION = 8  # pruned search keeps a dense weight row for each term in >= N / DENSE_FRACTION documents
# pruning per idf mode, the fastest on the passages bench (bench/results/bm25_speed_passages.md): compiled
# loops (bm25_jit.py) where numba is installed; else numpy: okapi's idf floor gives "the" a large global
# bound that only per-block bounds tighten; lucene's is already small
NUMPY_PRUNING = {"okapi": "blockmax", "lucene": "maxscore"}
# numba is imported only on the first compiled search (importing it takes 1-2 s: every process would pay)
NUMBA_INSTALLED = importlib.util.find_spec("numba") is not None
PRUNING = {"okapi": "compiled", "lucene": "compiled"} if NUMBA_INSTALLED else NUMPY_PRUNING
COMMON_FRACTION = 4  # compiled search: terms in >= N / 4 documents are bounded by one byte per document
BLOCK_BUDGET = 1 << 22  # max candidate (query, document) pairs scored in one sparse product (memory bound)

_TOKEN = re.compile(r"\w+")  # unicode letters, digits and underscore
STOPWORDS = frozenset(
    "a an and are as at be but by for from has have he her his i if in into is it its me my no not of on "
    "or our she so such than that the their them then there these they this to was we were what when which "
    "who will with you your".split()
)


def tokenize(text: str, stopwords: bool = False) -> list[str]:
    """Lower-cased `\\w+` tokens (unicode aware), optionally without a small English stop-word list.

    Args:
        text: any string.
        stopwords: drop the words in `STOPWORDS` ("the", "of", ...).

    Returns:
        The tokens in order, e.g. `tokenize("The cat's hat")` -> `["the", "cat", "s", "hat"]`.
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a str, got {type(text).__name__}")
    tokens = _TOKEN.findall(text.lower())
    if stopwords:
        tokens = [t for t in tokens if t not in STOPWORDS]
    return tokens


def compute_idf(df: np.ndarray, num_docs: int, mode: str = "okapi", epsilon: float = 0.25) -> np.ndarray:
    """Inverse document frequency of every term from its document frequency.

    Args:
        df: `[V]` number of documents that contain each term (1 <= df <= num_docs).
        num_docs: N, the number of documents.
        mode: "okapi" (rank-bm25) or "lucene".
        epsilon: okapi only: a term with a negative idf gets `epsilon * mean(idf)` instead, where the
            mean is over all V terms, taken before any replacement (rank-bm25's rule).

    Returns:
        `[V]` float64 idf. okapi: `log(N - df + 0.5) - log(df + 0.5)`, exactly 0 when df = N/2;
        lucene: `log(1 + (N - df + 0.5) / (df + 0.5))`, always > 0.
    """
    # EXERCISE difficulty=1 minutes=15
    # HINT: okapi: idf = log(N - df + 0.5) - log(df + 0.5); it is < 0 exactly when df > N/2.
    # HINT: Take the mean over all terms *before* replacing anything, then set every idf < 0 (strictly) to epsilon * mean.
    # HINT: lucene: idf = log(1 + (N - df + 0.5) / (df + 0.5)); np.log1p(x) is log(1 + x). An empty vocabulary gives an empty array.
    if mode not in IDF_MODES:
        raise ValueError(f"unknown idf mode {mode!r}; expected one of {IDF_MODES}")
    df = np.asarray(df, dtype=np.float64)  # [V]
    if mode == "lucene":
        # idf = log(1 + (N - df + 0.5) / (df + 0.5))
        return np.log1p((num_docs - df + 0.5) / (df + 0.5))
    # idf = log((N - df + 0.5) / (df + 0.5)), written as a difference of logs like rank-bm25
    idf = np.log(num_docs - df + 0.5) - np.log(df + 0.5)  # [V]
    if idf.size == 0:
        return idf
    # floor = epsilon * average idf over the vocabulary (negative idfs included in the average)
    floor = epsilon * idf.mean()
    return np.where(idf < 0, floor, idf)


def bm25_weights(
    tf: sp.csr_matrix,
    doc_len: np.ndarray,
    idf: np.ndarray,
    k1: float,
    b: float,
    k1_plus_one: bool = True,
) -> sp.csr_matrix:
    """The BM25 weight of every (term, document) pair that occurs, as a term-major sparse matrix.

    Args:
        tf: `[V, N]` CSR matrix of term counts: row t holds the documents that contain term t.
        doc_len: `[N]` document lengths |d| in tokens.
        idf: `[V]` idf of each term.
        k1: term-frequency saturation (k1 = 0: tf is ignored, large k1: nearly linear in tf).
        b: length normalisation (0: none, 1: tf divided by |d| / avgdl in full).
        k1_plus_one: multiply the numerator by (k1 + 1) (Robertson, rank-bm25); False drops it (Lucene >= 8).

    Returns:
        `[V, N]` CSR matrix with the sparsity pattern of `tf` and values
        `w(t,d) = idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))`, avgdl the mean of doc_len.
    """
    # EXERCISE difficulty=2 minutes=25
    # HINT: A CSR matrix stores its entries in `tf.data`; entry j lies in column `tf.indices[j]` (the document) and in row t for tf.indptr[t] <= j < tf.indptr[t + 1].
    # HINT: np.repeat(idf, np.diff(tf.indptr)) gives the idf of every stored entry's term (row); x[tf.indices] picks a per-document value x for every entry.
    # HINT: Compute all weights at once, vectorised (the length part K once per document), then build sp.csr_matrix((weights, tf.indices, tf.indptr), shape=tf.shape).
    avgdl = doc_len.sum() / max(len(doc_len), 1)  # mean document length
    relative_len = doc_len / avgdl if avgdl > 0 else np.zeros(len(doc_len))  # [N] |d| / avgdl (all 0: no entries)
    norm = k1 * (1 - b + b * relative_len)  # [N] K(d) = k1 * (1 - b + b * |d| / avgdl)
    freq = tf.data.astype(np.float64)  # [nnz] tf(t, d)
    # w = idf(t) * tf * (k1 + 1) / (tf + K(d)), computed in place: a few nnz-sized arrays at the peak, not ten
    weights = freq * (k1 + 1) if k1_plus_one else freq.copy()  # [nnz]
    weights /= freq + norm[tf.indices]
    del freq
    weights *= np.repeat(idf, np.diff(tf.indptr))  # idf of each entry's term (row)
    return sp.csr_matrix((weights, tf.indices.copy(), tf.indptr.copy()), shape=tf.shape)


def top_k(doc_ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (document, score) pairs of a candidate set: highest score first, ties to the lower id.

    Args:
        doc_ids: `[n]` distinct document ids of the candidates.
        scores: `[n]` their scores.
        k: how many to return; k < 1 raises ValueError; fewer come back when n < k.

    Returns:
        `[min(k, n)]` document ids and `[min(k, n)]` scores, ordered by (score descending, id ascending).
        Cost O(n + k log k): a linear-time selection, then a sort of the k survivors only.
    """
    # EXERCISE difficulty=2 minutes=25
    # HINT: Reject k < 1 with a ValueError first. Then find the k-th largest score without sorting everything (np.partition; only when n > k, otherwise every candidate is kept).
    # HINT: Every score strictly above it is in; of the candidates tied with it, keep the ones with the lowest doc ids (np.argpartition on their ids).
    # HINT: Sort the <= k survivors with np.lexsort((ids, -scores)): the last key is the primary one.
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n = len(scores)
    if n > k:
        kth = np.partition(scores, n - k)[n - k]  # the k-th largest score
        above = np.flatnonzero(scores > kth)  # fewer than k of them: all are in
        tied = np.flatnonzero(scores == kth)  # the k - len(above) lowest ids among these are in
        need = k - len(above)
        if len(tied) > need:
            tied = tied[np.argpartition(doc_ids[tied], need - 1)[:need]]
        keep = np.concatenate([above, tied])  # [k]
        doc_ids, scores = doc_ids[keep], scores[keep]
    order = np.lexsort((doc_ids, -scores))  # primary key: score descending; then id ascending
    return doc_ids[order], scores[order]


class BM25:
    """A BM25 index over pre-tokenized documents, matching rank-bm25's `BM25Okapi` in "okapi" mode.

    Usage: `bm25 = BM25().index([tokenize(d) for d in docs]); ids, scores = bm25.search(queries, k=10)`.
    """

    def __init__(self, k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25, idf: str = "okapi") -> None:
        """Args:
        k1: term-frequency saturation, >= 0 (rank-bm25 1.5; Lucene 1.2; Pyserini 0.9).
        b: length normalisation in [0, 1] (rank-bm25 and Lucene 0.75; Pyserini 0.4).
        epsilon: okapi idf floor, as a fraction of the mean idf (rank-bm25 0.25); unused by "lucene".
        idf: "okapi" (rank-bm25) or "lucene" (also drops the (k1 + 1) factor, see the module docstring).
        """
        if idf not in IDF_MODES:
            raise ValueError(f"unknown idf mode {idf!r}; expected one of {IDF_MODES}")
        if not (np.isfinite(k1) and k1 >= 0):
            raise ValueError(f"k1 must be a finite number >= 0, got {k1}")
        if not (np.isfinite(b) and 0 <= b <= 1):
            raise ValueError(f"b must be in [0, 1], got {b}")
        if not np.isfinite(epsilon):
            raise ValueError(f"epsilon must be finite, got {epsilon}")
        self.k1, self.b, self.epsilon, self.idf_mode = float(k1), float(b), float(epsilon), idf
        self.vocab: dict[str, int] = {}  # token -> row of the weight matrix
        self.df = np.zeros(0, dtype=np.int64)  # [V] documents that contain each term
        self.idf = np.zeros(0)  # [V]
        self.doc_len = np.zeros(0, dtype=np.int64)  # [N]
        self.weights: sp.csr_matrix | None = None  # [V, N]
        self._max_weight: np.ndarray | None = None  # [V], computed on first use (see max_weight)
        self._prunable: bool | None = None
        self._dense: tuple[np.ndarray, np.ndarray] | None = None
        self.dense_fraction = DENSE_FRACTION  # 0 or None: no dense rows (less memory, slower pruned search)
        # "compiled" (bm25_jit.py), "blockmax" (bm25_blockmax.py) or "maxscore" (bm25_maxscore.py)
        self.pruning = PRUNING[idf]
        self._block_max: sp.csr_matrix | None = None
        self._compiled: tuple | None = None

    @property
    def num_docs(self) -> int:
        """N, the number of indexed documents (0 before `index`)."""
        return len(self.doc_len)

    @property
    def avgdl(self) -> float:
        """Mean document length in tokens."""
        return float(self.doc_len.sum() / max(self.num_docs, 1))

    def index(self, corpus_tokens: list[list[str]]) -> BM25:
        """Build the index: vocabulary, idf and the [V, N] weight matrix. Replaces any previous index.

        Args:
            corpus_tokens: one list of tokens per document (empty documents are allowed).

        Returns:
            self, so that `BM25().index(docs).search(...)` reads in one line.
        """
        if isinstance(corpus_tokens, str) or not isinstance(corpus_tokens, Sequence):
            raise ValueError("corpus_tokens must be a list of token lists, one per document")
        if len(corpus_tokens) == 0:
            raise ValueError("cannot index an empty corpus: BM25 needs at least one document")
        bad = next((i for i, doc in enumerate(corpus_tokens) if isinstance(doc, str)), None)
        if bad is not None:
            raise ValueError(f"document {bad} is a str, not a list of tokens: pass [tokenize(text) for text in docs]")
        all_tokens = itertools.chain.from_iterable
        # vocabulary in order of first occurrence (dict.fromkeys runs in C, no Python loop per token)
        self.vocab = {token: i for i, token in enumerate(dict.fromkeys(all_tokens(corpus_tokens)))}
        num_terms, num_docs = len(self.vocab), len(corpus_tokens)
        self.doc_len = np.fromiter(map(len, corpus_tokens), dtype=np.int64, count=num_docs)  # [N]
        total = int(self.doc_len.sum())
        ids = np.int32 if max(num_terms, num_docs) < 2**31 else np.int64  # 4 bytes per token where they suffice
        term_ids = np.fromiter(map(self.vocab.__getitem__, all_tokens(corpus_tokens)), dtype=ids, count=total)
        doc_ids = np.repeat(np.arange(num_docs, dtype=ids), self.doc_len)  # [total] document of each token
        # tf[t, d] = count of t in d: COO -> CSR sums the duplicate (t, d) pairs
        ones = np.ones(total, dtype=np.int32)
        tf = sp.csr_matrix((ones, (term_ids, doc_ids)), shape=(num_terms, num_docs))
        del term_ids, doc_ids, ones
        tf.sum_duplicates()
        self.df = np.diff(tf.indptr)  # [V] documents per term = stored entries per row
        self.idf = compute_idf(self.df, num_docs, self.idf_mode, self.epsilon)
        self.weights = bm25_weights(tf, self.doc_len, self.idf, self.k1, self.b, self.idf_mode == "okapi")
        self._max_weight = self._prunable = self._dense = self._block_max = self._compiled = None
        return self

    def _check_ready(self) -> sp.csr_matrix:
        if self.weights is None:
            raise ValueError("the index is empty: call index(corpus_tokens) or BM25.load(path) first")
        return self.weights

    def _query_matrix(self, queries: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """`[Q, V]` sparse query matrix: one entry per known token, so a repeated token adds its row again."""
        for i, query in enumerate(queries):
            if isinstance(query, str):
                raise ValueError(f"query {i} is a str, not a list of tokens: pass tokenize(text)")
        vocab = self.vocab
        rows = [[vocab[t] for t in query if t in vocab] for query in queries]  # unknown tokens score 0: dropped
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=indptr[1:])
        indices = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=int(indptr[-1]))
        # the index's dtype, so that a float32 (compact) index is not copied to float64 by the product
        dtype = self.weights.dtype if self.weights is not None else np.float64
        values = np.ones(len(indices), dtype=dtype)
        return sp.csr_matrix((values, indices, indptr), shape=(len(rows), len(vocab)))

    def get_scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every document for one query.

        Args:
            query_tokens: the query's tokens; repeated tokens count again, unknown ones add 0.

        Returns:
            `[N]` float64 scores (all 0 for an empty or all-unknown query).
        """
        weights = self._check_ready()
        hits = self._query_matrix([query_tokens]) @ weights  # [1, N], sparse: documents sharing a term
        scores = np.zeros(self.num_docs)  # [N]
        scores[hits.indices] = hits.data
        return scores

    def _blocks(self, queries: sp.csr_matrix) -> Iterator[tuple[int, int]]:
        """Split the queries into consecutive blocks whose candidate lists fit in BLOCK_BUDGET entries."""
        postings = self.df[queries.indices]  # [entries] posting-list length of each query token
        if postings.sum() <= BLOCK_BUDGET:  # the usual case: one product for the whole batch
            yield 0, queries.shape[0]
            return
        query_of_entry = np.repeat(np.arange(queries.shape[0]), np.diff(queries.indptr))
        work = np.bincount(query_of_entry, weights=postings, minlength=queries.shape[0])  # [Q] candidates bound
        start, used = 0, 0.0
        for i, cost in enumerate(work.tolist()):
            if used + cost > BLOCK_BUDGET and i > start:
                yield start, i
                start, used = i, 0.0
            used += cost
        yield start, len(work)

    def search(self, queries: list[list[str]], k: int, prune: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The top k documents of each query.

        Args:
            queries: one token list per query.
            k: results per query, >= 1; clamped to N.
            prune: skip the documents that cannot reach the top k (block-max or MaxScore bounds, see
                `self.pruning`, `bm25_blockmax.py`, `bm25_maxscore.py`): the same
                results, faster when queries contain common words of a large corpus. None (default): prune
                when the queries' posting lists hold PRUNE_MIN_POSTINGS entries per query on average (below
                that the plain product is faster); True: always; False: the plain sparse product.

        Returns:
            doc indices `[Q, k]` int64 and scores `[Q, k]` float64, best first, ties broken by the lower
            document index. Documents that share no token with the query score 0 and fill the list in
            index order when fewer than k documents score above 0 (an empty or all-unknown query
            returns documents 0 .. k-1 with score 0).
        """
        weights = self._check_ready()
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k!r}")
        if isinstance(queries, str) or not isinstance(queries, Sequence):
            raise ValueError("queries must be a list of token lists, one per query")
        k = min(int(k), self.num_docs)
        query_matrix = self._query_matrix(queries)  # [Q, V]
        if prune is None:  # mean posting-list entries per query decides
            prune = self.df[query_matrix.indices].sum() >= PRUNE_MIN_POSTINGS * max(len(queries), 1)
        if prune and self.prunable:
            return self._search_pruned(query_matrix, k)
        ids = np.zeros((len(queries), k), dtype=np.int64)  # [Q, k]
        scores = np.zeros((len(queries), k))  # [Q, k]
        for start, stop in self._blocks(query_matrix):
            # scores of a block of queries: [q, V] @ [V, N] -> sparse [q, N], only matching documents stored
            block = query_matrix if stop - start == len(queries) else query_matrix[start:stop]  # [q, V]
            hits = block @ weights  # [q, N]
            for row in range(stop - start):
                lo, hi = hits.indptr[row], hits.indptr[row + 1]
                best_ids, best = top_k(hits.indices[lo:hi], hits.data[lo:hi], k)
                if len(best) < k or best[-1] <= 0:  # rare: documents outside the candidates compete
                    best_ids, best = self._top_k_with_unmatched(hits.indices[lo:hi], hits.data[lo:hi], k)
                ids[start + row], scores[start + row] = best_ids, best
        return ids, scores

    @property
    def prunable(self) -> bool:
        """Whether `search` may prune: MaxScore's bounds need every weight >= 0 (BM25's, unless an okapi idf
        floor is negative)."""
        if self._prunable is None:
            self._prunable = bool(self._check_ready().data.min(initial=0.0) >= 0)
        return self._prunable

    @property
    def max_weight(self) -> np.ndarray:
        """`[V]` largest weight of each term over the documents (MaxScore's per-term upper bound)."""
        if self._max_weight is None:
            weights = self._check_ready()
            self._max_weight = max_weights(weights.data, weights.indptr)
        return self._max_weight

    @property
    def dense(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Dense weight rows of the common terms (`dense_rows`), built on first use; None when disabled."""
        if self._dense is None and self.dense_fraction:
            weights = self._check_ready()
            self._dense = dense_rows(weights, self.num_docs // self.dense_fraction)
        return self._dense

    @property
    def block_max(self) -> sp.csr_matrix:
        """`[V, N / BLOCK]` largest weight of each term per block of BLOCK documents (`block_maxima`), built on first use."""
        if self._block_max is None:
            self._block_max = block_maxima(self._check_ready(), BLOCK)
        return self._block_max

    @property
    def compiled_index(self) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
        """`(W^T, slot, impact, step)` for the compiled search (`bm25_jit.py`), built on first use.

        W^T is a second copy of the weights (12 bytes per posting in float64), impact one byte per
        (document, term in >= N / COMMON_FRACTION documents).
        """
        if self._compiled is None:
            from minimal_impl import bm25_jit  # absolute: exercises/bm25.py, generated from this file, uses ours too

            weights = self._check_ready()
            common = bm25_jit.impact_rows(weights, max(self.num_docs // COMMON_FRACTION, 1))
            self._compiled = (weights.T.tocsr(), *common)
        return self._compiled

    def _search_compiled(self, query_matrix: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
        """`search` through `bm25_jit.bounded_search`: every query in one call of the compiled loop."""
        from minimal_impl import bm25_jit  # absolute: exercises/bm25.py, generated from this file, uses ours too

        weights, (transposed, *rows) = self._check_ready(), self.compiled_index
        query_matrix.sort_indices()  # the kernel sums each score in term order, as the product does
        margin = MARGIN.get(np.dtype(weights.dtype), 1e-5)
        found, ids, scores = bm25_jit.search_matrices(
            weights, transposed, self.max_weight, rows, query_matrix, k=k, margin=margin
        )  # [Q], [Q, k], [Q, k]
        for row in np.flatnonzero(found < k).tolist():  # then every document scoring > 0 is listed
            n = found[row]
            ids[row], scores[row] = self._top_k_with_unmatched(ids[row, :n], scores[row, :n], k)
        return ids, scores

    def _search_pruned(self, query_matrix: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
        """`search` through compiled, block-max or MaxScore pruning; the same results as the product."""
        weights, num_queries = self._check_ready(), query_matrix.shape[0]
        query_matrix.sum_duplicates()  # a repeated token becomes one entry with count 2
        if self.pruning == "compiled":
            return self._search_compiled(query_matrix, k)
        ids = np.zeros((num_queries, k), dtype=np.int64)  # [Q, k]
        scores = np.zeros((num_queries, k))  # [Q, k]
        for start in range(0, num_queries, PRUNE_BLOCK):
            stop = min(start + PRUNE_BLOCK, num_queries)
            block = query_matrix[start:stop]
            if self.pruning == "blockmax":
                found = blockmax_candidates(weights, self.max_weight, self.block_max, block, k, BLOCK, self.dense)
            else:
                found = maxscore_candidates(weights, self.max_weight, block, k, dense=self.dense)
            query, doc, score, offsets = found
            rank = np.arange(len(query)) - offsets[query]  # 0 for each query's best candidate
            top = rank < k
            ids[start + query[top], rank[top]] = doc[top]
            scores[start + query[top], rank[top]] = score[top]
            # fewer than k candidates scoring > 0 (then every candidate is listed): zero scorers come next
            for row in np.flatnonzero((np.diff(offsets) < k) | (scores[start:stop, -1] <= 0)).tolist():
                lo, hi = offsets[row], offsets[row + 1]
                ids[start + row], scores[start + row] = self._top_k_with_unmatched(doc[lo:hi], score[lo:hi], k)
        return ids, scores

    def _top_k_with_unmatched(self, doc_ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top k when fewer than k candidates score > 0: the documents sharing no query term score 0 and
        come next, lowest index first; negative scores (possible under a negative okapi floor) come last.
        """
        positive, negative = scores > 0, scores < 0
        best_ids, best = top_k(doc_ids[positive], scores[positive], k)
        is_zero = np.ones(self.num_docs, dtype=bool)  # [N] score exactly 0
        is_zero[doc_ids[positive | negative]] = False
        zero_ids = np.flatnonzero(is_zero)[: k - len(best)]
        need = k - len(best) - len(zero_ids)
        neg_ids, neg = top_k(doc_ids[negative], scores[negative], need) if need else (doc_ids[:0], scores[:0])
        return np.concatenate([best_ids, zero_ids, neg_ids]), np.concatenate([best, np.zeros(len(zero_ids)), neg])

    def save(self, path: str | Path) -> None:
        """Write the index to `path`: a `.npz` file, or a directory (created) that receives `bm25_index.npz`.

        The vocabulary is stored as UTF-8 bytes plus offsets, so any token string round-trips exactly.
        """
        weights = self._check_ready()
        file = _index_file(Path(path))
        file.parent.mkdir(parents=True, exist_ok=True)
        vocab_bytes, vocab_offsets = encode_vocab(self.vocab)
        np.savez(
            file,
            format_version=np.array(FORMAT_VERSION),
            params=np.array([self.k1, self.b, self.epsilon]),
            idf_mode=np.array(self.idf_mode),
            idf=self.idf,
            doc_len=self.doc_len,
            data=weights.data,
            indices=weights.indices,
            indptr=weights.indptr,
            vocab_bytes=vocab_bytes,
            vocab_offsets=vocab_offsets,
        )

    @classmethod
    def load(cls, path: str | Path) -> BM25:
        """Read an index written by `save` (a `.npz` file or the directory holding `bm25_index.npz`).

        Raises:
            FileNotFoundError: nothing at that path.
            ValueError: the file is not a BM25 index of this format (truncated, corrupt, other data).
        """
        file = _index_file(Path(path))
        if not file.is_file():
            raise FileNotFoundError(f"no BM25 index at {file} (write one with BM25.save)")
        try:
            with np.load(file, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            if int(arrays["format_version"]) != FORMAT_VERSION:
                raise ValueError(f"format version {int(arrays['format_version'])}, expected {FORMAT_VERSION}")
            k1, b, epsilon = (float(x) for x in arrays["params"])
            bm25 = cls(k1=k1, b=b, epsilon=epsilon, idf=str(arrays["idf_mode"]))
            tokens = decode_vocab(arrays["vocab_bytes"], arrays["vocab_offsets"])
            shape = (len(tokens), len(arrays["doc_len"]))
            if len(arrays["idf"]) != shape[0] or len(arrays["indptr"]) != shape[0] + 1:
                raise ValueError("vocabulary, idf and weight matrix sizes disagree")
            bm25.vocab = {token: i for i, token in enumerate(tokens)}
            bm25.idf, bm25.doc_len = arrays["idf"], arrays["doc_len"]
            bm25.weights = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape)
            bm25.df = np.diff(bm25.weights.indptr)
        except (KeyError, ValueError, TypeError, OSError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as err:
            raise ValueError(f"{file} is not a readable BM25 index: {type(err).__name__}: {err}") from err
        return bm25


def encode_vocab(vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """The tokens (in id order) as one UTF-8 byte array plus offsets, so any token string round-trips.

    `encode_vocab({"a": 0, "bc": 1})` -> `(array([97, 98, 99], dtype=uint8), array([0, 1, 3]))`.
    """
    encoded = [token.encode("utf-8", "surrogatepass") for token in vocab]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def decode_vocab(vocab_bytes: np.ndarray, offsets: np.ndarray) -> list[str]:
    """The inverse of `encode_vocab`: the token list, in id order."""
    raw, bounds = np.asarray(vocab_bytes).tobytes(), np.asarray(offsets).tolist()
    return [raw[start:end].decode("utf-8", "surrogatepass") for start, end in zip(bounds[:-1], bounds[1:])]


def _index_file(path: Path) -> Path:
    """A path ending in .npz is the file itself; anything else is a directory holding INDEX_FILE."""
    return path if path.suffix == ".npz" else path / INDEX_FILE
