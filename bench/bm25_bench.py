# Chapter 05 notes: learning_notes/05_agent_rl/README.md#bm25-speed
"""Our BM25 against rank-bm25 and bm25s in one run: index time, single-threaded queries/s, recall@10.

    python bench/bm25_bench.py                                   # 60,000 documents, 1,000 queries
    python bench/bm25_bench.py --docs 60000 --queries 1000 --out bm25_speed.md
    python bench/bm25_bench.py --corpus passages --out bm25_speed_passages.md   # real-length text

The corpus is real text nobody here wrote: docstring paragraphs of the standard library and of the
installed site-packages (bench/build_corpus.py; cached under .build/). All three libraries get the same
token lists from one tokenizer (ours, `minimal_impl.bm25.tokenize`), so tokenization is timed once,
apart. Queries are known-item queries: 4 to 6 distinct tokens drawn from the rarer half (by document
frequency) of a random document's terms; a hit is that document in the top 10. `--corpus passages`:
100-word passages of package descriptions and whole docstrings (50+ tokens each, like wiki-18's), and
queries of 6-7 terms of a random passage, its 2 most common words included, which is where pruning
(`minimal_impl/bm25_maxscore.py`) matters; an ablation table shows what each part of it buys.

Fairness: every library runs single-threaded (BLAS/OpenMP/numba pinned to 1 thread before numpy loads,
bm25s with `n_threads=0`), with k1 = 1.5, b = 0.75 everywhere. Where numba is installed our search runs
compiled loops (`minimal_impl/bm25_jit.py`), so bm25s is timed with both its numpy and its numba backend.
bm25s is timed against our "lucene" mode (same formula, it scores in float32), rank-bm25 against our
"okapi" mode (same formula). rank-bm25 scans every document in Python per query token, so it is timed
on a subset of the queries (--rank-bm25-queries) and the table says so. The main table's searches are
timed in turn, round after round (`interleaved_best`, best of --search-repeats rounds), so that a change
in the shared machine's load does not favour the library that happened to run first; each ablation row
is timed in turn with bm25s's numpy backend (best of --repeats).
Our batched `search` is reported, and also one query per call (no batching).
"""

from __future__ import annotations

import os

# pin every thread pool before numpy / scipy are imported
for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
):
    os.environ[_var] = "1"
os.environ["NUMBA_NUM_THREADS"] = "1"  # bm25s's numba backend runs its queries in a prange: one thread

import argparse  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable  # noqa: E402
from importlib.metadata import version  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from tqdm import tqdm  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.build_corpus import CACHE_DIR, build_corpus, source_summary  # noqa: E402
from minimal_impl import bm25_maxscore as maxscore  # noqa: E402
from minimal_impl.bm25 import BLOCK, BM25, PRUNING, tokenize  # noqa: E402

MIN_DOCS = 50_000  # the acceptance size: below it the run is a smoke test, not a measurement
K = 10


