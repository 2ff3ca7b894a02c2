# Chapter 05 notes: learning_notes/05_agent_rl/README.md#bm25-at-wikipedia-scale
"""BM25 at 100k / 1M / 2M synthetic passages: index time, peak RSS, the memory arithmetic, disk, queries/s.

    python bench/bm25_scale_bench.py --sizes 100000 1000000 2000000    # the table in the chapter 05 notes (~20 min)
    python bench/bm25_scale_bench.py --sizes 2000 --queries 50 --out-dir /tmp/scale   # smoke run, seconds

The corpus is synthetic and deterministic (fixed seed): each passage has 60 to 100 tokens (uniform, mean
80, like wiki-18's 100-word passages) drawn independently from a Zipf law (exponent 1.1) over a vocabulary
of 1,000,000 possible terms. The term ids are drawn with numpy; `BM25.index` takes lists of string
tokens, so each id becomes a short string ("t" + the term's frequency rank, e.g. "t1234"), one shared str
object per term, converted a chunk of passages at a time. The index is built by the project's code path,
`BM25.index`; the compact option is `bm25_scale.save_compact` of that index, served by `load_compact`
(memory-mapped).

Each size runs three fresh subprocesses, one after the other (never two at once):
- build: generate the corpus, `BM25.index` it, save it both ways. Reports wall and CPU time, the peak RSS
  of each phase (VmHWM, reset between phases through /proc/self/clear_refs), the arithmetic
  (`index_memory_bytes`) next to the arrays' measured bytes (`measured_memory_bytes`), and the disk size.
- serve float64: `BM25.load`, a warm-up `search` of 20 queries, then `search` on all the queries, --batch
  (64) per call (single thread, best of --repeats). Search memory grows with batch x N: MaxScore holds the
  candidates of up to 256 queries at once, and with these common-word queries nearly every passage is a
  candidate (12.5 GB for 1,000 queries in one call at 1M: results/bm25_scale_one_call.json).
- serve compact: `load_compact(mmap=True)`, the same queries; also the share of top-10 lists equal to
  float64's.
Queries: 6-7 distinct terms of a random passage, its 2 most common terms (lowest Zipf rank, the "the"
and "of" of this corpus) and 4-5 of its other terms; the same 1,000 for both indexes.
Results merge into --out-dir/bm25_scale.json (one entry per size) and bm25_scale.md is rewritten.
"""

from __future__ import annotations

import os

# pin every thread pool before numpy / scipy are imported (the workers inherit this environment)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from minimal_impl.bm25 import BM25  # noqa: E402
from minimal_impl.bm25_scale import (  # noqa: E402
    index_memory_bytes,
    load_compact,
    measured_memory_bytes,
    save_compact,
)

RESULTS = ROOT / "bench" / "results"
VOCAB = 1_000_000  # possible terms
EXPONENT = 1.1  # Zipf exponent of the term distribution
MIN_LEN, MAX_LEN = 60, 100  # tokens per passage, uniform
CHUNK = 50_000  # passages converted to string tokens at a time
K = 10
WARMUP = 20  # queries searched once, untimed, before the timed runs
MB = 1e6


# ---------------------------------------------------------------- measurement helpers


def _status(field: str) -> int:
    """A memory field of /proc/self/status ("VmRSS", "VmHWM") in bytes."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", text).group(1)) * 1024


def rss() -> int:
    """Resident memory of this process now, bytes."""
    return _status("VmRSS")


def reset_peak() -> None:
    """Start a new peak-RSS window (Linux >= 4.0: writing 5 to clear_refs resets VmHWM to the current RSS)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # the peak then covers the process so far, an upper bound


def peak() -> int:
    """Peak resident memory since the last `reset_peak` (or the process start), bytes."""
    return _status("VmHWM")


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


class Phase:
    """Wall time, CPU time of this process, RSS after and peak RSS of a block: `with Phase(out, "index"): ...`."""

    def __init__(self, out: dict, name: str) -> None:
        self.out, self.name = out, name

    def __enter__(self) -> Phase:
        gc.collect()
        reset_peak()
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.out[self.name] = {
            "wall_s": round(time.perf_counter() - self.wall, 3),
            "cpu_s": round(time.process_time() - self.cpu, 3),
            "peak_rss_bytes": peak(),
            "rss_after_bytes": rss(),
        }


# ---------------------------------------------------------------- corpus and queries


def zipf_cdf(vocab: int = VOCAB, exponent: float = EXPONENT) -> np.ndarray:
    """`[vocab]` cumulative probabilities of ranks 1..vocab under p(r) ∝ r^-exponent."""
    p = np.arange(1, vocab + 1, dtype=np.float64) ** -exponent
    cdf = np.cumsum(p)
    return cdf / cdf[-1]


