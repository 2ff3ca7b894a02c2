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
# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md
#
# # Chapter 03: RL algorithms, one plot at a time
#
# This notebook runs the reference code of `minimal_impl/` on toy inputs and plots what each piece does.
# The explanations live in the [chapter notes](../learning_notes/03_rl_algorithms/README.md); here we look.
#
# | section | code | what to look at |
# |---|---|---|
# | 1 | | setup |
# | 2 | `tests/checks/workbook.py` | your turn: the chapter's exercises on your own package |
# | 3 | `ppo.py: ppo_policy_loss` | the clipped objective as a function of the ratio |
# | 4 | `gae.py: compute_gae` | GAE as lambda varies; masked tool-output tokens |
# | 5 | `kl.py: kl_estimate` | bias and variance of k1, k2, k3 |
# | 6 | `grpo.py` | GRPO, Dr.GRPO and RLOO advantages of a few groups |
# | 7 | `probe.py: train_probe` | the end-to-end probe learns (and a sign flip unlearns) |
# | 8 | `ppo.py: aggregate_loss` | how each loss aggregation mode weighs short and long responses |
#
# Every figure is also written to `learning_notes/03_rl_algorithms/figures/`, where the notes show it.
# The whole notebook runs in well under a minute on a laptop CPU.

# %% [markdown]
# ## 1. Setup

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import minimal_impl
from minimal_impl.gae import compute_gae
from minimal_impl.grpo import grpo_advantages, rloo_advantages
from minimal_impl.kl import kl_estimate
from minimal_impl.ppo import AGG_MODES, aggregate_loss, ppo_policy_loss
from minimal_impl.probe import train_probe

ROOT = Path(minimal_impl.__file__).resolve().parent.parent
FIG = ROOT / "learning_notes/03_rl_algorithms/figures"
FIG.mkdir(exist_ok=True)

torch.manual_seed(0)
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
# This cell checks every exercise of the chapter and prints your progress; the "your turn" cells below check
# one function each, next to the section that explains it. Each check runs the hand-worked cases of the notes
# and the edge cases: `PASS`, `NOT IMPLEMENTED YET`, or `CheckFailed` naming the case, its inputs, expected and
# got. Without `RL_IMPL` they check the reference solutions, so everything passes. Edit your file and run the
# cell again: no restart needed. (`check_gae(fn)` and friends from `tests.checks` check any function directly.)

# %% tags=["workbook"]
from tests.checks.workbook import check_chapter, check_exercise, learner_package

impl = learner_package()  # $RL_IMPL, default minimal_impl (the reference); or learner_package("my_solutions")
check_chapter(3, impl)

# %% [markdown]
# ## 3. The clipped objective as a function of the ratio
#
# For one token with ratio $r = \pi_\theta(a|s) / \pi_{old}(a|s)$ and advantage $A$, PPO maximises
# $\min(rA,\ \mathrm{clip}(r, 1-\epsilon, 1+\epsilon)A)$; dual clip additionally caps it below at $cA$ when $A < 0$.
# We get each point by calling `ppo_policy_loss` on a one-token batch (`logprobs = log r`,
# `old_logprobs = 0`) and negating the loss; autograd gives the gradient, and the shaded regions are
# where it is exactly zero: there the token no longer pushes the policy.
#
# Look at: for $A > 0$ the objective stops rising at $1+\epsilon$ (no reward for moving further);
# for $A < 0$ it stops falling at $1-\epsilon$, but without dual clip it keeps falling linearly as $r$ grows,
# so a bad token whose probability exploded gives an unbounded loss; dual clip flattens it at $r > c$.
# (The x axis runs to 4 so that the dual-clip region at $r > 3$ is visible.)

# %% [markdown]
# **Your turn: `ppo_policy_loss`** (★★☆, about 25 minutes). Write it in your copy's `ppo.py`, or define
# `my_ppo_policy_loss` in this cell instead of taking it from `impl`. The plot below uses the reference.

# %% tags=["workbook"]
my_ppo_policy_loss = impl.ppo.ppo_policy_loss
check_exercise("ppo.ppo_policy_loss", my_ppo_policy_loss)

# %%
EPS, DUAL_C = 0.2, 3.0
ratios = torch.linspace(0.0, 4.0, 401)


