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
# Chapter 01 notes: learning_notes/01_quickstart/README.md
#
# # Chapter 01: quickstart, what one RL step is made of
#
# | section | what to look at |
# |---|---|
# | 1 | `check_env.sh`'s table, from this kernel |
# | 2 | the phases of one RL step, as a diagram |
# | 3 | batch-size arithmetic: prompts, rollouts, mini-batches, micro-batches (your turn: `batch_arithmetic`) |
# | 4 | why the rollout dominates: generating tokens versus training on them, measured on the tiny model |
#
# Figures go to `learning_notes/01_quickstart/figures/`. About half a minute on a CPU.

# %% [markdown]
# ## 1. The environment check
#
# The same rows as `bash check_env.sh` (see the notes for what each means). On a laptop the GPU rows
# are WARN, not FAIL: everything in this repository runs on a CPU with the tiny model.

# %%
import sys
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

import minimal_impl

ROOT = Path(minimal_impl.__file__).resolve().parent.parent
FIG = ROOT / "learning_notes/01_quickstart/figures"
FIG.mkdir(parents=True, exist_ok=True)
plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110})
sys.path.insert(0, str(ROOT / "scripts"))
import check_env  # noqa: E402

rows = check_env.run_checks()
check_env.print_table(rows)

# %% [markdown]
# ## 2. The phases of one RL step
#
# Left to right: the policy generates; the rule scores; the frozen reference model and (PPO only) the
# critic score every token; advantages are computed without gradients; then the actor (and critic) are
# updated for a few epochs over mini-batches. Green boxes run the model forward only; red ones train.

# %%
PHASES = [
    ("1 rollout", "policy generates n\nresponses per prompt\n(+ tool calls)", "#c6dbef"),
    ("2 reward", "rule scores each\nresponse (no model)", "#f0f0f0"),
    ("3 log-probs", "old policy and frozen\nreference score\nevery token", "#c7e9c0"),
    ("4 values", "critic V(s_t)\n(PPO only)", "#c7e9c0"),
    ("5 advantages", "GRPO: group z-score\nPPO: GAE", "#f0f0f0"),
    ("6 actor update", "clipped loss (+ KL)\nepochs x mini-batches", "#fcbba1"),
    ("7 critic update", "value loss\n(PPO only)", "#fcbba1"),
]
fig, ax = plt.subplots(figsize=(12, 2.6))
width, gap = 1.55, 0.25
for i, (title, body, color) in enumerate(PHASES):
    x = i * (width + gap)
    ax.add_patch(FancyBboxPatch((x, 0), width, 1.6, boxstyle="round,pad=0.04", fc=color, ec="gray"))
    ax.text(x + width / 2, 1.35, title, ha="center", va="center", fontsize=9, weight="bold")
    ax.text(x + width / 2, 0.65, body, ha="center", va="center", fontsize=7.5)
    if i:
        ax.add_patch(FancyArrowPatch((x - gap, 0.8), (x, 0.8), arrowstyle="->", mutation_scale=12))
ax.annotate(
    "next step: the updated policy generates again",
    xy=(0.7, -0.05),
    xytext=(6 * (width + gap) + width / 2, -0.05),
    arrowprops={"arrowstyle": "->", "connectionstyle": "arc3,rad=-0.15", "color": "gray"},
    fontsize=8,
    ha="right",
    va="top",
    color="gray",
)
ax.set_xlim(-0.1, len(PHASES) * (width + gap))
ax.set_ylim(-0.6, 1.7)
ax.axis("off")
ax.set_title("One RL step (GRPO skips 4 and 7; PPO runs all seven)", fontsize=10)
fig.tight_layout()
plt.savefig(FIG / "rl_step.png", bbox_inches="tight")
plt.show()

# %% [markdown]
# ## 3. Batch-size arithmetic
#
# The names are verl's (our trainer uses the same): `train_batch_size` prompts per step, each sampled
# `rollout_n` times; the actor takes one optimizer step per `ppo_mini_batch_size` prompts (times
# `rollout_n` sequences), accumulating gradients over micro-batches of `ppo_micro_batch_size` sequences,
# for `ppo_epochs` passes. `minimal_impl/batch_sizes.py` counts it all.

# %% [markdown]
# **Your turn: `batch_arithmetic`** (★☆☆, about 10 minutes), this chapter's exercise. Once, from the
# repository root, `python scripts/make_exercises.py --out my_solutions`, then open the notebooks on your copy
# with `RL_IMPL=my_solutions .venv/bin/jupyter lab notebooks/`, write the function in
# `my_solutions/batch_sizes.py` (or define `my_batch_arithmetic` in this cell) and run the cell:
# `PASS`, `NOT IMPLEMENTED YET`, or `CheckFailed` with the first mismatch. Without `RL_IMPL` it checks the
# reference. The table below uses the reference.

