# Chapter 05 notes: learning_notes/05_agent_rl/README.md#bm25-derived-with-a-worked-example
"""BM25 against oracles: rank-bm25's BM25Okapi ("okapi") and bm25s ("lucene") on real text, plus edge cases.

The real-text corpus is 3,000 docstring paragraphs of the installed standard library (bench/build_corpus.py,
seeded, so the same on every run of one Python version); nobody in this repository wrote it.
Top-10 lists are compared with rank-bm25's `get_top_n` rank by rank wherever the oracle's score at that
rank belongs to one document only. Tied documents (often score 0, when fewer than 10 documents match)
are ordered by *higher* index first in rank-bm25 (a reversed argsort) and by lower index first in ours,
so there we check our documented rule against the oracle's scores instead.
"""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.build_corpus import collect, source_roots
from minimal_impl.bm25 import tokenize

rank_bm25 = pytest.importorskip("rank_bm25", reason="rank-bm25 is the oracle (requirements-dev.txt)")

NOTES_DOCS = ["The cat sat", "The dog barked loudly", "The mat", "Cat chases cat"]
NOTES_QUERY = ["the", "cat", "sat"]
REL_TOL = 1e-9


def _notes_corpus() -> list[list[str]]:
    return [tokenize(d) for d in NOTES_DOCS]


@pytest.fixture(scope="module")
def corpus() -> list[list[str]]:
    stdlib = [root for root in source_roots() if root[0] == "stdlib"]
    texts, _ = collect(stdlib, limit=3000, seed=0)
    assert len(texts) == 3000, f"the standard library gave only {len(texts)} docstring paragraphs"
    return [tokenize(t) for t in texts]


@pytest.fixture(scope="module")
def queries(corpus: list[list[str]]) -> list[list[str]]:
    """Deterministic queries: tokens of random documents (repeats possible), unknown tokens, stop words."""
    rng = random.Random(0)
    out = []
    for _ in range(240):
        doc = corpus[rng.randrange(len(corpus))]
        out.append([rng.choice(doc) for _ in range(rng.randint(1, 6))])  # with replacement: repeats
    for i in range(40):
        doc = corpus[rng.randrange(len(corpus))]
        out.append([f"zzunknown{i}", *rng.sample(doc, min(3, len(doc)))])
    out += [["the", "of", "the", "and"], ["return", "return"], ["zzunknown"], [], ["the"] * 5]
    return out


def _max_rel_error(got: np.ndarray, ref: np.ndarray) -> float:
    scale = np.maximum(np.abs(ref), 1e-300)
    return float(np.max(np.abs(got - ref) / scale)) if len(ref) else 0.0


def _brute_force_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """The ranking `search` promises: score descending, then document index ascending."""
    return np.lexsort((np.arange(len(scores)), -scores))[:k]


def test_hand_worked_example_of_the_notes(impl) -> None:
    okapi = impl.bm25.BM25().index(_notes_corpus())
    # notes: d0 = floor 0.132390 + sat 0.847298; d1, d2 = floor x tf part; d3: cat has idf 0
    np.testing.assert_allclose(okapi.get_scores(NOTES_QUERY), [0.979688, 0.115122, 0.155753, 0.0], atol=1e-6)
    ids, scores = okapi.search([NOTES_QUERY], k=4)
    assert ids.tolist() == [[0, 2, 1, 3]]
    oracle = rank_bm25.BM25Okapi(_notes_corpus())
    np.testing.assert_allclose(okapi.get_scores(NOTES_QUERY), oracle.get_scores(NOTES_QUERY), rtol=REL_TOL, atol=0)
    lucene = impl.bm25.BM25(idf="lucene").index(_notes_corpus())
    # notes: 0.4 x (log(10/7) + log 2 + log(10/3)); d3: log 2 x 2/3.5
    np.testing.assert_allclose(lucene.get_scores(NOTES_QUERY), [0.901518, 0.124061, 0.167847, 0.396084], atol=1e-6)
    assert lucene.search([NOTES_QUERY], k=4)[0].tolist() == [[0, 3, 2, 1]]