def token_objective(r, advantage, **kwargs):
    """Objective (= -loss) and its gradient w.r.t. r for a single token."""
    logprob = torch.log(torch.tensor([[r]])).requires_grad_(True)  # log(0) = -inf is clamped inside
    loss, _ = ppo_policy_loss(logprob, torch.zeros(1, 1), torch.tensor([[advantage]]), torch.ones(1, 1), **kwargs)
    (grad_logprob,) = torch.autograd.grad(loss, logprob)
    # d(-loss)/dr = -d loss/d logp * d logp/dr = -grad / r
    grad_r = -grad_logprob.item() / r if r > 0 else 0.0
    return -loss.item(), grad_r


def curve(advantage, **kwargs):
    values = np.array([token_objective(r.item(), advantage, clip_low=EPS, **kwargs) for r in ratios])
    return values[:, 0], values[:, 1]


obj_pos, grad_pos = curve(+1.0)
obj_neg, grad_neg = curve(-1.0)
obj_dual, grad_dual = curve(-1.0, dual_clip=DUAL_C)
r_np = ratios.numpy()

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharex=True)
ax = axes[0]
ax.plot(r_np, r_np * 1.0, color="gray", ls=":", label="unclipped $rA$")
ax.plot(r_np, obj_pos, color="C0", lw=2, label="clipped objective")
ax.fill_between(r_np, -0.1, 4.1, where=grad_pos == 0, color="C0", alpha=0.12, label="zero gradient")
ax.set_ylim(-0.1, 4.1)
ax.set_title("A = +1 (good token)")
ax.set_ylabel("per-token objective (= -loss)")
ax.legend(loc="upper left", fontsize=8)

ax = axes[1]
ax.plot(r_np, -r_np, color="gray", ls=":", label="unclipped $rA$")
ax.plot(r_np, obj_neg, color="C3", lw=2, label="clipped objective")
ax.plot(r_np, obj_dual, color="C2", lw=2, ls="--", label=f"with dual clip c = {DUAL_C:g}")
ax.fill_between(r_np, -4.1, 0.1, where=grad_neg == 0, color="C3", alpha=0.12, label="zero gradient (clip)")
ax.fill_between(
    r_np,
    -4.1,
    0.1,
    where=(grad_dual == 0) & (grad_neg != 0),
    color="C2",
    alpha=0.15,
    label="zero gradient (dual clip only)",
)
ax.set_ylim(-4.1, 0.1)
ax.set_title("A = -1 (bad token)")
ax.legend(loc="lower left", fontsize=8)
for ax in axes:
    for x in (1 - EPS, 1 + EPS):
        ax.axvline(x, color="k", lw=0.6, ls="--")
    ax.set_xticks([0, 1 - EPS, 1 + EPS, 2, 3, 4], ["0", "0.8", "1.2", "2", "3", "4"])
    ax.set_xlabel("ratio r = pi / pi_old   (dashed: 1 - eps, 1 + eps)")
    ax.set_xlim(0, 4)
fig.suptitle(f"PPO clipped surrogate for one token (eps = {EPS})")
fig.tight_layout()
plt.savefig(FIG / "ppo_clip.png", bbox_inches="tight")
plt.show()

# %% [markdown]
# ## 4. GAE as lambda varies
#
# One 12-token response, reward 1 on the last token, and a made-up critic whose values rise from 0.2
# to 0.8 with some noise. $\lambda = 0$ gives the one-step TD error $\delta_t = r_t + V_{t+1} - V_t$
# (low variance, but it trusts the critic entirely); $\lambda = 1$ gives the Monte-Carlo advantage
# $R - V_t$ (unbiased, noisier in a real run). Look at: with $\lambda = 0$ the early tokens get almost
# nothing from the final reward (only the bumps of the critic: each point is the difference of two noisy
# values); as $\lambda \to 1$ more of the terminal reward flows back to them, until every token gets
# $1 - V_t$. All curves meet at the last token, where $A = 1 - V_{11}$ for any $\lambda$.

# %% [markdown]
# **Your turn: `compute_gae`** (★★☆, about 25 minutes), in your copy's `gae.py` or as `my_compute_gae` here.