# %% tags=["workbook"]
from tests.checks.workbook import check_exercise, learner_package

impl = learner_package()  # $RL_IMPL, default minimal_impl (the reference); or learner_package("my_solutions")
my_batch_arithmetic = impl.batch_sizes.batch_arithmetic
check_exercise("batch_sizes.batch_arithmetic", my_batch_arithmetic)

# %%
from minimal_impl.batch_sizes import batch_arithmetic  # noqa: E402

LABELS = {
    "sequences": "sequences per step",
    "sequences_per_optimizer_step": "sequences per optimizer step",
    "optimizer_steps": "optimizer steps per RL step",
    "micro_batches_per_optimizer_step": "micro-batches per optimizer step (gradient accumulation)",
    "forward_backward_passes": "forward+backward passes per RL step",
}
for name, args in {
    "tiny CPU run (chapter 06 default)": (8, 8, 4, 16, 1),
    "Search-R1 GRPO (train_grpo.sh: 8 GPUs, micro-batch 64 over all of them)": (512, 5, 256, 64, 1),
}.items():
    print(name)
    for k, v in batch_arithmetic(*args).items():
        print(f"  {LABELS[k]:58s} {v}")

# %%
P, N, MINI, MICRO = 8, 4, 4, 8  # small enough to draw: 8 prompts x 4 rollouts, mini-batch 4 prompts, micro 8 sequences
fig, ax = plt.subplots(figsize=(10, 2.3))
colors = plt.cm.tab10.colors
for p in range(P):
    for r in range(N):
        seq = p * N + r
        ax.add_patch(plt.Rectangle((seq, 0), 0.9, 1, color=colors[p % 10], alpha=0.55))
    ax.text(p * N + N / 2 - 0.05, 1.15, f"prompt {p}", ha="center", fontsize=7)
for m in range(P // MINI):
    ax.add_patch(plt.Rectangle((m * MINI * N - 0.05, -0.55), MINI * N - 0.1, 0.35, color="#fcbba1"))
    ax.text(
        m * MINI * N + MINI * N / 2, -0.38, f"mini-batch {m}: one optimizer step", ha="center", va="center", fontsize=8
    )
for u in range(P * N // MICRO):
    ax.add_patch(plt.Rectangle((u * MICRO - 0.05, -1.0), MICRO - 0.1, 0.35, color="#c6dbef"))
    ax.text(u * MICRO + MICRO / 2, -0.83, f"micro {u}", ha="center", va="center", fontsize=7)
ax.text(-0.5, 0.5, "sequences", ha="right", va="center", fontsize=8)
ax.text(-0.5, -0.38, "mini-batches", ha="right", va="center", fontsize=8)
ax.text(-0.5, -0.83, "micro-batches", ha="right", va="center", fontsize=8)
ax.set_xlim(-4, P * N + 0.5)
ax.set_ylim(-1.1, 1.4)
ax.axis("off")
ax.set_title(
    f"train_batch_size={P} prompts x rollout_n={N} = {P * N} sequences; ppo_mini_batch_size={MINI} prompts; micro={MICRO} sequences",
    fontsize=9,
)
fig.tight_layout()
plt.savefig(FIG / "batch_sizes.png", bbox_inches="tight")
plt.show()

# %% [markdown]
# ## 4. Why the rollout dominates
#
# Training on a token costs one forward and one backward pass, and all tokens of a batch go through at
# once. Generating a token costs one forward pass, but tokens come one after another: the model cannot
# write token t+1 before token t. Measured on the tiny model (random weights, CPU): seconds per token
# of a batch of 16 sequences of 64 new tokens, generating versus training.

# %%
from minimal_impl import tiny_model  # noqa: E402

tokenizer, model = tiny_model.load(tiny_model.build(Path(tempfile.mkdtemp()) / "tiny"))
torch.manual_seed(0)
prompt = torch.randint(3, 300, (16, 32))
start = time.perf_counter()
with torch.no_grad():
    out = model.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        max_new_tokens=64,
        min_new_tokens=64,
        do_sample=True,
        pad_token_id=0,
    )
generate_s = time.perf_counter() - start
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
start = time.perf_counter()
loss = model(out, labels=out).loss
loss.backward()
optimizer.step()
train_s = time.perf_counter() - start
new_tokens = 16 * 64
print(f"generate: {generate_s:.2f} s for {new_tokens} new tokens ({generate_s / new_tokens * 1e3:.2f} ms/token)")
print(
    f"train:    {train_s:.2f} s for the same {out.numel()} tokens ({train_s / new_tokens * 1e3:.2f} ms per new token)"
)
print(f"generation is {generate_s / train_s:.1f}x the training step here")
