# Chapter 06 notes: learning_notes/06_training_engineering/README.md#what-each-metric-means
"""Training curves of a run as PNG files: `python -m minimal_impl.plot runs/<run_name> [--out DIR]`.

Reads `metrics.jsonl`, `baseline_eval.json` and `eval_logs/` and writes, into `RUN_DIR/plots/`:
reward, accuracy (train and eval, with the baseline), KL to the reference, entropy, response length,
clip fraction, searches per rollout, and `overview.png` with all of them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from .checkpoint import read_json
from .run_log import read_metrics

PANELS = [  # (file name, title, [(metric key, label)])
    ("reward", "reward", [("reward/mean", "train reward (mean of the batch)")]),
    ("accuracy", "accuracy", [("accuracy", "train (sampled)"), ("eval/accuracy", "eval (greedy)")]),
    ("kl", "KL to the reference (k3)", [("kl/ref", "KL(pi_old || pi_ref)"), ("actor/approx_kl", "approx KL(old || new)")]),
    ("entropy", "entropy of the policy (nats/token)", [("actor/entropy", "entropy")]),
    ("response_length", "model tokens per episode", [("response/model_tokens", "train"), ("eval/avg_response_tokens", "eval")]),
    ("clipfrac", "PPO clip fraction", [("actor/clipfrac", "clipped tokens")]),
    ("searches", "searches per rollout", [("search/per_rollout", "train"), ("search/rate", "train: share that searched"),
                                          ("eval/search_rate", "eval: share that searched")]),
]  # fmt: skip


class NothingToPlot(ValueError):
    """A run directory whose logs hold no step to draw."""


def read_run(run_dir: Path, log: Callable[[str], None] = print) -> tuple[list[dict], dict | None]:
    """The metrics lines (one per step; eval lines merged in) and the baseline evaluation.

    A torn last line (a run killed mid-write) is skipped with a note; a log without any step is an error.
    """
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no metrics.jsonl in {run_dir}: is this a run directory?")
    rows, dropped = read_metrics(path)
    if dropped:
        log(f"note: skipped {dropped} torn or unreadable line(s) of {path}")
    if not any(row["step"] > 0 for row in rows):
        raise NothingToPlot(f"{path} has no training step yet ({len(rows)} line(s)): nothing to plot")
    baseline = read_json(run_dir / "baseline_eval.json")
    return rows, baseline


def series(rows: list[dict], key: str) -> tuple[list[int], list[float]]:
    points = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
    return [p[0] for p in points], [p[1] for p in points]


def plot_run(run_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Write one PNG per panel plus overview.png; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir else run_dir / "plots"
    out.mkdir(parents=True, exist_ok=True)
    rows, baseline = read_run(run_dir)
    written = []

    def draw(ax: plt.Axes, title: str, keys: list[tuple[str, str]]) -> bool:
        drawn = False
        for key, label in keys:
            steps, values = series(rows, key)
            if steps:
                style = "o-" if key.startswith("eval/") else "-"
                ax.plot(steps, values, style, label=label, markersize=4)
                drawn = True
        if baseline is not None and isinstance(baseline.get("accuracy"), (int, float)) and title == "accuracy":
            ax.axhline(
                baseline["accuracy"], color="gray", ls="--", lw=1, label=f"baseline eval {baseline['accuracy']:.2f}"
            )
        if (
            baseline is not None
            and isinstance(baseline.get("search_rate"), (int, float))
            and title == "searches per rollout"
        ):
            ax.axhline(
                baseline["search_rate"],
                color="gray",
                ls=":",
                lw=1,
                label=f"baseline search rate {baseline['search_rate']:.2f}",
            )
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("RL step")
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=7)
        return drawn

    for name, title, keys in PANELS:
        fig, ax = plt.subplots(figsize=(5.5, 3.3))
        if draw(ax, title, keys):
            fig.tight_layout()
            fig.savefig(out / f"{name}.png", dpi=110)
            written.append(out / f"{name}.png")
        plt.close(fig)
    fig, axes = plt.subplots(2, 4, figsize=(16, 6.5))
    for ax, (_, title, keys) in zip(axes.flat, PANELS):
        draw(ax, title, keys)
    axes.flat[-1].axis("off")
    fig.suptitle(f"{run_dir.name}", fontsize=11)
    fig.tight_layout()
    fig.savefig(out / "overview.png", dpi=100)
    plt.close(fig)
    written.append(out / "overview.png")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Plot a run's training curves to PNG files.")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: RUN_DIR/plots)")
    args = parser.parse_args(argv)
    try:
        written = plot_run(args.run_dir, args.out)
    except (FileNotFoundError, NothingToPlot) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