# %% tags=["workbook"]
my_compute_gae = impl.gae.compute_gae
check_exercise("gae.compute_gae", my_compute_gae)

# %%
T = 12
gen = torch.Generator().manual_seed(0)
values = (torch.linspace(0.2, 0.8, T) + 0.05 * torch.randn(T, generator=gen)).unsqueeze(0)  # [1, T]
rewards = torch.zeros(1, T)
rewards[0, -1] = 1.0
mask = torch.ones(1, T)

lams = [0.0, 0.5, 0.9, 0.95, 1.0]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1, 1.6]})
ax = axes[0]
ax.plot(values[0], "o-", color="k", label="critic V(s_t)")
ax.bar(range(T), rewards[0], color="C1", alpha=0.5, label="reward r_t")
ax.set_xlabel("token t")
ax.set_title("the episode")
ax.legend(fontsize=8)
ax = axes[1]
for lam, color in zip(lams, plt.cm.viridis(np.linspace(0, 0.9, len(lams)))):
    adv, _ = compute_gae(rewards, values, mask, gamma=1.0, lam=lam)
    ax.plot(adv[0], "o-", color=color, label=f"lambda = {lam}")
ax.axhline(0, color="gray", lw=0.6)
ax.set_xlabel("token t")
ax.set_ylabel("advantage A_t")
ax.set_title("GAE advantages (gamma = 1)")
ax.legend(fontsize=8, ncol=2)
fig.tight_layout()
plt.savefig(FIG / "gae_lambda.png", bbox_inches="tight")
plt.show()

# %% [markdown]
# **A multi-turn response.** The model writes a tool call (tokens 0-2), the tool writes its output
# (tokens 3-6, mask 0: not actions, and the critic's values there are junk, here 9.0), then the model
# answers (tokens 7-9) and gets reward 1. The recursion jumps over the masked span: the advantages of
# the model tokens equal those of the same sequence with the tool tokens cut out. At a masked position
# `compute_gae` returns the advantage of the next model token; the loss mask removes it anyway.

# %%
mt_mask = torch.tensor([[1.0, 1, 1, 0, 0, 0, 0, 1, 1, 1]])
mt_values = torch.tensor([[0.3, 0.35, 0.4, 9.0, 9.0, 9.0, 9.0, 0.6, 0.7, 0.8]])
mt_rewards = torch.zeros_like(mt_values)
mt_rewards[0, -1] = 1.0
mt_adv, _ = compute_gae(mt_rewards, mt_values, mt_mask, gamma=1.0, lam=0.95)

keep = mt_mask[0].bool()
compact_adv, _ = compute_gae(mt_rewards[:, keep], mt_values[:, keep], torch.ones(1, int(keep.sum())), lam=0.95)

print(" t  mask  value  advantage   same sequence without tool tokens")
j = 0
for t in range(mt_mask.shape[1]):
    compact = f"{compact_adv[0, j].item():.4f}" if keep[t] else "(cut out)"
    j += int(keep[t])
    print(f"{t:2d}  {int(mt_mask[0, t])}    {mt_values[0, t].item():5.2f}  {mt_adv[0, t].item():9.4f}   {compact}")
assert torch.allclose(mt_adv[:, keep], compact_adv)

# %% [markdown]
# ## 5. KL estimators k1, k2, k3
#
# The policy $p = [0.5, 0.3, 0.2]$ and the reference $q = [0.2, 0.3, 0.5]$ are the three-token example of
# the notes ($\mathrm{KL}(p \| q) = 0.3 \ln 2.5 \approx 0.2749$). We only ever
# see sampled tokens $x \sim p$ and their log-ratio $l = \log p(x) - \log q(x)$, so the KL is estimated
# per sample: $k_1 = l$, $k_2 = l^2/2$, $k_3 = e^{-l} - 1 + l$. Left: the per-sample values, one spike per
# token ($k_1$ is negative on every sample of the third token, $k_3$ never). Right: the estimate averaged
# over n samples, mean ± one std over 200 repeats. Look at: $k_1$ and $k_3$ both converge on the true KL (unbiased), $k_3$
# with a narrower band; $k_2$ converges to the wrong value (biased), even if its band is narrow.