def test_okapi_scores_match_rank_bm25_on_real_text(impl, corpus, queries) -> None:
    ours = impl.bm25.BM25().index(corpus)
    oracle = rank_bm25.BM25Okapi(corpus)
    assert ours.num_docs == oracle.corpus_size == 3000
    np.testing.assert_allclose(ours.idf, [oracle.idf[t] for t in ours.vocab], rtol=REL_TOL, atol=0)
    worst = 0.0
    for query in queries:
        got, ref = ours.get_scores(query), oracle.get_scores(query)
        assert got.shape == (3000,) and got.dtype == np.float64
        np.testing.assert_allclose(got, ref, rtol=REL_TOL, atol=0, err_msg=f"query {query}")
        worst = max(worst, _max_rel_error(got, ref))
    print(f"okapi vs rank-bm25: {len(queries)} queries x 3000 docs, max relative error {worst:.2e}")


@pytest.mark.parametrize("prune", [False, True], ids=["product", "maxscore"])
def test_top10_matches_rank_bm25_get_top_n(impl, corpus, queries, prune: bool) -> None:
    ours = impl.bm25.BM25().index(corpus)
    oracle = rank_bm25.BM25Okapi(corpus)
    ids, scores = ours.search(queries, k=10, prune=prune)
    assert ids.shape == scores.shape == (len(queries), 10) and ids.dtype == np.int64
    unique_ranks = 0
    for q, query in enumerate(queries):
        ref_scores = oracle.get_scores(query)
        ref_top = oracle.get_top_n(query, list(range(len(corpus))), n=10)
        top10 = np.sort(ref_scores)[::-1][:10]
        np.testing.assert_allclose(scores[q], top10, rtol=REL_TOL, atol=0)
        for rank in range(10):
            if np.count_nonzero(ref_scores == top10[rank]) == 1:  # a score no other document has
                assert ids[q, rank] == ref_top[rank], f"query {query}, rank {rank}"
                unique_ranks += 1
        # tied scores (often 0: fewer than 10 documents match): our rule, lower index first
        assert ids[q].tolist() == _brute_force_top_k(ref_scores, 10).tolist(), f"query {query}"
    assert unique_ranks > 5 * len(queries), f"only {unique_ranks} untied ranks: the test lost its power"


def test_lucene_scores_match_bm25s(impl, corpus, queries) -> None:
    bm25s = pytest.importorskip("bm25s", reason="bm25s is the oracle of the lucene variant (requirements-dev.txt)")
    ours = impl.bm25.BM25(k1=1.2, b=0.75, idf="lucene").index(corpus)
    peer = bm25s.BM25(k1=1.2, b=0.75, method="lucene", dtype="float64")
    peer.index(corpus, show_progress=False)
    for query in queries:
        if not any(t in ours.vocab for t in query):
            assert not ours.get_scores(query).any()
            continue  # bm25s rejects queries with no known token
        np.testing.assert_allclose(ours.get_scores(query), peer.get_scores(query), rtol=REL_TOL, atol=0)


small_corpora = st.lists(st.lists(st.sampled_from("abcd"), max_size=6), min_size=1, max_size=9).filter(
    lambda docs: any(docs)  # rank-bm25 divides by avgdl = 0 when every document is empty
)


@given(docs=small_corpora, query=st.lists(st.sampled_from("abcdz"), max_size=5), k=st.integers(1, 12))
def test_tiny_vocabulary_epsilon_floor_and_ranking(impl, docs, query, k) -> None:
    """Four words in up to nine documents: df = N/2 (idf 0), df > N/2 (floored), negative mean idf."""
    ours = impl.bm25.BM25().index(docs)
    got = ours.get_scores(query)
    ref = rank_bm25.BM25Okapi(docs).get_scores(query)
    np.testing.assert_allclose(got, ref, rtol=REL_TOL, atol=1e-12 * max(1.0, float(np.abs(ref).max())))
    ids, scores = ours.search([query], k)
    expected = _brute_force_top_k(got, k)
    assert ids[0].tolist() == expected.tolist(), f"scores {got.tolist()}"
    np.testing.assert_array_equal(scores[0], got[expected])