def known_item_queries(corpus: list[list[str]], num: int, seed: int) -> tuple[list[list[str]], np.ndarray]:
    """`num` queries of 4-6 distinct tokens from the rarer half of a random document's terms, and their documents."""
    df = Counter(t for doc in corpus for t in set(doc))
    eligible = [d for d, doc in enumerate(corpus) if len(set(doc)) >= 8]
    if not eligible:
        raise ValueError("no document has 8 distinct terms: the corpus is too small for known-item queries")
    rng = random.Random(seed)
    queries, targets = [], []
    while len(queries) < num:
        d = rng.choice(eligible)
        terms = sorted(set(corpus[d]), key=lambda t: (df[t], t))  # rarest first, ties by spelling
        rare = terms[: len(terms) // 2]
        queries.append(rng.sample(rare, rng.randint(4, min(6, len(rare)))))
        targets.append(d)
    return queries, np.array(targets)


def common_word_queries(corpus: list[list[str]], num: int, seed: int) -> tuple[list[list[str]], np.ndarray]:
    """`num` queries of 6-7 distinct tokens of a random document: its 2 most common terms (by document frequency,
    e.g. "the", "of") and 4-5 of its other terms at random, shuffled; and their documents."""
    df = Counter(t for doc in corpus for t in set(doc))
    eligible = [d for d, doc in enumerate(corpus) if len(set(doc)) >= 12]
    if not eligible:
        raise ValueError("no document has 12 distinct terms: the corpus is too small for these queries")
    rng = random.Random(seed)
    queries, targets = [], []
    while len(queries) < num:
        d = rng.choice(eligible)
        terms = sorted(set(corpus[d]), key=lambda t: (-df[t], t))  # most common first, ties by spelling
        query = terms[:2] + rng.sample(terms[2:], rng.randint(4, 5))
        rng.shuffle(query)
        queries.append(query)
        targets.append(d)
    return queries, np.array(targets)


def maxscore_available_numba() -> bool:
    """Whether numba is installed: our search then runs compiled, and bm25s's numba backend is timed too."""
    from minimal_impl import bm25

    return bm25.NUMBA_INSTALLED


def interleaved_best(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, object]]:
    """Smallest wall time of each function over `repeats` rounds, the functions run in turn within a round.

    The searches compared in one table then meet the same machine load: on a shared VM a whole library
    timed a minute after another can be 40% slower or faster for no reason of its own.
    `interleaved_best({"a": f, "b": g}, 3)` runs f, g, f, g, f, g -> `{"a": (best f s, f()), "b": (...)}`.
    """
    best = {name: (float("inf"), None) for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            out = fn()
            best[name] = (min(best[name][0], time.perf_counter() - start), out)
    return best


def best_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Smallest wall time of `repeats` calls, and the last result (`interleaved_best` of one function)."""
    return interleaved_best({"fn": fn}, repeats)["fn"]


def recall(top_ids: np.ndarray, targets: np.ndarray) -> float:
    """Share of queries whose known item is among their returned ids (`[Q, k]`)."""
    return float(np.mean([t in row for row, t in zip(top_ids, targets)]))


def same_scores(ours: np.ndarray, peer: np.ndarray, rtol: float = 1e-5) -> float:
    """Share of queries whose top-k score lists (`[Q, k]`) agree rank by rank within `rtol`.

    Scores rather than ids: tied documents may come in any order (each library breaks ties its own way).
    """
    return float(np.mean(np.all(np.isclose(ours, peer, rtol=rtol, atol=1e-9), axis=1)))


def run(args: argparse.Namespace) -> tuple[str, int]:
    passages = args.corpus == "passages"
    unit = "passages" if passages else "docstring paragraphs"
    texts, sources = build_corpus(args.docs, seed=args.seed, cache_dir=args.cache_dir, kind=args.corpus)
    if len(texts) < args.docs:
        message = f"only {len(texts):,} {unit} found, {args.docs:,} requested"
        if args.docs >= MIN_DOCS:
            return f"ERROR: {message}; the benchmark needs {MIN_DOCS:,}. Install more packages or lower --docs.", 1
        print(f"WARNING: {message}; continuing with {len(texts):,}", file=sys.stderr)
    start = time.perf_counter()
    corpus = [tokenize(t) for t in tqdm(texts, desc="tokenize", unit="doc", mininterval=1.0)]
    tokenize_s = time.perf_counter() - start
    make_queries = common_word_queries if passages else known_item_queries
    queries, targets = make_queries(corpus, args.queries, args.seed)
    n_docs, n_tokens = len(corpus), sum(map(len, corpus))
    rows: list[dict] = []

    def add_row(
        lib: str, mode: str, index_s: float, seconds: float, top_ids: np.ndarray, note: str, vs: tuple | None = None
    ) -> None:
        """One table row; `vs` is our (index, ids, scores, index s, search s) tuple that the row is compared with."""
        n = len(top_ids)
        rows.append(dict(lib=lib, mode=mode, index=index_s, n=n, qps=n / seconds, note=note, vs=vs,
                         recall=recall(top_ids, targets[:n])))  # fmt: skip

    # every library indexed first; then the searches timed in turn, round after round (interleaved_best)
    import bm25s

    def bm25s_index(backend: str) -> bm25s.BM25:
        retriever = bm25s.BM25(k1=1.5, b=0.75, method="lucene", backend=backend)
        retriever.index(corpus, show_progress=False)
        return retriever

    indexed, searches = {}, {}
    for mode in ("okapi", "lucene"):
        indexed[mode] = best_time(lambda mode=mode: BM25(k1=1.5, b=0.75, idf=mode).index(corpus), args.repeats)
        indexed[mode][1].search(queries[:2], K)  # builds the compiled index, loads the compiled loops: untimed
        searches[mode] = lambda bm25=indexed[mode][1]: bm25.search(queries, K)
    backends = ("numpy", "numba") if maxscore_available_numba() else ("numpy",)
    for backend in backends:
        indexed[backend] = best_time(lambda backend=backend: bm25s_index(backend), args.repeats)
        options = dict(k=K, show_progress=False)
        options |= dict(n_threads=0, backend_selection="numpy") if backend == "numpy" else dict(n_threads=1)
        indexed[backend][1].retrieve(queries[:2], **options)  # numba compiles on its first call: untimed
        searches[backend] = lambda r=indexed[backend][1], o=options: r.retrieve(queries, **o)
    timed = interleaved_best(searches, args.search_repeats)

    # ours, both modes: batched search; then one query per call
    ours = {}
    for mode in ("okapi", "lucene"):
        (index_s, bm25), (search_s, (ids, scores)) = indexed[mode], timed[mode]
        ours[mode] = (bm25, ids, scores, index_s, search_s)
        add_row("ours", mode, index_s, search_s, ids, f"batched `search(queries, 10)`, {bm25.pruning} pruning")
    okapi_index = ours["okapi"][0]
    # ablation: what each pruning and its parts buy, in both modes (same index, same queries; results checked
    # equal); each variant timed in turn with bm25s's numpy backend, whose time its "× bm25s" divides
    ablation = []
    variants = [
        ("plain sparse product (`prune=False`)", False, "maxscore", True, None),
        (
            "compiled loops (numba): one-byte bounds, exact scores of the few that reach theta",
            True,
            "compiled",
            True,
            None,
        ),
        ("MaxScore, no dense rows for common terms", True, "maxscore", False, None),
        ("MaxScore, theta from seed partial scores only", True, "maxscore", True, 0),
        ("MaxScore (per-term bounds)", True, "maxscore", True, None),
        (f"block-max (bounds per block of {BLOCK} documents)", True, "blockmax", True, None),
    ]

    def search_variant(index: BM25, prune: bool, pruning: str, dense: bool, refine: int | None) -> tuple:
        """`index.search` with one ablation variant's settings, restored afterwards."""
        saved = index.dense_fraction, index.pruning, maxscore.REFINE_DOCS
        index.dense_fraction, index._dense = (saved[0] if dense else 0), None
        index.pruning, maxscore.REFINE_DOCS = pruning, (saved[2] if refine is None else refine)
        try:
            return index.search(queries, K, prune=prune)
        finally:
            index.dense_fraction, index.pruning, maxscore.REFINE_DOCS = saved
            index._dense = None

    for mode in ("okapi", "lucene"):
        index = ours[mode][0]
        for label, *variant in variants:  # each variant in turn with its own bm25s runs, next to it in time
            fns = {"bm25s": searches["numpy"], label: lambda v=variant, i=index: search_variant(i, *v)}
            results = interleaved_best(fns, args.repeats)
            prune, pruning, dense, refine = variant
            seconds, (ids, scores) = results[label]
            same = bool(np.allclose(scores, ours[mode][2], rtol=1e-12, atol=0))
            default = prune and pruning == PRUNING[mode] and dense and refine is None
            speedup = results["bm25s"][0] / seconds
            ablation.append(
                (mode, label + (" (the default)" if default else ""), len(queries) / seconds, speedup, same)
            )
    one_q = queries[: args.single_queries]
    single_s, single = best_time(lambda: [okapi_index.search([q], K)[0][0] for q in one_q], args.repeats)
    add_row("ours", "okapi", ours["okapi"][3], single_s, np.array(single), "one query per call")

    # bm25s: numpy backend, single thread, its default "lucene" scoring in float32; then its numba backend
    notes = {"numpy": "numpy backend, `n_threads=0`", "numba": "numba backend (compiled), one thread"}
    for backend in backends:
        (index_s, _), (search_s, res) = indexed[backend], timed[backend]
        add_row(f"bm25s {version('bm25s')}", "lucene", index_s, search_s, np.asarray(res.documents), notes[backend],
                vs=ours["lucene"])  # fmt: skip
        if backend == "numpy":
            agree_bm25s = same_scores(ours["lucene"][2], np.asarray(res.scores))

    # rank-bm25: pure Python full scan, timed on a subset
    from rank_bm25 import BM25Okapi

    start = time.perf_counter()
    okapi = BM25Okapi(corpus)
    index_s = time.perf_counter() - start
    subset = queries[: args.rank_bm25_queries]
    doc_ids = list(range(n_docs))
    start = time.perf_counter()
    slow_ids = np.array([okapi.get_top_n(q, doc_ids, n=K) for q in tqdm(subset, desc="rank-bm25", mininterval=1.0)])
    search_s = time.perf_counter() - start
    note = f"`get_top_n`, first {len(subset)} queries only"
    add_row(f"rank-bm25 {version('rank-bm25')}", "okapi", index_s, search_s, slow_ids, note, vs=ours["okapi"])
    slow_scores = np.array([okapi.get_scores(q)[row] for q, row in zip(subset, slow_ids)])  # untimed
    agree_rank = same_scores(ours["okapi"][2][: len(subset)], slow_scores)

    query_kind = (
        "6-7 terms of a random document: its 2 most common ones and 4-5 others at random"
        if passages
        else "4-6 rare terms of a random document"
    )
    lines = [
        f"Command: `{args.command}`",
        "",
        f"Corpus: {n_docs:,} {unit}, {n_tokens:,} tokens ({n_tokens / n_docs:.1f} per document), "
        f"{len(ours['okapi'][0].vocab):,} distinct terms; "
        f"{source_summary(sources, top=6, unit='passages' if passages else 'paragraphs')}.",
        f"Queries: {len(queries):,} known-item queries ({query_kind}), k = {K}, k1 = 1.5, b = 0.75. "
        f"Tokenization (shared, ours): {tokenize_s:.2f} s for the corpus, not in any row.",
        f"Machine: {platform.machine()} `{platform.processor() or platform.platform()}`, {os.cpu_count()} cores visible, "
        f"single-threaded runs; Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}.",
        "",
        "| library | scoring | index (s) | queries timed | queries/s | recall@10 | ours × faster, queries | ours × faster, index | how |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        ratio_q = ratio_i = "—"
        if row["vs"] is not None:
            _, _, _, our_index, our_search = row["vs"]
            ratio_q = f"**{(len(queries) / our_search) / row['qps']:.1f}×**"
            ratio_i = f"{row['index'] / our_index:.1f}×"
        lines.append(
            f"| {row['lib']} | {row['mode']} | {row['index']:.2f} | {row['n']:,} | {row['qps']:,.0f} | "
            f"{row['recall']:.3f} | {ratio_q} | {ratio_i} | {row['note']} |"
        )
    lines += [
        "",
        "Speed-ups compare like with like: bm25s with our batched lucene row, rank-bm25 with our batched okapi row "
        "(queries: our queries/s ÷ theirs; index: their seconds ÷ ours).",
        "Okapi (rank-bm25's scores) against bm25s: "
        + ", ".join(
            f"**{(len(queries) / ours['okapi'][4]) / row['qps']:.1f}×** its {row['note'].split(' backend')[0]} backend"
            for row in rows
            if row["lib"].startswith("bm25s")
        )
        + ".",
        f"Same top-10 scores as ours, rank by rank (within 1e-5 relative; bm25s scores in float32): "
        f"bm25s {agree_bm25s:.1%} of queries, rank-bm25 {agree_rank:.1%} (first {len(subset)} queries).",
    ]
    lines += [
        "",
        "Ablation (ours, batched, same queries; each row timed in turn with bm25s's numpy backend, which its "
        '"× bm25s" divides; "same": top-10 scores equal to the default\'s within 1e-12):',
        "",
        "| scoring | search | queries/s | × bm25s | same |",
        "| --- | --- | --- | --- | --- |",
    ]
    for mode, label, qps, speedup, same in ablation:
        lines.append(f"| {mode} | {label} | {qps:,.0f} | {speedup:.1f}× | {'yes' if same else 'NO'} |")
    if n_docs < MIN_DOCS:
        lines.append(f"\n**Smoke run: {n_docs:,} documents is below the {MIN_DOCS:,} of a real measurement.**")
    return "\n".join(lines), 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=60_000, help="corpus size (>= 50,000 for a real measurement)")
    parser.add_argument("--queries", type=int, default=1_000, help="known-item queries for ours and bm25s")
    parser.add_argument("--rank-bm25-queries", type=int, default=100, help="subset timed for rank-bm25 (slow)")
    parser.add_argument("--single-queries", type=int, default=300, help="subset for our one-query-per-call row")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs: index times, the ablation")
    parser.add_argument(
        "--search-repeats",
        type=int,
        default=10,
        help="rounds of the main table's searches (ours and bm25s, in turn; each well under a second): best of",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--corpus",
        choices=("paragraphs", "passages"),
        default="paragraphs",
        help="paragraphs: docstring paragraphs (~25 tokens), rare-term queries; passages: 100-word passages "
        "(50+ tokens), 6-7-term queries with common words",
    )
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR, help="where the corpus is cached")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args(argv)
    args.command = " ".join(["python bench/bm25_bench.py", *(sys.argv[1:] if argv is None else argv)])
    counts = (args.docs, args.queries, args.rank_bm25_queries, args.single_queries, args.repeats, args.search_repeats)
    if min(counts) < 1:
        parser.error("--docs, --queries, --rank-bm25-queries, --single-queries and the repeats must be >= 1")
    report, status = run(args)
    print(report)
    if args.out is not None and status == 0:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report + "\n", encoding="utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main())