# %%
gen = torch.Generator().manual_seed(0)
# the notes' example (float64: exact sums in the table below)
p = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)  # [V] policy
q = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)  # [V] reference
logp_all, logq_all = p.log(), q.log()  # [V]
true_kl = (p * (logp_all - logq_all)).sum().item()

N = 10_000
x = torch.multinomial(p, N, replacement=True, generator=gen).unsqueeze(0)  # [1, N]
KINDS = ("k1", "k2", "k3")
samples = {k: kl_estimate(logp_all[x], logq_all[x], k)[0] for k in KINDS}  # each [N]
# exact mean and variance of each per-sample estimator under p (a sum over the vocabulary)
exact = {}
for k in KINDS:
    per_token = kl_estimate(logp_all, logq_all, k)  # [V] the estimator's value if token v is sampled
    mean = (p * per_token).sum()
    exact[k] = (mean.item(), (p * (per_token - mean) ** 2).sum().item())

print(f"true KL(p || q) = {true_kl:.4f}     (per-sample statistics over N = {N} samples; exact values in brackets)")
print("estimator   mean              variance          exact bias")
for k in KINDS:
    m, v = samples[k].mean().item(), samples[k].var().item()
    bias = exact[k][0] - true_kl
    print(
        f"{k:9s}   {m:.4f} [{exact[k][0]:.4f}]   {v:.4f} [{exact[k][1]:.4f}]   {0.0 if abs(bias) < 1e-6 else bias:+.4f}"
    )

# %%
sizes = [10, 30, 100, 300, 1000, 3000, 10_000]
REPEATS = 200
curves = {k: [] for k in KINDS}
for n in sizes:
    xs = torch.multinomial(p, REPEATS * n, replacement=True, generator=gen).view(REPEATS, n)  # [R, n]
    for k in KINDS:
        batch_means = kl_estimate(logp_all[xs], logq_all[xs], k).mean(dim=1)  # [R]
        curves[k].append((batch_means.mean().item(), batch_means.std().item()))

colors = {"k1": "C0", "k2": "C1", "k3": "C2"}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
ax = axes[0]
all_values = torch.cat(list(samples.values()))
lo, hi = all_values.min().item(), all_values.max().item()  # three tokens: three values per estimator
bins = np.linspace(lo, hi, 60)
styles = {
    "k1": {"histtype": "stepfilled", "alpha": 0.35},
    "k2": {"histtype": "step", "lw": 1.8, "ls": "--"},
    "k3": {"histtype": "step", "lw": 1.5},
}
for k in KINDS:
    ax.hist(samples[k].numpy(), bins=bins, color=colors[k], label=k, **styles[k])
ax.axvline(true_kl, color="k", ls="--", lw=1, label=f"true KL = {true_kl:.3f}")
ax.set_xlabel("per-sample estimate")
ax.set_ylabel(f"count (of {N} samples)")
ax.set_title(f"per-sample values ({N} samples from p)")
ax.legend(fontsize=8)
ax = axes[1]
for shift, k in zip((0.94, 1.0, 1.06), KINDS):
    mean, std = np.array(curves[k]).T
    xs_plot = np.array(sizes) * shift  # small horizontal offsets so the error bars do not overlap
    ax.errorbar(xs_plot, mean, yerr=std, fmt="o-", ms=4, capsize=3, color=colors[k], label=f"{k} (mean ± std)")
ax.axhline(true_kl, color="k", ls="--", lw=1, label="true KL")
ax.set_xscale("log")
ax.set_xlabel("number of samples n")
ax.set_ylabel("estimate of KL")
ax.set_title(f"estimate from n samples ({REPEATS} repeats)")
ax.legend(fontsize=8)
fig.suptitle("KL(policy || reference) estimators")
fig.tight_layout()
plt.savefig(FIG / "kl_estimators.png", bbox_inches="tight")
plt.show()

# %% [markdown]
# **Your turn: `kl_estimate`** (★★☆, about 15 minutes), in your copy's `kl.py` or as `my_kl_estimate` here.
# `kl_penalty_rewards`, `kl_loss` and `AdaptiveKLController.update` are checked in section 2's table.

# %% tags=["workbook"]
my_kl_estimate = impl.kl.kl_estimate
check_exercise("kl.kl_estimate", my_kl_estimate)

