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
# Chapter 08 notes: learning_notes/08_beyond_grpo/README.md
#
# # Chapter 08: beyond GRPO, one plot at a time
#
# The reference code of chapter 08 (`reinforce.py`, `policy_losses.py`, `rollout_correction.py`) on toy
# inputs. The explanations live in the [chapter notes](../learning_notes/08_beyond_grpo/README.md).
#
# | section | code | what to look at |
# |---|---|---|
# | 1 | | setup |
# | 2 | `tests/checks/workbook.py` | your turn: check your own functions |
# | 3 | `reinforce.py` | GRPO, RLOO, REINFORCE++, REINFORCE++-baseline and OPO on one batch |
# | 4 | `reinforce_pp_advantages` | multi-turn credit: outcome reward only vs a reward per turn |
# | 5 | `gspo_policy_loss` | token ratio, sequence product, geometric mean: spread against length |
# | 6 | `cispo_policy_loss` | the gradient weight of one token: PPO's clip vs CISPO's |
# | 7 | `gmpo_policy_loss` | one outlier token: arithmetic vs geometric mean |
# | 8 | `overlong_penalty` | DAPO's soft length penalty |
# | 9 | `rollout_is_weights` | a simulated bf16 rollout engine: mismatch, TIS, IcePop, ESS |
# | 10 | the probe of chapter 03 | stale rollouts: how off-policy a step gets |
# | 11 | a softmax bandit | entropy collapse: the covariance rule |
#
# Every figure is also written to `learning_notes/08_beyond_grpo/figures/`, where the notes show it.
# The whole notebook runs in well under 30 seconds on a laptop CPU.

# %% [markdown]
# ## 1. Setup

# %%
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import minimal_impl
from minimal_impl.grpo import grpo_advantages, rloo_advantages, spread_over_tokens
from minimal_impl.policy_losses import cispo_policy_loss, gmpo_policy_loss
from minimal_impl.ppo import ppo_policy_loss
from minimal_impl.reinforce import opo_advantages, reinforce_pp_advantages, reinforce_pp_baseline_advantages
from minimal_impl.rollout_correction import overlong_penalty, rollout_is_weights

ROOT = Path(minimal_impl.__file__).resolve().parent.parent
FIG = ROOT / "learning_notes/08_beyond_grpo/figures"
FIG.mkdir(parents=True, exist_ok=True)

torch.manual_seed(0)
torch.set_num_threads(1)  # the tensors here are tiny: one thread avoids thread overhead
plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "axes.grid": True, "grid.alpha": 0.3})

# %% [markdown]
# ## 2. Your turn: the workbook
#
# The exercises of this chapter (`python scripts/make_exercises.py --list`) are functions you write in your
# own copy. Once, from the repository root:
#
# ```bash
# python scripts/make_exercises.py --out my_solutions
# RL_IMPL=my_solutions .venv/bin/jupyter lab notebooks/
# ```
#
# This cell checks every exercise of the chapter and prints your progress: `PASS`, `NOT IMPLEMENTED YET`,
# or `CheckFailed` naming the case, its inputs, expected and got. Without `RL_IMPL` it checks the reference.
# Edit your file and run the cell again: no restart needed. Then train the agent with them:
# `bash run_first_training.sh --impl my_solutions adv_estimator=reinforce_pp_baseline policy_loss=gspo ...`.

# %% tags=["workbook"]
from tests.checks.workbook import check_chapter, learner_package  # noqa: E402

impl = learner_package()  # $RL_IMPL, default minimal_impl (the reference); or learner_package("my_solutions")
check_chapter(8, impl)