def test_df_half_gives_zero_idf_and_more_than_half_is_floored(impl) -> None:
    docs = [["x", "y"], ["x", "z"], ["w"], ["v"]]  # x in 2 of 4 documents, no term in more than half
    bm25 = impl.bm25.BM25().index(docs)
    assert bm25.idf[bm25.vocab["x"]] == 0.0
    assert not bm25.get_scores(["x"]).any()
    docs = [["x"], ["x"], ["x", "y"], ["z"]]  # x in 3 of 4: raw idf log(1.5/3.5) = -L < 0; y, z: +L
    bm25 = impl.bm25.BM25(epsilon=0.25).index(docs)
    raw = np.log(3.5 / 1.5)
    assert bm25.idf[bm25.vocab["x"]] == pytest.approx(0.25 * (-raw + 2 * raw) / 3)  # eps * mean of the raw idfs
    ids, scores = bm25.search([["x"]], k=4)  # floored idf > 0: shorter documents first, "z" last with 0
    assert ids.tolist() == [[0, 1, 2, 3]] and scores[0, 0] == scores[0, 1] > scores[0, 2] > scores[0, 3] == 0


def test_search_edge_cases(impl) -> None:
    bm25 = impl.bm25.BM25().index([*_notes_corpus(), []])  # an empty document is fine
    ids, scores = bm25.search([["chases"], [], ["unknown", "words"]], k=50)  # k > N is clamped
    assert ids.shape == scores.shape == (3, 5)
    assert ids[0].tolist() == [3, 0, 1, 2, 4] and scores[0, 0] > 0 and not scores[0, 1:].any()  # 0s in index order
    assert ids[1].tolist() == ids[2].tolist() == [0, 1, 2, 3, 4] and not scores[1:].any()
    ids, scores = bm25.search([NOTES_QUERY], k=5)
    assert ids[0].tolist() == _brute_force_top_k(bm25.get_scores(NOTES_QUERY), 5).tolist() and ids[0, -1] == 4
    assert bm25.search([], k=3)[0].shape == (0, 3)
    for bad_k in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k must be"):
            bm25.search([NOTES_QUERY], k=bad_k)
    with pytest.raises(ValueError, match="is a str"):
        bm25.search(["the cat"], k=1)
    with pytest.raises(ValueError, match="empty corpus"):
        impl.bm25.BM25().index([])
    with pytest.raises(ValueError, match="is a str"):
        impl.bm25.BM25().index(NOTES_DOCS)
    with pytest.raises(ValueError, match="call index"):
        impl.bm25.BM25().search([NOTES_QUERY], k=1)
    with pytest.raises(ValueError, match="idf mode"):
        impl.bm25.BM25(idf="tfidf")
    only_empty = impl.bm25.BM25().index([[], []])  # no vocabulary at all: every score is 0
    assert only_empty.search([["a"]], k=2)[0].tolist() == [[0, 1]]


def test_negative_scores_rank_below_unmatched_documents(impl) -> None:
    # every term is in more than half of the documents: the mean idf and hence the floor are negative
    docs = [["a", "b"], ["a", "b"], ["a", "b"], ["a"], []]
    bm25 = impl.bm25.BM25().index(docs)
    scores = bm25.get_scores(["a"])
    assert (scores[:4] < 0).all() and scores[4] == 0
    ids, _ = bm25.search([["a"]], k=5)
    assert ids[0, 0] == 4, "the document without the term (score 0) must rank first"
    assert ids[0].tolist() == _brute_force_top_k(scores, 5).tolist()