# %% [markdown]
# ## 6. GRPO, Dr.GRPO and RLOO advantages of a few groups
#
# Four prompts, eight samples each, binary rewards with pass rates 1/8, 4/8, 7/8 and 8/8.
# GRPO: $A_i = (s_i - \bar s) / (\mathrm{std} + \epsilon)$; Dr.GRPO drops the division by std;
# RLOO: $A_i = s_i - \text{mean of the other } n-1$ $= \frac{n}{n-1}(s_i - \bar s)$.
# Look at: the all-correct group gets 0 everywhere (no signal, a wasted prompt); within a group
# the three methods only rescale, but GRPO's division by a small std blows the single success of the
# hard prompt up to about +2.5, while the rare failure of the easy prompt gets about -2.5.

# %% [markdown]
# **Your turn: `grpo_advantages` and `rloo_advantages`** (★★☆ and ★☆☆), in your copy's `grpo.py`.

# %% tags=["workbook"]
my_grpo_advantages = impl.grpo.grpo_advantages
my_rloo_advantages = impl.grpo.rloo_advantages
check_exercise("grpo.grpo_advantages", my_grpo_advantages)
check_exercise("grpo.rloo_advantages", my_rloo_advantages)

# %%
PASS_COUNTS = [1, 4, 7, 8]
G = 8
scores = torch.tensor([float(i < c) for c in PASS_COUNTS for i in range(G)])  # correct samples first
group_ids = [g for g in range(len(PASS_COUNTS)) for _ in range(G)]
methods = {
    "GRPO": grpo_advantages(scores, group_ids),
    "Dr.GRPO (no std)": grpo_advantages(scores, group_ids, scale_by_std=False),
    "RLOO": rloo_advantages(scores, group_ids),
}

fig, ax = plt.subplots(figsize=(11, 3.8))
width = 0.27
idx = np.arange(len(scores))
for j, (name, adv) in enumerate(methods.items()):
    ax.bar(idx + (j - 1) * width, adv.numpy(), width, label=name, color=f"C{j}")
for g, c in enumerate(PASS_COUNTS):
    if g:
        ax.axvline(g * G - 0.5, color="k", lw=0.8)
    note = f"prompt {g + 1}: pass rate {c}/{G}" + ("\n(all advantages 0)" if c == G else "")
    ax.text(g * G + (G - 1) / 2, 2.9, note, ha="center", va="top", fontsize=9)
ax.axhline(0, color="gray", lw=0.6)
ax.set_ylim(-3.1, 3.1)
ax.set_xlim(-0.6, len(scores) - 0.4)
ax.set_xticks(idx, [str(int(s)) for s in scores.tolist()], fontsize=8)
ax.set_xlabel("reward of each sample (1 = correct), grouped by prompt")
ax.set_ylabel("advantage")
ax.set_title("Group-relative advantages, 4 prompts x 8 samples, binary reward")
ax.legend(fontsize=8, loc="lower right")
fig.tight_layout()
plt.savefig(FIG / "grpo_groups.png", bbox_inches="tight")
plt.show()

print("group      sample     " + "  ".join(f"{name:>16s}" for name in methods))
for g, c in enumerate(PASS_COUNTS):
    for label, row in (("correct", g * G), ("wrong", g * G + G - 1)):
        if (label == "correct" and c == 0) or (label == "wrong" and c == G):
            continue
        print(f"pass {c}/{G}   {label:8s}  " + "  ".join(f"{adv[row].item():16.4f}" for adv in methods.values()))

# %% [markdown]
# ## 7. The probe: does the whole chain learn?
#
# `train_probe` trains a table of logits (5 positions, 8 tokens) with GRPO advantages and the PPO
# clipped loss; the reward is the share of tokens that match a hidden target, so chance is 1/8.
# Correct code climbs above 0.9 within a few dozen steps for every seed. Flipping the sign of the
# advantage (the most common bug) makes the policy learn to *avoid* the target: the reward falls below
# chance. This is the test `tests/test_probe.py` runs on your implementation.

# %%
SEEDS = [0, 1, 2]
probe_curves = {s: train_probe(seed=s) for s in SEEDS}
flipped_curve = train_probe(advantage_fn=lambda s, g: -grpo_advantages(s, g), seed=0)