# %% [markdown]
# ## 3. Five critic-free advantages on one batch
#
# Two prompts, four responses each, binary reward; prompt 1 is hard (1 of 4 right), prompt 2 easy
# (3 of 4). The responses have different lengths (in tokens, shown under each bar). GRPO and RLOO
# use the group only; REINFORCE++ uses no group at all (the score on the last token, reward-to-go,
# whitened over the batch's tokens); REINFORCE++-baseline subtracts the group mean and then whitens
# over the batch; OPO subtracts a length-weighted group mean.
#
# Look at: REINFORCE++ gives every right answer the same advantage, on the hard and the easy prompt
# alike: without a group baseline it has no notion of difficulty. Both REINFORCE++ variants whiten over
# the batch's *tokens*, so long responses set the shift: here the 30-token wrong answer of prompt 2
# drags the batch mean down, every advantage moves up, and the wrong answers of prompt 1 are barely
# penalised under REINFORCE++-baseline (-0.09). OPO's baseline leans towards the long responses'
# scores: on prompt 2 that long wrong answer pulls the baseline to 0.46 instead of the plain mean 0.75,
# so the right answers get 0.54 instead of 0.25.

# %%
scores = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0])
lengths = torch.tensor([6, 12, 4, 20, 8, 8, 10, 30])
group_ids = [0, 0, 0, 0, 1, 1, 1, 1]
mask = (torch.arange(int(lengths.max()))[None, :] < lengths[:, None]).float()  # [8, 30]
token_rewards = torch.zeros_like(mask)
token_rewards[torch.arange(8), lengths - 1] = scores  # the score on the last token
advantages = {
    "GRPO": grpo_advantages(scores, group_ids),
    "RLOO": rloo_advantages(scores, group_ids),
    "REINFORCE++": reinforce_pp_advantages(token_rewards, mask)[:, 0],
    "REINFORCE++-baseline": reinforce_pp_baseline_advantages(scores, group_ids, mask)[:, 0],
    "OPO": opo_advantages(scores, group_ids, mask)[:, 0],
}
fig, ax = plt.subplots(figsize=(11, 3.8))
width = 0.16
for j, (name, adv) in enumerate(advantages.items()):
    ax.bar(np.arange(8) + (j - 2) * width, adv.numpy(), width, label=name, color=f"C{j}")
ax.axvline(3.5, color="k", lw=0.8)
ax.axhline(0, color="gray", lw=0.6)
ax.set_xticks(np.arange(8), [f"s={int(s)}\n{int(n)} tok" for s, n in zip(scores, lengths)], fontsize=8)
ax.text(1.5, 2.3, "prompt 1: 1 of 4 right", ha="center")
ax.text(5.5, 2.3, "prompt 2: 3 of 4 right", ha="center")
ax.set_ylim(-1.7, 2.5)
ax.set_ylabel("advantage (on every token)")
ax.set_title("Critic-free advantages of the same 8 responses")
ax.legend(fontsize=8, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.2))
fig.tight_layout()
plt.savefig(FIG / "advantages.png", bbox_inches="tight")
plt.show()

print(f"{'response':>9s} " + " ".join(f"{name:>21s}" for name in advantages))
for i in range(8):
    print(f"{i:9d} " + " ".join(f"{adv[i].item():21.4f}" for adv in advantages.values()))

# %% [markdown]
# ## 4. Multi-turn credit: outcome reward only, or a reward per turn
#
# Four episodes of one search prompt: turn 1 (5 tokens, the search), the tool's output (6 tokens,
# mask 0), turn 2 (4 tokens, the answer). Episodes 0 and 1 retrieved a passage containing the answer,
# 2 and 3 did not; 0 and 3 answered correctly (3 by luck). With only the outcome reward, each episode's
# tokens all share one advantage: the useful search of episode 1 is punished with its wrong answer, the
# useless search of episode 3 rewarded. A per-turn reward (here +0.5 on the last token of a search that
# found the answer) plus REINFORCE++'s reward-to-go gives turn 1 its own credit: it sees its reward and
# every later one, turn 2 only the outcome. gamma < 1 discounts later rewards per generated token; the
# masked tool tokens neither add a step nor a discount.

