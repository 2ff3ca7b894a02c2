# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# Chapter 06 notes: learning_notes/06_training_engineering/README.md
#
# # Chapter 06: a training run, its files, its curves
#
# | section | what to look at |
# |---|---|
# | 1 | setup |
# | 2 | a short run of the real trainer (verbose: phase banners, group summary, turn table, token table) |
# | 3 | what the run wrote: checkpoints, training_state.json, an evaluation log |
# | 4 | resume: extend the run by two steps from its newest checkpoint |
# | 5 | the short run's curves, drawn by `minimal_impl.plot` |
# | 6 | the full first training run (`run_first_training.sh`), three seeds, and the loss-mask ablation |
# | 7 | our GRPO step against TRL's |
# | 8 | what one sign error does to the learning curve |
# | 9 | your turn: the actor loss of one micro-batch, then train the agent with your own code |
#
# The short run is CI-sized (a 60-step warm-up, 4 RL steps: the model does not learn much in that time);
# section 6 shows what the full preset does, from runs made with `scripts/collect_runs.py`.
# Set `FULL = True` to run the full preset here instead (about five minutes on two cores).

# %% [markdown]
# ## 1. Setup

# %%
import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, Markdown, display

import minimal_impl
from minimal_impl import data
from minimal_impl.config import build_config
from minimal_impl.plot import plot_run
from minimal_impl.tiny_model import build
from minimal_impl.train import train

ROOT = Path(minimal_impl.__file__).resolve().parent.parent
NOTES = ROOT / "learning_notes/06_training_engineering"
FIG = NOTES / "figures"
FIG.mkdir(parents=True, exist_ok=True)
WORK = Path(tempfile.mkdtemp())
FULL = False
plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "axes.grid": True, "grid.alpha": 0.3})

# %% [markdown]
# ## 2. A short run of the real trainer
#
# The preset of `run_first_training.sh` with a shorter warm-up, smaller batches and fewer steps.
# `verbose=true` prints each phase, the group summary, the turn-by-turn advantages of two groups and
# the tensors of one rollout: its trained tokens with their old and reference log-probs and advantage.

# %%
model_dir = build(WORK / "tiny_model")
data.prepare("sample-nq", WORK / "data" / "sample-nq")  # a data_dir of one's own is never filled automatically
short = {
    "model_path": str(model_dir), "data_dir": str(WORK / "data"), "output_dir": str(WORK / "runs"), "run_name": "short",
    "warmup_sft_steps": 60, "train_batch_size": 4, "ppo_mini_batch_size": 2, "total_steps": 4, "eval_steps": 2,
    "save_steps": 2, "eval_max_samples": 30, "verbose": True,
}  # fmt: skip
config = build_config("tiny_sample_nq", **({"output_dir": str(WORK / "runs"), "run_name": "full"} if FULL else short))
summary = train(config)
run = config.run_dir

# %% [markdown]
# ## 3. What the run wrote
#
# Every checkpoint is a complete directory (written to `checkpoint-N.tmp-<pid>` and renamed into place),
# with the optimizer, scheduler and random states next to the weights, so `--resume auto` continues
# exactly. `training_state.json` holds the early-stopping bookkeeping.

# %%
for path in sorted(run.iterdir()):
    inside = ", ".join(sorted(p.name for p in path.iterdir())[:9]) if path.is_dir() else ""
    print(f"{path.name + ('/' if path.is_dir() else ''):24s} {inside}")
newest = sorted(run.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))[-1]
print("\n" + newest.name + "/training_state.json:", (newest / "training_state.json").read_text())
evaluation = json.loads(sorted((run / "eval_logs").glob("*.json"))[-1].read_text())
print({k: v for k, v in evaluation.items() if k != "examples"})

# %% [markdown]
# ## 4. Resume
#
# Ask for two more steps: the trainer finds the newest complete checkpoint, restores weights, optimizer,
# scheduler, random states and counters, says what it restored, and continues. (A run killed with
# SIGKILL resumes the same way; the tests check that it then ends bit-identical to an uninterrupted run.)

# %%
if not FULL:
    more = build_config("tiny_sample_nq", **{**short, "total_steps": 6, "resume": "auto", "verbose": False})
    summary = train(more)

# %% [markdown]
# ## 5. The curves of the short run
#
# `python -m minimal_impl.plot RUN_DIR` draws these from `metrics.jsonl` and the evaluation logs.

# %%
written = plot_run(run)
display(Image(filename=str(run / "plots" / "overview.png")))

# %% [markdown]
# ## 6. The full first training run: three seeds, and without the loss mask
#
# `bash run_first_training.sh seed=S` for S = 0, 1, 2 (the tiny model, the sample search task, a
# 500-step warm-up and 30 GRPO steps), collected with `scripts/collect_runs.py` into `seed_runs.json`.
# Look at: the evaluation accuracy of the starting model (step 0) against the trained one, and the share
# of episodes that search. The warmed-up model searches in about 30% of its sampled episodes (fewer when
# decoding greedily); within a few steps RL makes it search every time, and accuracy follows.

# %%
runs = json.loads((NOTES / "seed_runs.json").read_text())
masked = [r for r in runs if r["mask_tool_output"]]
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
for key, ax, title in (
    ("accuracy", axes[0], "eval accuracy (greedy)"),
    ("search_rate", axes[1], "eval: share of episodes that search"),
):
    curves = []
    for r in masked:
        steps = [0] + [e["step"] for e in r["evals"]]
        values = [r["baseline"][key]] + [e[key] for e in r["evals"]]
        ax.plot(steps, values, color="C0", alpha=0.35, lw=1)
        curves.append(values)
    ax.plot(steps, np.mean(curves, axis=0), "o-", color="C0", label=f"mean of {len(curves)} seeds (masked)")
    for r in [r for r in runs if not r["mask_tool_output"]]:
        ax.plot([0] + [e["step"] for e in r["evals"]], [r["baseline"][key]] + [e[key] for e in r["evals"]], "s--", color="C3",
                label=f"no loss mask on retrieved tokens (seed {r['seed']})")  # fmt: skip
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("RL step")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=7)
for i, r in enumerate(masked):
    axes[2].plot(
        [t["step"] for t in r["train"]],
        [t["search_rate"] for t in r["train"]],
        color=f"C{i}",
        alpha=0.6,
        label=f"seed {r['seed']}",
    )