fig, ax = plt.subplots(figsize=(9, 3.6))
for s, c in probe_curves.items():
    ax.plot(c, color=plt.cm.Blues(0.5 + 0.2 * s), label=f"GRPO + PPO clip, seed {s}")
ax.plot(flipped_curve, color="C3", label="advantage sign flipped, seed 0")
ax.axhline(1 / 8, color="k", ls="--", lw=1, label="chance = 1/8")
ax.set_ylim(0, 1.02)
ax.set_xlabel("step (one rollout batch of 4 x 8 samples, 2 gradient steps)")
ax.set_ylabel("mean reward of the batch")
ax.set_title("Probe learning curve, 3 seeds (and a sign-flipped advantage)")
ax.legend(fontsize=8, loc="center right")
fig.tight_layout()
plt.savefig(FIG / "probe_curve.png", bbox_inches="tight")
plt.show()

for s, c in probe_curves.items():
    print(f"seed {s}: mean reward of the last 5 steps = {np.mean(c[-5:]):.3f}")
print(f"sign flipped: mean reward of the last 5 steps = {np.mean(flipped_curve[-5:]):.3f}")

# %% [markdown]
# ## 8. Loss aggregation and the length bias
#
# Two responses of 2 and 10 tokens, padded to T = 10, with a per-token loss of 1 everywhere. The
# gradient of `aggregate_loss` with respect to the loss matrix is the weight each token gets in the
# update. Look at: "token-mean" weighs every token the same (so the long response gets 5x the total
# weight), "seq-mean-token-mean" (the original GRPO) gives each response the same total, so a token
# of the short response weighs 5x more: with a negative advantage, a long wrong answer is penalised
# less per token, which rewards rambling. "seq-mean-token-sum-norm" (Dr.GRPO) divides by the constant
# T, so every token weighs the same again.

# %% [markdown]
# **Your turn: `aggregate_loss`** (★★☆, about 20 minutes), in your copy's `ppo.py` or as `my_aggregate_loss`
# here. `masked_mean`, `masked_var`, `masked_whiten`, `value_loss` and `entropy_from_logits` are checked in
# section 2's table.

# %% tags=["workbook"]
my_aggregate_loss = impl.ppo.aggregate_loss
check_exercise("ppo.aggregate_loss", my_aggregate_loss)

# %%
lengths = [2, 10]
T_pad = max(lengths)
agg_mask = torch.tensor([[1.0] * n + [0.0] * (T_pad - n) for n in lengths])  # [2, T]
weights = {}
for mode in AGG_MODES:
    loss_mat = torch.ones(len(lengths), T_pad, requires_grad=True)
    (grad,) = torch.autograd.grad(aggregate_loss(loss_mat, agg_mask, mode), loss_mat)
    weights[mode] = [grad[i, 0].item() for i in range(len(lengths))]  # per-token weight of each response

print(f"{'mode':25s} {'per-token weight':>26s}   {'total weight per response':>26s}")
print(f"{'':25s} {'short (2)':>12s} {'long (10)':>12s}   {'short (2)':>12s} {'long (10)':>12s}")
for mode, (w_short, w_long) in weights.items():
    print(f"{mode:25s} {w_short:12.4f} {w_long:12.4f}   {w_short * 2:12.4f} {w_long * 10:12.4f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
pos = np.arange(len(AGG_MODES))
for ax, per_response, title in (
    (axes[0], False, "weight of one token"),
    (axes[1], True, "total weight of the response"),
):
    for j, n in enumerate(lengths):
        vals = [weights[m][j] * (n if per_response else 1) for m in AGG_MODES]
        ax.bar(pos + (j - 0.5) * 0.38, vals, 0.38, label=f"response of {n} tokens", color=f"C{j}")
    ax.set_xticks(pos, [m.replace("seq-mean-", "seq-mean-\n") for m in AGG_MODES], fontsize=8)
    ax.set_title(title)
    ax.set_ylabel("d loss / d loss_t" if not per_response else "sum over its tokens")
axes[0].legend(fontsize=8)
fig.suptitle("Loss aggregation: gradient weight per token (lengths 2 and 10, per-token loss 1)")
fig.tight_layout()
plt.savefig(FIG / "loss_aggregation.png", bbox_inches="tight")
plt.show()