# %%
turn1, obs, turn2 = 5, 6, 4
T = turn1 + obs + turn2
mt_mask = torch.ones(4, T)
mt_mask[:, turn1 : turn1 + obs] = 0.0
outcome = torch.tensor([1.0, 0.0, 0.0, 1.0])
found = torch.tensor([1.0, 1.0, 0.0, 0.0])
outcome_rewards = torch.zeros(4, T)
outcome_rewards[:, -1] = outcome
turn_rewards = outcome_rewards.clone()
turn_rewards[:, turn1 - 1] = 0.5 * found  # a retrieval reward on the search turn's last token
panels = {
    "GRPO\noutcome only": spread_over_tokens(grpo_advantages(outcome, [0] * 4), mt_mask),
    "REINFORCE++\noutcome only": reinforce_pp_advantages(outcome_rewards, mt_mask),
    "REINFORCE++\n+ turn reward": reinforce_pp_advantages(turn_rewards, mt_mask),
    "REINFORCE++\n+ turn reward, gamma 0.8": reinforce_pp_advantages(turn_rewards, mt_mask, gamma=0.8),
}
fig, axes = plt.subplots(1, 4, figsize=(13, 2.8), sharey=True)
for ax, (title, adv) in zip(axes, panels.items()):
    shown = np.ma.masked_where(mt_mask.numpy() == 0, adv.numpy())
    im = ax.imshow(shown, cmap="RdBu", vmin=-2, vmax=2, aspect="auto")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([2, turn1 + obs / 2 - 0.5, turn1 + obs + 1.5], ["turn 1", "tool", "turn 2"], fontsize=8)
    ax.grid(False)
axes[0].set_yticks(
    range(4), [f"ep {i}: found={int(f)}, right={int(o)}" for i, (f, o) in enumerate(zip(found, outcome))]
)
fig.colorbar(im, ax=axes, shrink=0.8, label="advantage")
plt.savefig(FIG / "multi_turn_credit.png", bbox_inches="tight")
plt.show()
for title, adv in panels.items():
    print(
        f"{title.replace(chr(10), ', '):40s} turn 1: {np.round(adv[:, 0].numpy(), 3)}   turn 2: {np.round(adv[:, -1].numpy(), 3)}"
    )

# %% [markdown]
# ## 5. GSPO: how the spread of a ratio grows or shrinks with length
#
# A simulation, not a model: each token's log-ratio log(pi_new / pi_old) is independent noise of
# std sigma = 0.05 (what one update, a precision mismatch or a changed MoE routing adds). For 1000
# sequences of each length we measure the spread of three log-weights: one token's (what PPO and GRPO
# clip), the whole sequence's product sum_t log r_t (sequence-level importance sampling), and GSPO's
# mean (1/|y|) sum_t log r_t. Right: the same with 1% of tokens whose routing flipped (log-ratio
# noise of std 1), for sequences of 512 tokens: a token-level ratio sees every flip in full.
#
# Look at: the product's spread grows like sigma * sqrt(L) (unusable weights for long responses), the
# token's stays at sigma, GSPO's shrinks like sigma / sqrt(L): that is why GSPO's clip band is
# 3e-4 / 4e-4 rather than 0.2, and why one noisy token cannot swing the whole sequence.

# %%
gen = torch.Generator().manual_seed(0)
SIGMA, N_SEQ = 0.05, 1000
seq_lengths = [16, 64, 256, 1024, 4096]
spread = {"one token": [], "sequence product": [], "GSPO mean": []}
for length in seq_lengths:
    log_r = torch.randn(N_SEQ, length, generator=gen) * SIGMA
    spread["one token"].append(log_r[:, 0].std().item())
    spread["sequence product"].append(log_r.sum(-1).std().item())
    spread["GSPO mean"].append(log_r.mean(-1).std().item())

L_FLIP = 512
log_r = torch.randn(N_SEQ, L_FLIP, generator=gen) * SIGMA
flips = torch.rand(N_SEQ, L_FLIP, generator=gen) < 0.01
log_r = torch.where(flips, torch.randn(N_SEQ, L_FLIP, generator=gen), log_r)
token_clipped = ((log_r.exp() < 0.8) | (log_r.exp() > 1.28)).float().mean().item()
gspo_s = log_r.mean(-1).exp()
gspo_clipped = ((gspo_s < 1 - 3e-4) | (gspo_s > 1 + 4e-4)).float().mean().item()

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
ax = axes[0]
for (name, values), color in zip(spread.items(), ("C0", "C3", "C2")):
    ax.loglog(seq_lengths, values, "o-", color=color, label=name)