axes[2].set_title("train: share of sampled episodes that search", fontsize=10)
axes[2].set_xlabel("RL step")
axes[2].legend(fontsize=7)
fig.tight_layout()
plt.savefig(FIG / "seed_curves.png", bbox_inches="tight")
plt.show()

table = ["| run | seed | baseline accuracy | best accuracy | gain (points) | search rate, baseline -> best | found_correct_doc, baseline -> last | time (s) |",
         "| --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
for r in runs:
    s, last = r["summary"], r["evals"][-1]
    best = max(r["evals"], key=lambda e: e["accuracy"])
    table.append(
        f"| {'masked' if r['mask_tool_output'] else '**no mask**'} | {r['seed']} | {s['baseline_accuracy']:.3f} | {s['best_accuracy']:.3f} | "
        f"{100 * (s['best_accuracy'] - s['baseline_accuracy']):+.1f} | {r['baseline']['search_rate']:.2f} -> {best['search_rate']:.2f} | "
        f"{r['baseline']['found_correct_doc']} -> {last['found_correct_doc']} of {last['total_samples']} | {s['total_time_s']:.0f} |"
    )
gains = [100 * (r["summary"]["best_accuracy"] - r["summary"]["baseline_accuracy"]) for r in masked]
table.append(f"\nMean gain over {len(gains)} seeds (masked): **{np.mean(gains):+.1f} points** (min {min(gains):+.1f}).")
display(Markdown("\n".join(table)))

# %% [markdown]
# ## 7. Our GRPO step against TRL's
#
# `python bench/grpo_step_bench.py` runs one trainer after the other on the same model, prompts, group
# size and generation length (each in its own process, for a fair peak-memory reading).

# %%
display(Markdown((NOTES / "grpo_bench.md").read_text()))


# %% [markdown]
# ## 8. What one sign error does
#
# `python scripts/plant_bug.py --out my_sign_flip --bug advantage_sign` writes a package that re-exports ours with
# `grpo_advantages` negated; `bash run_first_training.sh --impl my_sign_flip --allow-failing-checks` trains with it
# on the same data, seed and budget as the first run. Both runs were collected with `scripts/collect_runs.py`
# into `impl_runs.json`.

# %%
impl_runs = json.loads((NOTES / "impl_runs.json").read_text())
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
for r in impl_runs:
    wrong = bool(r["failing_checks"])
    label = f"{'advantages with their sign flipped' if wrong else 'correct advantages'} (seed {r['seed']})"
    style = dict(color="C3" if wrong else "C0", marker="s" if wrong else "o", ls="--" if wrong else "-")
    evals = [0] + [e["step"] for e in r["evals"]]
    axes[0].plot(evals, [r["baseline"]["accuracy"]] + [e["accuracy"] for e in r["evals"]], label=label, **style)
    axes[1].plot(
        [t["step"] for t in r["train"]], [t["reward"] for t in r["train"]], label=label, **{**style, "marker": None}
    )
    # a step whose groups were all filtered trains nothing, and has no entropy
    trained = [t for t in r["train"] if t["entropy"] is not None]
    axes[2].plot([t["step"] for t in trained], [t["entropy"] for t in trained], label=label, **{**style, "ms": 3})
titles = ("eval accuracy (greedy)", "train reward (batch mean)", "entropy of trained tokens (steps that trained)")
for ax, title in zip(axes, titles):
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("RL step")
    ax.legend(fontsize=7)
fig.tight_layout()
plt.savefig(FIG / "sign_error.png", bbox_inches="tight")
plt.show()
for r in impl_runs:
    s = r["summary"]
    print(
        f"{r['impl']:14s} failing checks {r['failing_checks']}: baseline {s['baseline_accuracy']:.3f}, best {s['best_accuracy']:.3f}"
    )

# %% [markdown]
# ## 9. Your turn: the actor loss of one micro-batch
#
# The heart of the update is an exercise of this chapter: `logprobs_from_logits` (★☆☆) and `actor_loss`
# (★★★), in your copy's `actor_loss.py` (`python scripts/make_exercises.py --out my_solutions`, then open this
# notebook with `RL_IMPL=my_solutions`). The checks compare the loss and its gradient on a fixed micro-batch
# with the formulas; chapter 03's probe must then learn with it. When all of your chapters pass,
# `bash run_first_training.sh --impl my_solutions` trains the search agent with your code.

# %% tags=["workbook"]
from tests.checks.workbook import check_chapter, learner_package  # noqa: E402

impl = learner_package()  # $RL_IMPL, default minimal_impl (the reference)
check_chapter(6, impl)

# %% tags=["workbook"]
from minimal_impl.probe import train_probe  # noqa: E402

try:  # your actor loss on the probe: the mean reward should climb above 0.9
    curve = train_probe(advantage_fn=impl.grpo.grpo_advantages, actor_loss_fn=impl.actor_loss.actor_loss, steps=30)
    print(f"probe with your actor loss: reward {curve[0]:.2f} -> {curve[-1]:.2f}")
except NotImplementedError as err:
    print(f"NOT IMPLEMENTED YET: {err}")