def synthetic_ids(num_docs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Term ids (0 = the most frequent term) of `num_docs` passages, flat int32, and `[num_docs + 1]` offsets."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(MIN_LEN, MAX_LEN + 1, size=num_docs)
    offsets = np.zeros(num_docs + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    cdf = zipf_cdf()
    ids = np.empty(int(offsets[-1]), dtype=np.int32)
    step = 1 << 24
    for start in range(0, len(ids), step):  # chunks: the uniform draws stay small
        u = rng.random(min(step, len(ids) - start))
        ids[start : start + len(u)] = np.minimum(np.searchsorted(cdf, u, side="right"), VOCAB - 1)
    return ids, offsets


def token_lists(ids: np.ndarray, offsets: np.ndarray) -> list[list[str]]:
    """The passages as lists of string tokens ("t" + id), one shared str object per term."""
    words = np.array([f"t{i}" for i in range(VOCAB)], dtype=object)
    corpus: list[list[str]] = []
    num_docs = len(offsets) - 1
    for start in range(0, num_docs, CHUNK):
        stop = min(start + CHUNK, num_docs)
        base = offsets[start]
        flat = words[ids[base : offsets[stop]]].tolist()
        bounds = (offsets[start : stop + 1] - base).tolist()
        corpus.extend(flat[a:b] for a, b in zip(bounds[:-1], bounds[1:]))
    return corpus


def scale_queries(ids: np.ndarray, offsets: np.ndarray, num: int, seed: int = 1) -> list[list[str]]:
    """`num` queries of 6-7 distinct terms of a random passage: its 2 most common terms and 4-5 others, shuffled."""
    rng = np.random.default_rng(seed)
    queries = []
    while len(queries) < num:
        d = int(rng.integers(len(offsets) - 1))
        terms = np.unique(ids[offsets[d] : offsets[d + 1]])  # sorted: most common (lowest rank) first
        if len(terms) < 12:
            continue
        rest = rng.choice(terms[2:], size=int(rng.integers(4, 6)), replace=False)
        query = [f"t{t}" for t in np.concatenate([terms[:2], rest]).tolist()]
        rng.shuffle(query)
        queries.append(query)
    return queries


# ---------------------------------------------------------------- workers (each in its own subprocess)


def work_build(num_docs: int, workdir: Path, num_queries: int, seed: int) -> dict:
    out: dict = {"docs": num_docs, "baseline_rss_bytes": rss()}
    phases: dict = {}
    with Phase(phases, "generate"):
        ids, offsets = synthetic_ids(num_docs, seed)
        queries = scale_queries(ids, offsets, num_queries, seed + 1)
        corpus = token_lists(ids, offsets)
        out["tokens"] = int(offsets[-1])
        del ids, offsets
    (workdir / "queries.json").write_text(json.dumps(queries))
    out["corpus_rss_bytes"] = rss()
    with Phase(phases, "index"):
        bm25 = BM25().index(corpus)
    del corpus
    gc.collect()
    out["index_only_rss_bytes"] = rss()  # the corpus freed: imports + index + allocator slack
    num_postings, vocab, n = bm25.weights.nnz, len(bm25.vocab), bm25.num_docs
    mean_chars = sum(map(len, bm25.vocab)) / vocab
    out.update(postings=num_postings, vocab=vocab, mean_term_chars=round(mean_chars, 3))
    out["measured_float64"] = measured_memory_bytes(bm25)  # also computes max_weight (kept for pruning)
    out["predicted_float64"] = index_memory_bytes(num_postings, vocab, n, mean_term_chars=mean_chars)
    out["predicted_compact"] = index_memory_bytes(
        num_postings, vocab, n, weight_dtype="float32", mean_term_chars=mean_chars
    )
    with Phase(phases, "save_float64"):
        bm25.save(workdir / "float64")
    with Phase(phases, "save_compact"):
        save_compact(bm25, workdir / "compact")  # converts to float32 first (a copy of the postings)
    out["disk_float64_bytes"] = disk_bytes(workdir / "float64")
    out["disk_compact_bytes"] = disk_bytes(workdir / "compact")
    out["phases"] = phases
    out["peak_rss_bytes"] = max(p["peak_rss_bytes"] for p in phases.values())
    out["maxrss_self_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def search_all(bm25: BM25, queries: list[list[str]], batch: int) -> np.ndarray:
    """Top-k ids of all the queries, `batch` queries per `search` call (0: one call)."""
    if batch <= 0 or batch >= len(queries):
        return bm25.search(queries, K)[0]
    return np.concatenate([bm25.search(queries[i : i + batch], K)[0] for i in range(0, len(queries), batch)])


def work_serve(variant: str, workdir: Path, repeats: int, batch: int = 0) -> dict:
    queries = json.loads((workdir / "queries.json").read_text())
    out: dict = {"variant": variant, "queries": len(queries), "batch": batch, "baseline_rss_bytes": rss()}
    phases: dict = {}
    with Phase(phases, "load"):
        bm25 = BM25.load(workdir / "float64") if variant == "float64" else load_compact(workdir / "compact", mmap=True)
    out["weights_dtype"] = str(bm25.weights.dtype)
    out["index_nbytes"] = measured_memory_bytes(bm25)["total"]
    with Phase(phases, "warmup"):  # builds max_weight and the dense rows, pages the hot postings in
        bm25.search(queries[:WARMUP], K)
    times = []
    for i in range(repeats):
        with Phase(phases, f"search_{i}"):
            ids = search_all(bm25, queries, batch)
        times.append(phases[f"search_{i}"]["wall_s"])
    out["first_search_s"], out["best_search_s"] = times[0], min(times)
    out["queries_per_s"] = round(len(queries) / min(times), 1)
    cpu = min(phases[f"search_{i}"]["cpu_s"] for i in range(repeats))
    out["queries_per_cpu_s"] = round(len(queries) / cpu, 1)  # robust to other processes on the machine
    out["dense_rows_bytes"] = int(bm25.dense[1].nbytes) if bm25._dense is not None else 0
    out["rss_after_queries_bytes"] = rss()
    out["peak_rss_bytes"] = max(_status("VmHWM"), max(p["peak_rss_bytes"] for p in phases.values()))
    out["phases"] = phases
    if variant == "float64":
        np.save(workdir / "top_float64.npy", ids)
    else:
        reference = np.load(workdir / "top_float64.npy")
        out["same_top10_as_float64"] = float(np.mean(np.all(np.sort(ids, 1) == np.sort(reference, 1), axis=1)))
    return out


def run_worker(args: list[str], mem_limit_gb: float) -> dict:
    """Run one worker in a fresh interpreter; its JSON is the last line of its stdout."""

    def limit() -> None:
        if mem_limit_gb > 0:  # address space, a little above the RSS budget: a runaway build fails, not the box
            cap = int(mem_limit_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=limit, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the table


def _mb(x: float) -> str:
    return f"{x / MB:,.0f}"


def queries_per_cpu_s(serve: dict) -> float:
    """Queries per second of the serving process's CPU time, best timed run."""
    cpu = min(v["cpu_s"] for k, v in serve["phases"].items() if k.startswith("search_"))
    return serve["queries"] / cpu


def markdown(results: dict) -> str:
    first = next(iter(results.values()), {})
    baseline = first.get("float64", {}).get("baseline_rss_bytes", 0)
    num_queries = first.get("meta", {}).get("queries", 0)
    lines = [
        "# BM25 at scale: synthetic passages (Zipf 1.1 over 1M terms, 60-100 tokens)",
        "",
        "MB = 10^6 bytes. Build: `BM25.index` of the token lists (wall / CPU seconds, one thread); build peak RSS:",
        "the build process's peak over generating the token lists, `index` and both saves. Predicted: `index_memory_bytes`;",
        "measured: the arrays' bytes (`measured_memory_bytes`). Serving RSS: a fresh process after loading",
        "the index and running the queries (the interpreter with numpy and scipy, about "
        + _mb(baseline)
        + " MB, included; so are",
        f"the dense rows of the common terms); serving peak: the highest RSS while searching. Queries/s: {num_queries:,}",
        "queries of 6-7 terms, single thread, after a warm-up, per second of wall time and per second of the",
        "process's CPU time (the second is robust to other processes sharing the cores).",
        "",
        "| docs | index | postings | build wall s | build CPU s | build peak RSS MB | predicted MB | "
        "measured MB | serving RSS MB | serving peak MB | disk MB | queries/s | queries/CPU-s |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    notes: list[str] = []
    batches: set[int] = set()
    peak_in_index: list[str] = []
    for key in sorted(results, key=int):
        r = results[key]
        docs = f"{int(key):,}"
        if "error" in r.get("build", {}):
            lines.append(f"| {docs} | — | not measured: {r['build']['error']} |" + " |" * 10)
            continue
        b = r["build"]
        idx = b["phases"]["index"]
        for variant, pred_key in (("float64", "predicted_float64"), ("compact", "predicted_compact")):
            s = r.get(variant, {})
            if "error" in s:
                lines.append(f"| {docs} | {variant} | not measured: {s['error']} |" + " |" * 10)
                continue
            name = "float64 in RAM" if variant == "float64" else "compact, mmap"
            build_peak = b["peak_rss_bytes"]
            disk = b["disk_float64_bytes"] if variant == "float64" else b["disk_compact_bytes"]
            lines.append(
                f"| {docs} | {name} | {b['postings']:,} | {idx['wall_s']:.1f} | {idx['cpu_s']:.1f} | "
                f"{_mb(build_peak)} | {_mb(b[pred_key]['total'])} | {_mb(s['index_nbytes'])} | "
                f"{_mb(s['rss_after_queries_bytes'])} | {_mb(s['peak_rss_bytes'])} | {_mb(disk)} | "
                f"{s['queries_per_s']:,.0f} | {queries_per_cpu_s(s):,.0f} |"
            )
            batches.add(s.get("batch", 0))
        if b["peak_rss_bytes"] == idx["peak_rss_bytes"]:
            peak_in_index.append(docs)
        same = r.get("compact", {}).get("same_top10_as_float64")
        if same is not None:
            notes.append(f"{docs}: compact top-10 equal to float64's for {same:.1%} of the queries")
    per_call = ", ".join("all in one call" if n == 0 else f"{n} per `search` call" for n in sorted(batches))
    lines += [
        "",
        "Both rows of a size come from one build: the compact index is `save_compact` of the float64 one. Its",
        "predicted and measured MB count the float32 postings, which stay on disk (memory-mapped) and are paged",
        "in as queries touch them.",
        "",
        f"- queries searched {per_call}",
        f"- the build peak is reached during `BM25.index` at: {', '.join(peak_in_index) or 'none'}",
        *[f"- {n}" for n in notes],
        "",
    ]
    meta = next(iter(results.values()))["meta"] if results else {}
    if meta:
        lines.append(
            f"Machine: {meta['machine']}; Python {meta['python']}, numpy {meta['numpy']}, scipy {meta['scipy']}."
        )
        lines.append("")
    lines += [
        f"Command: `{r['meta']['command']}` ({int(k):,})" for k, r in sorted(results.items(), key=lambda kv: int(kv[0]))
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 2_000_000])
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="timed runs of all the queries per index, after a warm-up (the best is reported)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="where bm25_scale.json / .md go")
    parser.add_argument("--work-dir", type=Path, help="where the indexes are written (default: a temporary dir)")
    parser.add_argument("--mem-limit-gb", type=float, default=14.0, help="address-space cap per worker (0: none)")
    parser.add_argument("--fresh", action="store_true", help="do not merge into an existing bm25_scale.json")
    parser.add_argument("--batch", type=int, default=64, help="queries per search call (0: all in one call)")
    parser.add_argument("--table-only", action="store_true", help="rewrite bm25_scale.md from the JSON, run nothing")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:  # internal: build <docs> <workdir> <queries> <seed> | serve <variant> <workdir> <repeats>
        kind, *rest = args.worker
        if kind == "build":
            result = work_build(int(rest[0]), Path(rest[1]), int(rest[2]), int(rest[3]))
        else:
            result = work_serve(rest[0], Path(rest[1]), int(rest[2]), int(rest[3]) if len(rest) > 3 else 0)
        print(json.dumps(result))
        return 0

    import scipy

    args.out_dir.mkdir(parents=True, exist_ok=True)
    out_json = args.out_dir / "bm25_scale.json"
    if args.table_only:
        (args.out_dir / "bm25_scale.md").write_text(markdown(json.loads(out_json.read_text())))
        return 0
    results = {} if args.fresh or not out_json.exists() else json.loads(out_json.read_text())
    command = "python bench/bm25_scale_bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
    meta = {
        "command": command.strip(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "vocab_possible": VOCAB,
        "zipf_exponent": EXPONENT,
        "doc_tokens": [MIN_LEN, MAX_LEN],
        "seed": args.seed,
        "queries": args.queries,
    }
    status = 0
    for size in args.sizes:
        base = args.work_dir or Path(tempfile.mkdtemp(prefix="bm25_scale_"))
        workdir = base / f"n{size}"
        workdir.mkdir(parents=True, exist_ok=True)
        entry: dict = {"meta": meta}
        print(f"[{size:,}] build ...", flush=True)
        entry["build"] = run_worker(
            ["build", str(size), str(workdir), str(args.queries), str(args.seed)], args.mem_limit_gb
        )
        if "error" not in entry["build"]:
            for variant in ("float64", "compact"):
                print(f"[{size:,}] serve {variant} ...", flush=True)
                serve = ["serve", variant, str(workdir), str(args.repeats), str(args.batch)]
                entry[variant] = run_worker(serve, args.mem_limit_gb)
        else:
            status = 1
        results[str(size)] = entry
        shutil.rmtree(workdir, ignore_errors=True)
        if args.work_dir is None:
            shutil.rmtree(base, ignore_errors=True)
        out_json.write_text(json.dumps(results, indent=1) + "\n")
        (args.out_dir / "bm25_scale.md").write_text(markdown(results))
        print(json.dumps({k: v for k, v in entry.items() if k != "meta"})[:2000], flush=True)
    print(markdown(results))
    return status


if __name__ == "__main__":
    sys.exit(main())