ax.loglog(seq_lengths, [SIGMA * np.sqrt(n) for n in seq_lengths], ":", color="C3")
ax.loglog(seq_lengths, [SIGMA / np.sqrt(n) for n in seq_lengths], ":", color="C2")
ax.axhline(np.log(1.0004), color="C2", ls="--", lw=0.8, label="GSPO's clip band (log 1.0004)")
ax.set_xlabel("response length L (tokens)")
ax.set_ylabel("std of the log-weight")
ax.set_title(f"token-level noise sigma = {SIGMA}")
ax.legend(fontsize=7, loc="lower left")
ax = axes[1]
ax.hist(log_r.flatten().numpy(), bins=200, range=(-3, 3), color="C0", alpha=0.6, density=True, label="token log r")
ax.hist(gspo_s.log().numpy(), bins=60, color="C2", alpha=0.8, density=True, label="GSPO log s (per sequence)")
ax.set_yscale("log")
ax.set_xlabel("log-ratio")
ax.set_title(f"L = {L_FLIP}, 1% routing flips")
ax.legend(fontsize=8)
fig.tight_layout()
plt.savefig(FIG / "gspo_ratio_spread.png", bbox_inches="tight")
plt.show()
print("std of the log-weight by length:", {k: np.round(v, 4).tolist() for k, v in spread.items()})
print(f"with 1% flips at L={L_FLIP}: PPO clips {token_clipped:.2%} of tokens (band [0.8, 1.28]);")
print(f"GSPO's sequence ratio has std {gspo_s.std().item():.4f}; {gspo_clipped:.1%} of sequences leave its band")

# %% [markdown]
# ## 6. CISPO: what a token's gradient weight looks like
#
# For one token with ratio r and advantage A, the gradient of the loss with respect to log pi is
# `-A * w(r)`; we plot w, the weight that token pulls with, from autograd. PPO (clip 0.2 / 0.28):
# w = r inside the trust region and exactly 0 once the ratio has left it in the profitable direction.
# CISPO (MiniMax-M1's choice: no lower bound, upper 1.28): w = min(r, 1.28), never 0.
#
# Look at: for A > 0, a token that became much more likely (r > 1.28) stops contributing under PPO;
# under CISPO it keeps pulling at weight 1.28. Those are often the rare "fork" tokens (a "Wait", a
# "However") whose probability jumps in one update: MiniMax report that PPO-style clipping dropped them.

# %%
ratios = torch.linspace(0.2, 3.0, 281, dtype=torch.float64)


def gradient_weights(loss_fn, advantage, **kwargs):
    """w(r) for every ratio at once: one token per ratio, token-mean loss, so d loss / d log pi_t = -A w_t / N."""
    logp = ratios.log().unsqueeze(0).clone().requires_grad_(True)  # [1, N]
    n = logp.shape[1]
    adv = torch.full((1, n), advantage, dtype=torch.float64)
    loss, _ = loss_fn(logp, torch.zeros_like(logp), adv, torch.ones_like(logp), **kwargs)
    (grad,) = torch.autograd.grad(loss, logp)
    return (-grad[0] * n / advantage).numpy()


losses = {
    "PPO (0.2, 0.28)": partial(ppo_policy_loss, clip_low=0.2, clip_high=0.28),
    "CISPO (no lower bound, 0.28)": partial(cispo_policy_loss, clip_low=1.0, clip_high=0.28),
    "CISPO (0.2, 0.28)": partial(cispo_policy_loss, clip_low=0.2, clip_high=0.28),
}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
for ax, advantage in zip(axes, (1.0, -1.0)):
    for (name, fn), style in zip(losses.items(), ("-", "--", ":")):
        ax.plot(ratios.numpy(), gradient_weights(fn, advantage), style, lw=2, label=name)
    ax.set_title(f"A = {advantage:+g}")
    ax.set_xlabel("ratio r = pi / pi_old")
