# Chapter 06 notes: learning_notes/06_training_engineering/README.md#the-first-training-run-three-seeds
"""Collect the curves of finished runs into one small JSON file that the chapter 06 notebook plots.

    python scripts/collect_runs.py runs/seeds_s0 runs/seeds_s1 runs/seeds_s2 --label "tiny_sample_nq" \\
        --out learning_notes/06_training_engineering/seed_runs.json [--append]

Per run: its seed, the baseline evaluation, every evaluation (accuracy, search rate, found_correct_doc),
the per-step training reward and search rate, the wall-clock time and the summary.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EVAL_KEYS = ("accuracy", "search_rate", "found_correct_doc", "total_samples", "avg_search_attempts")


def collect(run_dir: Path, label: str) -> dict:
    config = json.loads((run_dir / "config.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    baseline = json.loads((run_dir / "baseline_eval.json").read_text())
    evals = [json.loads(p.read_text()) for p in sorted((run_dir / "eval_logs").glob("eval_step_*.json"))]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    steps = [r for r in rows if "reward/mean" in r]
    return {
        "label": label,
        "run": run_dir.name,
        "seed": config["seed"],
        "mask_tool_output": config["mask_tool_output"],
        "impl": config.get("impl", "minimal_impl"),
        "failing_checks": summary.get("implementation", {}).get("checks", {}).get("FAIL", []),
        "summary": summary,
        "baseline": {k: baseline[k] for k in EVAL_KEYS},
        "evals": [{"step": e["step"], **{k: e[k] for k in EVAL_KEYS}} for e in evals],
        "train": [
            {
                "step": r["step"],
                "reward": r["reward/mean"],
                "search_rate": r["search/rate"],
                "entropy": r.get("actor/entropy"),
            }
            for r in steps
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--label", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--append", action="store_true", help="add to the runs already in --out")
    args = parser.parse_args(argv)
    existing = json.loads(args.out.read_text()) if args.append and args.out.exists() else []
    try:
        collected = [collect(run, args.label) for run in args.runs]
    except (OSError, KeyError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    args.out.write_text(json.dumps(existing + collected, indent=1) + "\n", encoding="utf-8")
    for run in collected:
        s = run["summary"]
        print(
            f"{run['run']}: seed {run['seed']}, baseline {s['baseline_accuracy']:.3f} -> best {s['best_accuracy']:.3f}, {s['total_time_s']:.0f}s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
