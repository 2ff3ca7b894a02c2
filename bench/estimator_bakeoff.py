# Chapter 08 notes: learning_notes/08_beyond_grpo/README.md#estimator-bake-off-on-the-cpu-search-task
"""The estimators of chapters 03 and 08 side by side on the CPU search task of run_first_training.sh.

    python bench/estimator_bakeoff.py                  # 7 methods x 3 seeds (resumable), then JSON, table, figure
    python bench/estimator_bakeoff.py --report-only    # table and figure from the committed JSON

Every run is `python -m minimal_impl.train --preset tiny_sample_nq` (the same task, model, warm-up and 30-step
budget as `bash run_first_training.sh`) with one method's overrides. The warm-up depends on the seed only, so
it is trained once per seed and copied into the other runs of that seed (the trainer reuses a warm-up that
verifies). Per run the JSON keeps the evaluations, per-step trained tokens and entropy, and the wall and CPU
time (user + system of the run's process, which a busy machine does not inflate the way it does wall time).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

METHODS = {  # name -> overrides of tiny_sample_nq
    "grpo": [],
    "rloo": ["adv_estimator=rloo"],
    "dr_grpo": ["norm_adv_by_std=false", "loss_agg_mode=seq-mean-token-sum-norm"],
    "reinforce_pp_baseline": ["adv_estimator=reinforce_pp_baseline"],
    "gspo": ["policy_loss=gspo", "clip_ratio_low=0.0003", "clip_ratio_high=0.0004", "loss_agg_mode=seq-mean-token-mean"],
    "cispo": ["policy_loss=cispo", "clip_ratio_low=1.0", "clip_ratio_high=0.28"],
    "ppo_gae": ["adv_estimator=gae"],
}  # fmt: skip
REACH = 0.3  # "steps to reach": the first evaluation at or above this accuracy


def run_one(method: str, seed: int, out: Path, threads: int) -> dict:
    """Train one (method, seed) unless its summary exists; return what the report needs."""
    run = out / f"{method}_s{seed}"
    if not (run / "summary.json").exists():
        donor = next((p / "warmup" for p in out.glob(f"*_s{seed}") if (p / "warmup" / "manifest.json").exists()), None)
        shutil.rmtree(run, ignore_errors=True)
        if donor is not None:
            shutil.copytree(donor, run / "warmup")
        cmd = [sys.executable, "-m", "minimal_impl.train", "--preset", "tiny_sample_nq", f"seed={seed}",
               f"output_dir={out}", f"run_name={run.name}", f"num_threads={threads}", *METHODS[method]]  # fmt: skip
        start, cpu = time.time(), resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime  # robust to a busy machine
        (run / "times.json").write_text(json.dumps({"wall_s": round(time.time() - start, 1), "cpu_s": round(cpu_s, 1)}))
    return collect(run, method, seed)


def collect(run: Path, method: str, seed: int) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    baseline = json.loads((run / "baseline_eval.json").read_text())
    evals = [json.loads(p.read_text()) for p in sorted((run / "eval_logs").glob("eval_step_*.json"))]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    steps = [r for r in rows if "reward/mean" in r]
    return {
        "method": method,
        "seed": seed,
        "overrides": METHODS[method],
        "baseline_accuracy": baseline["accuracy"],
        "evals": [{"step": e["step"], "accuracy": e["accuracy"], "search_rate": e["search_rate"]} for e in evals],
        "best_accuracy": summary["best_accuracy"],
        "trained_tokens": [r["tokens/trainable"] for r in steps],
        "entropy": [r.get("actor/entropy") for r in steps],
        "train_time_s": summary["total_time_s"],
        **(json.loads((run / "times.json").read_text()) if (run / "times.json").exists() else {}),
    }


def table(results: list[dict]) -> str:
    """The markdown table: best accuracy mean ± sd, steps to reach REACH, time, tokens, final entropy."""
    lines = [
        f"| method | best eval accuracy (mean ± sd, 3 seeds) | steps to reach {REACH} (per seed) | CPU time per run, s (RL steps and evaluations; the warm-up is shared) | trained tokens / step | final entropy |",
        "| --- | --- | --- | --- | --- | --- |",
    ]  # fmt: skip
    for method in METHODS:
        runs = [r for r in results if r["method"] == method]
        if not runs:
            continue
        best = [r["best_accuracy"] for r in runs]
        reach = [next((e["step"] for e in r["evals"] if e["accuracy"] >= REACH), None) for r in runs]
        tokens = statistics.fmean(statistics.fmean(r["trained_tokens"]) for r in runs)
        entropy = statistics.fmean(r["entropy"][-1] for r in runs if r["entropy"][-1] is not None)
        sd = statistics.stdev(best) if len(best) > 1 else 0.0
        lines.append(
            f"| {method} | {statistics.fmean(best):.3f} ± {sd:.3f} | {', '.join('—' if s is None else str(s) for s in reach)} "
            f"| {statistics.fmean(r.get('cpu_s', r['train_time_s']) for r in runs):.0f} | {tokens:.0f} | {entropy:.3f} |"
        )  # fmt: skip
    return "\n".join(lines)


def figure(results: list[dict], path: Path) -> None:
    """Eval accuracy per step, the mean of the seeds with a band from their min to their max."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for method in METHODS:
        runs = [r for r in results if r["method"] == method]
        if not runs:
            continue
        steps = [0] + [e["step"] for e in runs[0]["evals"]]
        curves = [[r["baseline_accuracy"]] + [e["accuracy"] for e in r["evals"]] for r in runs]
        n = min(len(c) for c in curves)
        mean = [statistics.fmean(c[i] for c in curves) for i in range(n)]
        line = ax.plot(steps[:n], mean, "o-", ms=3, label=method)[0]
        lows, highs = [min(c[i] for c in curves) for i in range(n)], [max(c[i] for c in curves) for i in range(n)]
        ax.fill_between(steps[:n], lows, highs, color=line.get_color(), alpha=0.12)
    ax.set_xlabel("RL step")
    ax.set_ylabel("eval accuracy (greedy, 187 held-out questions)")
    ax.set_title(f"tiny_sample_nq: {len(results) // max(len(METHODS), 1)} seeds per method (band: min to max)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bakeoff", help="where the runs go")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per run (the committed results: 1, three seeds side by side)",
    )
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "estimator_bakeoff.json")
    parser.add_argument(
        "--figure", type=Path, default=ROOT / "learning_notes" / "08_beyond_grpo" / "figures" / "bakeoff.png"
    )
    parser.add_argument("--report-only", action="store_true", help="table and figure from --json, no training")
    args = parser.parse_args(argv)
    if args.report_only:
        results = json.loads(args.json.read_text())["runs"]
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        results = []
        for seed in args.seeds:  # seed-major: the first run of a seed trains the warm-up the others copy
            for method in args.methods:
                print(f"[bakeoff] {method} seed {seed}", flush=True)
                results.append(run_one(method, seed, args.out, args.threads))
        payload = {"task": "tiny_sample_nq (run_first_training.sh's preset), 30 RL steps", "reach": REACH,
                   "machine": f"{subprocess.getoutput('nproc')} cores", "threads": args.threads, "runs": results}  # fmt: skip
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1) + "\n")
    figure(results, args.figure)
    report = table(results)
    command = "python bench/estimator_bakeoff.py" + ("" if args.seeds == [0, 1, 2] else f" --seeds {args.seeds}")
    args.json.with_suffix(".md").write_text(f"Command: `{command}`\n\n{report}\n")
    print(report)
    print(f"figure: {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