axes[0].set_ylabel("gradient weight w (d loss / d log pi = -A w)")
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.savefig(FIG / "cispo_vs_ppo.png", bbox_inches="tight")
plt.show()

# %% [markdown]
# ## 7. GMPO: one outlier token, two kinds of mean
#
# One response of 8 tokens, A = +1. Seven tokens keep ratio 1; the eighth has ratio x. GRPO's
# objective (seq-mean-token-mean, as in its paper) is the *arithmetic* mean of the token terms r A;
# GMPO's is A times the *geometric* mean of the ratios. We plot both, unclipped and clipped (GRPO at
# [0.8, 1.2] per token, GMPO at [e^-0.4, e^0.4] per token in log space).
#
# Look at: unclipped, the arithmetic mean grows linearly with the outlier, the geometric mean like
# x^(1/8); with the clips both flatten, but GMPO's wider band still moves only the 8th root. A single
# extreme token cannot dominate GMPO's update, which is why it can afford a wider clip.

# %%
outliers = torch.logspace(-1.5, 1.5, 61, dtype=torch.float64)


def one_sequence_objective(loss_fn, x, **kwargs):
    r = torch.ones(1, 8, dtype=torch.float64)
    r[0, -1] = x
    loss, _ = loss_fn(
        r.log(),
        torch.zeros(1, 8, dtype=torch.float64),
        torch.ones(1, 8, dtype=torch.float64),
        torch.ones(1, 8, dtype=torch.float64),
        **kwargs,
    )
    return -loss.item()


curves = {
    "arithmetic (GRPO, unclipped)": partial(ppo_policy_loss, clip_low=10.0, clip_high=1e6, agg="seq-mean-token-mean"),
    "arithmetic (GRPO, clip 0.2)": partial(ppo_policy_loss, clip_low=0.2, agg="seq-mean-token-mean"),
    "geometric (unclipped)": partial(gmpo_policy_loss, clip_low=1e6, clip_high=1e6),
    "geometric (GMPO, clip 0.4)": partial(gmpo_policy_loss, clip_low=0.4, clip_high=0.4),
}
fig, ax = plt.subplots(figsize=(7.5, 3.8))
for (name, fn), style in zip(curves.items(), ("-", "--", "-", "--")):
    color = "C0" if name.startswith("arith") else "C2"
    ax.semilogx(
        outliers.numpy(), [one_sequence_objective(fn, x.item()) for x in outliers], style, color=color, lw=2, label=name
    )
ax.set_xlabel("ratio x of the one outlier token (the other 7 at 1)")
ax.set_ylabel("objective of the sequence (A = +1)")
ax.set_ylim(0.6, 2.6)
ax.legend(fontsize=8)
ax.set_title("Arithmetic vs geometric mean of the token ratios")
fig.tight_layout()
plt.savefig(FIG / "gmpo_means.png", bbox_inches="tight")
plt.show()

# %% [markdown]
# ## 8. DAPO's overlong penalty
#
# DAPO's setting: a budget of 20480 tokens, the last 4096 of them a soft zone. Responses that stop
# before the zone are not penalised; inside it the penalty falls linearly to -1 at the budget. A
# response cut off at the budget gets -1 *added* to its score, so a correct but truncated answer is
# worth 0, a wrong truncated one -1 (with a 0/1 accuracy reward).

# %%
lengths_grid = torch.arange(0, 20481, 64)
fig, ax = plt.subplots(figsize=(7.5, 3.2))
for factor in (1.0, 0.5):
    ax.plot(
        lengths_grid.numpy(),
        overlong_penalty(lengths_grid, 20480, 4096, factor).numpy(),
        label=f"penalty_factor = {factor}",
    )