def test_blocked_batch_equals_one_query_at_a_time(impl, corpus, queries, monkeypatch) -> None:
    bm25 = impl.bm25.BM25().index(corpus)
    whole_ids, whole_scores = bm25.search(queries, k=7)
    monkeypatch.setattr(impl.bm25, "BLOCK_BUDGET", 500)  # many small blocks
    ids, scores = bm25.search(queries, k=7)
    np.testing.assert_array_equal(ids, whole_ids)
    np.testing.assert_array_equal(scores, whole_scores)
    for q in range(0, len(queries), 37):
        one_ids, one_scores = bm25.search([queries[q]], k=7)
        np.testing.assert_array_equal(one_ids[0], whole_ids[q])
        np.testing.assert_allclose(one_scores[0], bm25.get_scores(queries[q])[one_ids[0]], rtol=0, atol=0)


def test_tokenize_then_index(impl) -> None:
    assert impl.bm25.tokenize("The cat's hat, naïve Café 数据!") == ["the", "cat", "s", "hat", "naïve", "café", "数据"]
    assert impl.bm25.tokenize("The cat of the hat", stopwords=True) == ["cat", "hat"]
    docs = [impl.bm25.tokenize(d) for d in NOTES_DOCS]
    ids, _ = impl.bm25.BM25().index(docs).search([impl.bm25.tokenize("THE CAT SAT!")], k=1)
    assert ids.tolist() == [[0]]


@pytest.mark.parametrize("target", ["index_dir", "index.npz"])
def test_save_load_round_trip(impl, corpus, queries, tmp_path: Path, target: str) -> None:
    bm25 = impl.bm25.BM25(k1=1.2, b=0.6, epsilon=0.3, idf="okapi").index([*corpus, ["naïve", "数据", "a b", "x\ny"]])
    bm25.save(tmp_path / target)
    loaded = impl.bm25.BM25.load(tmp_path / target)
    assert (loaded.k1, loaded.b, loaded.epsilon, loaded.idf_mode) == (1.2, 0.6, 0.3, "okapi")
    assert loaded.vocab == bm25.vocab and loaded.num_docs == bm25.num_docs
    np.testing.assert_array_equal(loaded.idf, bm25.idf)
    np.testing.assert_array_equal(loaded.doc_len, bm25.doc_len)
    for before, after in zip(bm25.search(queries, k=10), loaded.search(queries, k=10)):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(loaded.get_scores(["数据", "x\ny"]), bm25.get_scores(["数据", "x\ny"]))


def test_load_reports_missing_and_corrupt_files(impl, tmp_path: Path) -> None:
    bm25 = impl.bm25.BM25().index(_notes_corpus())
    with pytest.raises(FileNotFoundError, match="no BM25 index"):
        impl.bm25.BM25.load(tmp_path / "nothing_here")
    bm25.save(tmp_path / "good.npz")
    data = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.npz").write_bytes(b"not an index at all" * 10)
    np.savez(tmp_path / "other.npz", weights=np.ones(3))
    with zipfile.ZipFile(tmp_path / "good.npz") as src, zipfile.ZipFile(tmp_path / "mismatch.npz", "w") as dst:
        for name in src.namelist():  # a consistent-looking file whose idf is one term short
            content = src.read(name)
            if name == "idf.npy":
                buffer = io.BytesIO()
                np.save(buffer, np.ones(len(bm25.vocab) - 1))
                content = buffer.getvalue()
            dst.writestr(name, content)
    for name in ("truncated.npz", "garbage.npz", "other.npz", "mismatch.npz"):
        with pytest.raises(ValueError, match="not a readable BM25 index"):
            impl.bm25.BM25.load(tmp_path / name)
    with pytest.raises(ValueError, match="call index"):
        impl.bm25.BM25().save(tmp_path / "empty.npz")