ax.axvspan(20480 - 4096, 20480, color="C1", alpha=0.1, label="buffer (4096 tokens)")
ax.set_xlabel("response length (tokens)")
ax.set_ylabel("added to the score")
ax.set_title("DAPO soft overlong punishment (max 20480, buffer 4096)")
ax.legend(fontsize=8)
fig.tight_layout()
plt.savefig(FIG / "overlong_penalty.png", bbox_inches="tight")
plt.show()

# %% [markdown]
# ## 9. A simulated bf16 rollout engine: mismatch, TIS and IcePop
#
# A rollout engine keeps weights and activations in bf16 and accumulates its matrix products in fp32,
# then stores the logits in bf16; the trainer recomputes them in fp32. We emulate exactly that on one
# LM head (2048 positions, hidden size 256, vocabulary 4096, random weights scaled so that the mean
# entropy is about 1 nat per token, low as in a trained model): tokens are sampled from the bf16 policy
# (the engine), and `log_ratio = log pi_fp32 - log pi_bf16` is what the trainer would feed to
# `rollout_is_weights`. Only precision differs here; a real engine adds other kernels, another
# sampler and, with async training, stale weights, so a real mismatch is larger.
#
# Look at: (left) the per-token log-ratios are small but heavy-tailed; (right) token-level weights
# keep an effective sample size close to 1 at any length, while sequence-level weights, a product over
# the response, lose it as responses grow: unbiased but unusable without truncation. We resample the
# measured per-token log-ratios into sequences of each length (the tokens here are independent).

# %%
gen = torch.Generator().manual_seed(0)
N_POS, HIDDEN, VOCAB = 2048, 256, 4096
hidden = torch.randn(N_POS, HIDDEN, generator=gen)
head = torch.randn(HIDDEN, VOCAB, generator=gen) * (8.0 / HIDDEN**0.5)


def bf16(x):
    return x.to(torch.bfloat16).float()


logits_trainer = hidden @ head  # fp32 everywhere
logits_engine = bf16(bf16(hidden) @ bf16(head))  # bf16 inputs, fp32 accumulation, bf16 output
logp_trainer = torch.log_softmax(logits_trainer, -1)
logp_engine = torch.log_softmax(logits_engine, -1)
tokens = torch.multinomial(logp_engine.exp(), 1, generator=gen)  # the engine samples
token_log_ratio = (logp_trainer.gather(1, tokens) - logp_engine.gather(1, tokens)).squeeze(1)  # [N]
entropy = -(logp_trainer.exp() * logp_trainer).sum(-1).mean().item()
print(
    f"mean entropy {entropy:.2f} nats/token; |log pi_fp32 - log pi_bf16|: mean {token_log_ratio.abs().mean():.4f}, "
    f"99th percentile {token_log_ratio.abs().quantile(0.99):.4f}, max {token_log_ratio.abs().max():.4f}"
)

seq_lens = [16, 64, 256, 1024, 4096]
ess = {"token, TIS 2": [], "sequence, no truncation": [], "sequence, TIS 2": []}
for length in seq_lens:
    n_seq = 256
    idx = torch.randint(0, N_POS, (n_seq, length), generator=gen)
    lr, m = token_log_ratio[idx], torch.ones(n_seq, length)
    ess["token, TIS 2"].append(rollout_is_weights(lr, m, "token", 2.0)[1]["ess"])
    ess["sequence, no truncation"].append(rollout_is_weights(lr, m, "sequence", 1e30)[1]["ess"])
    ess["sequence, TIS 2"].append(rollout_is_weights(lr, m, "sequence", 2.0)[1]["ess"])
lr_batch = token_log_ratio.view(8, 256)
for name, threshold in (("TIS 2", 2.0), ("IcePop [0.5, 2]", (0.5, 2.0))):
    _, stats = rollout_is_weights(lr_batch, torch.ones_like(lr_batch), "token", threshold)
    print(f"token level, {name:16s}", {k: round(v, 5) for k, v in stats.items()})

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
ax = axes[0]
ax.hist(token_log_ratio.numpy(), bins=120, color="C0")
ax.set_yscale("log")
ax.set_xlabel("log pi_trainer(fp32) - log pi_engine(bf16), sampled tokens")
ax.set_ylabel("count")
ax.set_title("per-token mismatch")
ax = axes[1]
for name, values in ess.items():
    ax.semilogx(seq_lens, values, "o-", label=name)
ax.set_ylim(0, 1.05)
ax.set_xlabel("response length (tokens)")
ax.set_ylabel("effective sample size / n")
ax.set_title("importance weights pi_trainer / pi_engine")
ax.legend(fontsize=8)
fig.tight_layout()
plt.savefig(FIG / "mismatch.png", bbox_inches="tight")
plt.show()
print("ESS / n by length", {k: np.round(v, 3).tolist() for k, v in ess.items()})

# %% [markdown]
# ## 10. Stale rollouts on the probe
#
# Chapter 03's probe (a table of logits: 5 positions x 8 tokens, reward = share of tokens matching a
# hidden target; GRPO advantages; PPO clip 0.2; 2 gradient steps per batch), but the rollouts come from
# the policy as it was `k` updates ago, as in an asynchronous trainer whose generator lags behind. The
# loss's ratio is taken against the policy that actually sampled (the behaviour policy), as it must be.
# We record, at the first gradient step of each batch, how far the current policy already is from the
# one that sampled: mean |log ratio| and the share of tokens PPO clips.
#
# Look at: with k = 0 the first step is exactly on-policy (ratio 1, nothing clipped); the lag makes
# the data off-policy before any step is taken, the clip then discards a growing share of the batch's
# tokens, and learning slows. This is what the ratio (and, against a separate engine, the rollout
# correction) is there for: it keeps the update consistent with the data, it cannot make stale data fresh.


# %%
def stale_probe(staleness, steps=60, seed=0, vocab=8, length=5, batch=32, group=8, lr=0.1):
    gen = torch.Generator().manual_seed(seed)
    target = torch.randint(vocab, (length,), generator=gen)
    logits = torch.zeros(length, vocab, requires_grad=True)
    optimizer = torch.optim.Adam([logits], lr=lr)
    history = [logits.detach().clone()]  # past policies, newest last
    group_ids = [g for g in range(batch // group) for _ in range(group)]
    mask = torch.ones(batch, length)
    out = {"reward": [], "abs_log_ratio": [], "clipfrac": []}
    for _ in range(steps):
        behaviour = history[max(0, len(history) - 1 - staleness)]  # the generator's (possibly old) weights
        with torch.no_grad():
            actions = torch.multinomial(torch.softmax(behaviour, -1), batch, replacement=True, generator=gen).T
            behaviour_logp = torch.log_softmax(behaviour, -1).gather(-1, actions.T).T  # [B, L]
        rewards = (actions == target).float().mean(-1)
        out["reward"].append(rewards.mean().item())
        adv = spread_over_tokens(grpo_advantages(rewards, group_ids), mask)
        for epoch in range(2):
            logp = torch.log_softmax(logits, -1).gather(-1, actions.T).T
            loss, stats = ppo_policy_loss(logp, behaviour_logp, adv, mask, clip_low=0.2)
            if epoch == 0:
                out["abs_log_ratio"].append((logp - behaviour_logp).abs().mean().item())
                out["clipfrac"].append(stats["clipfrac"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        history.append(logits.detach().clone())
    return out


runs = {k: stale_probe(k) for k in (0, 2, 4, 8)}
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
for k, run in runs.items():
    for ax, key in zip(axes, ("reward", "abs_log_ratio", "clipfrac")):
        ax.plot(run[key], label=f"staleness k = {k}")
for ax, title in zip(
    axes, ("mean reward of the batch", "mean |log pi - log pi_behaviour|, first step", "PPO clipfrac, first step")
):
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("step")
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.savefig(FIG / "staleness.png", bbox_inches="tight")
plt.show()
for k, run in runs.items():
    print(
        f"k = {k}: reward of the last 5 steps {np.mean(run['reward'][-5:]):.3f}, steps to reach 0.9: "
        f"{next((i for i, r in enumerate(run['reward']) if r >= 0.9), None)}, mean first-step clipfrac "
        f"{np.mean(run['clipfrac']):.3f}"
    )

# %% [markdown]
# ## 11. Entropy collapse: the covariance rule
#
# One state, 10 actions (a bandit), rewards `r_a`; the policy is softmax(z) and we take exact
# policy-gradient steps z <- z + eta * pi * A with A_a = r_a - E_pi r. Since dH/dz_a = -pi_a (log pi_a + H),
# to first order the entropy changes by `-eta * Cov_{a~pi}(log pi(a), pi(a) * A_a)` (Cui et al. 2025): it
# falls when the likely actions are the ones with positive advantage, and rises only when rare actions
# win. The initial policy prefers a decent action (reward 0.8); the best one (reward 1) is rare.
# Left: entropy and expected reward; right: the measured entropy change of each step against the
# covariance prediction.
#
# Look at: the points sit on the diagonal (the rule is exact to first order, the largest steps bend a
# little); the entropy collapses onto the 0.8 action, and the best action's probability, and with it
# its share of the gradient, shrinks towards 0: after 150 steps the expected reward is stuck near 0.8. This is
# the mechanism clip-higher, clip-cov and kl-cov act on (see the notes): they limit how much the
# high-covariance tokens (likely and rewarded) can sharpen the policy in one update.

# %%
rewards_bandit = torch.tensor([1.0, 0.8, 0.3, 0.2, 0.2, 0.1, 0.1, 0.0, 0.0, 0.0], dtype=torch.float64)
z = torch.tensor([-1.0, 2.0, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], dtype=torch.float64)
ETA = 2.0
bandit = {"entropy": [], "reward": [], "p_best": [], "predicted": [], "actual": []}
for _ in range(150):
    pi = torch.softmax(z, 0)
    logpi = torch.log(pi)
    h = -(pi * logpi).sum()
    adv = rewards_bandit - (pi * rewards_bandit).sum()  # A_a = r_a - E_pi r
    # -eta * Cov_pi(log pi, pi * A) = -eta * sum_a pi_a (log pi_a + H) pi_a A_a
    predicted = -ETA * (pi * (logpi + h) * pi * adv).sum()
    z = z + ETA * pi * adv  # the exact policy gradient on the logits is pi * A
    pi_new = torch.softmax(z, 0)
    bandit["entropy"].append(h.item())
    bandit["reward"].append((pi * rewards_bandit).sum().item())
    bandit["p_best"].append(pi[0].item())
    bandit["predicted"].append(predicted.item())
    bandit["actual"].append((-(pi_new * torch.log(pi_new)).sum() - h).item())

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
ax = axes[0]
ax.plot(bandit["entropy"], label="entropy (nats)")
ax.plot(bandit["reward"], label="expected reward")
ax.plot(bandit["p_best"], label="probability of the best action")
ax.set_xlabel("step")
ax.legend(fontsize=8)
ax.set_title("a 10-armed bandit, exact policy gradient")
ax = axes[1]
ax.scatter(bandit["predicted"], bandit["actual"], s=8)
lim = max(abs(v) for v in bandit["actual"])
ax.plot([-lim, 0.1 * lim], [-lim, 0.1 * lim], "k:", lw=0.8, label="y = x")
ax.set_xlabel("predicted: -eta Cov(log pi, pi A)")
ax.set_ylabel("measured entropy change")
ax.legend(fontsize=8)
ax.set_title("one point per step")
fig.tight_layout()
plt.savefig(FIG / "entropy_covariance.png", bbox_inches="tight")
plt.show()
print(
    f"entropy {bandit['entropy'][0]:.3f} -> {bandit['entropy'][-1]:.3f}; expected reward {bandit['reward'][0]:.3f} -> "
    f"{bandit['reward'][-1]:.3f}; p(best) {bandit['p_best'][0]:.3f} -> {bandit['p_best'][-1]:.3f}"
)
corr = np.corrcoef(bandit["predicted"], bandit["actual"])[0, 1]
print(f"correlation predicted vs measured: {corr:.4f}")
