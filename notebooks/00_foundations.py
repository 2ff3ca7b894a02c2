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
# Chapter 00 notes: learning_notes/00_foundations/README.md
#
# # Chapter 00: from rewards to PPO's surrogate, with numbers you can check by hand
#
# The derivations live in the [chapter notes](../learning_notes/00_foundations/README.md); here every
# identity of the notes is computed exactly on a model small enough to enumerate, then sampled.
#
# | section | code | what to look at |
# |---|---|---|
# | 1 | | setup |
# | 2 | `tests/checks/workbook.py` | your turn: the chapter's exercises on your own package |
# | 3 | | a two-token "language model" as an MDP: V, Q and A on its tree |
# | 4 | `softmax_score`, `reward_to_go` | the policy-gradient theorem, exactly and by sampling |
# | 5 | `softmax_score` | baselines: the same mean gradient, less variance |
# | 6 | `reinforce_loss`, `train_bandit` | REINFORCE learns a bandit (and a sign flip unlearns it) |
# | 7 | `importance_sampling_estimate` | importance sampling, and why per-token ratios |
# | 8 | `surrogate_loss` | the surrogate of PPO against the true objective |
#
# Every figure is also written to `learning_notes/00_foundations/figures/`, where the notes show it.
# The whole notebook runs in a few seconds on a laptop CPU.

# %% [markdown]
# ## 1. Setup

# %%
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import minimal_impl
from minimal_impl.foundations import importance_sampling_estimate, reinforce_loss, surrogate_loss, train_bandit

ROOT = Path(minimal_impl.__file__).resolve().parent.parent
FIG = ROOT / "learning_notes/00_foundations/figures"
FIG.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)  # tensors of a few numbers: extra threads only add overhead
plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "axes.grid": True, "grid.alpha": 0.3})

# %% [markdown]
# ## 2. Your turn: the workbook
#
# The five exercises of this chapter are functions of `minimal_impl/foundations.py` that you write
# yourself. Once, from the repository root, make your own copy of the exercises and open the notebooks
# on it:
#
# ```bash
# python scripts/make_exercises.py --out my_solutions
# RL_IMPL=my_solutions .venv/bin/jupyter lab notebooks/
# ```
#
# This cell checks every exercise of the chapter and prints your progress; the "your turn" cells below
# check one function each, next to the section that explains it. Without `RL_IMPL` they check the
# reference solutions, so everything passes. A function you have not written yet is reported
# `NOT IMPLEMENTED YET`; a wrong one raises `CheckFailed` with the first mismatch (the case, its
# inputs, expected and got). Edit `my_solutions/foundations.py` and run the cell again: no restart needed.

# %% tags=["workbook"]
from tests.checks.workbook import check_chapter, check_exercise, learner_package

impl = learner_package()  # $RL_IMPL, default minimal_impl (the reference); or learner_package("my_solutions")
check_chapter(0, impl)

# %% [markdown]
# ## 3. A two-token language model as an MDP
#
# The vocabulary is {A, B}, the prompt is x, a response is two tokens, and the reward is 1 for the
# response "A B" and 0 otherwise. The state is the prompt plus the tokens so far; the action is the
# next token; the transition appends it (deterministic). The policy: $\pi(A|x) = 0.6$,
# $\pi(B|xA) = 0.5$, $\pi(B|xB) = 0.5$.
#
# $V(s)$ is the expected reward from state $s$ on, $Q(s, a)$ the same after taking $a$ first, and
# $A(s, a) = Q(s, a) - V(s)$ says how much better $a$ is than the policy's average at $s$. Look at: the
# advantages at each state average to 0 under the policy, and $V(x) = J = 0.3$.

# %%
VOCAB = ("A", "B")
GOAL = ("A", "B")


def tree_policy(p: float, q: float, u: float = 0.5) -> dict:
    """pi(a | s) for the three states: p = pi(A|x), q = pi(B|xA), u = pi(B|xB)."""
    return {(): {"A": p, "B": 1 - p}, ("A",): {"A": 1 - q, "B": q}, ("B",): {"A": 1 - u, "B": u}}


def values(pi: dict) -> tuple[dict, dict]:
    """V(s) and Q(s, a) of every state, by backing up from the terminal rewards (gamma = 1)."""
    V, Q = {}, {}
    for s in [("A",), ("B",), ()]:  # the second-token states first
        for a in VOCAB:
            Q[s, a] = float(s + (a,) == GOAL) if len(s) == 1 else V[(a,)]  # reward only at the end
        V[s] = sum(pi[s][a] * Q[s, a] for a in VOCAB)  # V(s) = sum_a pi(a|s) Q(s, a)
    return V, Q


pi_old = tree_policy(0.6, 0.5)
V, Q = values(pi_old)
print(" state  V(s)   action  pi(a|s)  Q(s,a)  A(s,a)")
for s in [(), ("A",), ("B",)]:
    name = "x" + "".join(s)
    for a in VOCAB:
        adv = Q[s, a] - V[s]
        print(f" {name:5s}  {V[s]:.2f}   {a:6s}  {pi_old[s][a]:.2f}     {Q[s, a]:.2f}    {adv:+.2f}")
    assert abs(sum(pi_old[s][a] * (Q[s, a] - V[s]) for a in VOCAB)) < 1e-12  # E_a[A(s, a)] = 0
assert abs(V[()] - 0.3) < 1e-12 and abs(Q[(), "A"] - 0.5) < 1e-12 and abs(Q[("A",), "B"] - 1.0) < 1e-12

# %%
fig, ax = plt.subplots(figsize=(9, 4.2))
DX = 2.4  # horizontal distance between levels
nodes = {(): (0, 0), ("A",): (DX, 1.6), ("B",): (DX, -1.6)}
for s in [("A",), ("B",)]:
    for a, dy in (("A", 0.75), ("B", -0.75)):
        nodes[s + (a,)] = (2 * DX, nodes[s][1] + dy)
for s in [(), ("A",), ("B",)]:
    for a in VOCAB:
        (x0, y0), (x1, y1) = nodes[s], nodes[s + (a,)]
        ax.annotate("", xy=(x1 - 0.3, y1), xytext=(x0 + 0.3, y0), arrowprops={"arrowstyle": "->", "color": "gray"})
        label = f"{a}: π = {pi_old[s][a]:.1f}\nQ = {Q[s, a]:.1f}, A = {Q[s, a] - V[s]:+.1f}"
        ax.text((x0 + x1) / 2, (y0 + y1) / 2, label, ha="center", va="center", fontsize=8,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none"})  # fmt: skip
for s, (x, y) in nodes.items():
    if len(s) < 2:
        ax.add_patch(plt.Circle((x, y), 0.3, color="#c6dbef", zorder=3))
        ax.text(x, y, f"x{''.join(s)}\nV = {V[s]:.2f}", ha="center", va="center", fontsize=8, zorder=4)
    else:
        reward = float(s == GOAL)
        ax.text(x - 0.25, y, f"x{''.join(s)}: r = {reward:.0f}", va="center", fontsize=9, color="C3" if reward else "k")
ax.set_xlim(-0.4, 2 * DX + 1.3)
ax.set_ylim(-2.6, 2.6)
ax.set_aspect("equal")
ax.axis("off")
ax.set_title("Two tokens from {A, B}, reward 1 for 'A B': values, Q and advantages under π_old", fontsize=10)
fig.tight_layout()
plt.savefig(FIG / "mdp_tree.png", bbox_inches="tight")
plt.show()

# %% [markdown]
# ## 4. The policy-gradient theorem, exactly and by sampling
#
# Give the tree policy one logit per state, $\pi(B|s) = \sigma(\theta_s)$ (a two-way softmax over $[0, \theta_s]$),
# so $\theta_{old} = [\ln(0.4/0.6), 0, 0]$. The theorem says
# $\nabla J = \mathbb{E}_\tau[\sum_t \nabla \log \pi(a_t|s_t) \, \Psi_t]$ for $\Psi_t$ = the whole return $R(\tau)$,
# the reward-to-go $G_t$, or $G_t - b(s_t)$. With four trajectories we can take the expectation exactly
# and compare with autograd's gradient of $J(\theta) = \pi(A|x)\,\pi(B|xA)$: all three agree. Then we
# sample: the Monte-Carlo average converges to the same vector.

# %% [markdown]
# **Your turn: `softmax_score` and `reward_to_go`** (★☆☆, about 10 minutes each). The score
# function $\nabla_z \log \mathrm{softmax}(z)_a$ is the building block of every policy gradient below;
# the reward-to-go is what each action is credited with. Write them in your copy, or define
# `my_softmax_score` / `my_reward_to_go` in this cell instead of taking them from `impl`.

# %% tags=["workbook"]
my_softmax_score = impl.foundations.softmax_score
my_reward_to_go = impl.foundations.reward_to_go
check_exercise("foundations.softmax_score", my_softmax_score)
check_exercise("foundations.reward_to_go", my_reward_to_go)

# %%
theta_old = torch.tensor([math.log(0.4 / 0.6), 0.0, 0.0], dtype=torch.float64)  # pi(B|x) = 0.4, q = 0.5, u = 0.5
STATE_INDEX = {(): 0, ("A",): 1, ("B",): 2}


def state_logits(theta: torch.Tensor, s: tuple) -> torch.Tensor:
    """[logit of A, logit of B] at state s: a two-way softmax over [0, theta] (pi(B|s) = sigmoid(theta))."""
    return torch.stack([torch.zeros((), dtype=theta.dtype), theta[STATE_INDEX[s]]])


def trajectories():
    for a0 in (0, 1):
        for a1 in (0, 1):
            yield [((), a0), ((VOCAB[a0],), a1)]


def objective(theta: torch.Tensor) -> torch.Tensor:
    """J(theta) = sum over the 4 responses of P(response) * reward."""
    total = torch.zeros((), dtype=theta.dtype)
    for traj in trajectories():
        prob = torch.ones((), dtype=theta.dtype)
        for s, a in traj:
            prob = prob * torch.softmax(state_logits(theta, s), 0)[a]
        total = total + prob * float(tuple(VOCAB[a] for _, a in traj) == GOAL)
    return total


theta = theta_old.clone().requires_grad_(True)
(autograd_grad,) = torch.autograd.grad(objective(theta), theta)

# the theorem, exactly: sum over trajectories of P(tau) * sum_t score_t * Psi_t
exact = {
    "R(tau)": torch.zeros(3, dtype=torch.float64),
    "G_t": torch.zeros(3, dtype=torch.float64),
    "G_t - V(s_t)": torch.zeros(3, dtype=torch.float64),
}
for traj in trajectories():
    probs = [torch.softmax(state_logits(theta_old, s), 0)[a].item() for s, a in traj]
    response = tuple(VOCAB[a] for _, a in traj)
    rewards = torch.tensor([[0.0, float(response == GOAL)]], dtype=torch.float64)
    G = my_reward_to_go(rewards, gamma=1.0)[0]  # [2]
    for t, (s, a) in enumerate(traj):
        # d log pi(a|s) / d theta_s: the softmax score of the two-way softmax, its second entry (logit theta_s)
        score = my_softmax_score(state_logits(theta_old, s), torch.tensor(a))[1].item()
        grad_t = torch.zeros(3, dtype=torch.float64)
        grad_t[STATE_INDEX[s]] = score
        weight = math.prod(probs)
        exact["R(tau)"] += weight * grad_t * rewards.sum().item()
        exact["G_t"] += weight * grad_t * G[t].item()
        exact["G_t - V(s_t)"] += weight * grad_t * (G[t].item() - V[s])
print(f"autograd dJ/dtheta      {autograd_grad.numpy().round(4)}")
for name, g in exact.items():
    print(f"E[sum_t score * {name:12s}] {g.numpy().round(4)}")
    assert torch.allclose(g, autograd_grad, atol=1e-12)

# %% [markdown]
# The sampled estimate: draw N responses from $\pi_{old}$, average $\sum_t \nabla\log\pi \cdot \Psi_t$. Each
# component converges to the exact value at the rate $1/\sqrt{N}$; with $\Psi_t = G_t - V(s_t)$ the error
# is smaller for the same N (section 5 says why).

# %%
gen = torch.Generator().manual_seed(0)


def sampled_gradients(n: int, baseline: bool) -> torch.Tensor:
    """[n, 3] one policy-gradient estimate per sampled response (all n sampled at once)."""
    rows = torch.arange(n)
    a0 = (torch.rand(n, generator=gen, dtype=torch.float64) < torch.sigmoid(theta_old[0])).long()  # [n] 1 = B
    second = 1 + a0  # [n] index of the second state: 1 = xA, 2 = xB
    a1 = (torch.rand(n, generator=gen, dtype=torch.float64) < torch.sigmoid(theta_old[second])).long()  # [n]
    reward = ((a0 == 0) & (a1 == 1)).double()  # [n] 1 for "A B"; G_0 = G_1 = reward (gamma = 1)
    zeros = torch.zeros(n, dtype=torch.float64)
    score0 = my_softmax_score(torch.stack([zeros, theta_old[0].expand(n)], -1), a0)[:, 1]  # [n] d log pi / d theta_0
    score1 = my_softmax_score(torch.stack([zeros, theta_old[second]], -1), a1)[:, 1]  # [n] d log pi / d theta_s
    b0 = V[()] if baseline else 0.0
    b1 = torch.tensor([V[("A",)], V[("B",)]], dtype=torch.float64)[a0] if baseline else zeros  # [n] V(s_1)
    grads = torch.zeros(n, 3, dtype=torch.float64)
    grads[:, 0] = score0 * (reward - b0)
    grads[rows, second] += score1 * (reward - b1)
    return grads


for baseline in (False, True):
    g = sampled_gradients(4000, baseline)
    label = "G_t - V(s_t)" if baseline else "G_t"
    print(f"N = 4000, Psi = {label:12s}: mean {g.mean(0).numpy().round(4)}, "
          f"std of the mean {(g.std(0) / math.sqrt(len(g))).numpy().round(4)}")  # fmt: skip

# %% [markdown]
# ## 5. Baselines: the same mean gradient, less variance
#
# The notes' bandit: three arms with expected rewards $r = [1, 0, 0.5]$ and logits $[0, 0, \ln 2]$, so
# $\pi = [1/4, 1/4, 1/2]$ and $J = 0.5$. The single-sample estimate $g = (r_a - b)\,(\mathrm{onehot}(a) - \pi)$
# has mean $\pi \odot (r - J) = [0.125, -0.125, 0]$ for every constant $b$, and total variance
# $\mathbb{E}\|g\|^2 - \|\mathbb{E} g\|^2$: 0.234375 at $b = 0$, 0.078125 at $b = 0.5$. Left: the variance as $b$ varies
# (a parabola, smallest at $b^* = \mathbb{E}[r\|s\|^2]/\mathbb{E}[\|s\|^2]$, here 0.5). Right: REINFORCE on a
# Bernoulli bandit whose rewards all get +5: nothing changes in expectation, but without a baseline
# every sampled arm is pushed up by about 5 and the learning curve gets noisy; with the leave-one-out
# baseline the offset cancels exactly.

# %%
bandit_logits = torch.tensor([0.0, 0.0, math.log(2.0)], dtype=torch.float64)
r = torch.tensor([1.0, 0.0, 0.5], dtype=torch.float64)
pi = torch.softmax(bandit_logits, 0)
J = (pi * r).sum().item()
scores = torch.stack([my_softmax_score(bandit_logits, torch.tensor(a)) for a in range(3)])  # [K, K]
exact_grad = pi * (r - J)


def mean_and_variance(b: float) -> tuple[torch.Tensor, float]:
    g = (r - b)[:, None] * scores  # [K, K] estimate if arm a is drawn
    mean = pi @ g
    return mean, ((pi * (g**2).sum(-1)).sum() - (mean**2).sum()).item()


for b in (0.0, 0.5):
    mean, var = mean_and_variance(b)
    print(f"b = {b}: E[g] = {mean.numpy().round(4)}, total variance {var:.6f}")
    assert torch.allclose(mean, exact_grad)
norms = (scores**2).sum(-1)  # [K] |score(a)|^2
b_star = ((pi * r * norms).sum() / (pi * norms).sum()).item()
print(f"optimal constant baseline b* = E[r |s|^2] / E[|s|^2] = {b_star:.4f}  (J = {J})")
assert abs(mean_and_variance(0.0)[1] - 0.234375) < 1e-12 and abs(mean_and_variance(0.5)[1] - 0.078125) < 1e-12

# %%
bs = np.linspace(-0.5, 1.5, 81)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
ax = axes[0]
ax.plot(bs, [mean_and_variance(b)[1] for b in bs], color="C0", lw=2, label="total variance of g")
ax.plot(
    bs, [mean_and_variance(b)[0].norm().item() for b in bs], color="C2", ls="--", label="|E[g]| (the same for every b)"
)
for b in (0.0, 0.5):
    ax.plot([b], [mean_and_variance(b)[1]], "o", color="C3")
    ax.annotate(
        f"b = {b}: {mean_and_variance(b)[1]:.4f}",
        (b, mean_and_variance(b)[1]),
        textcoords="offset points",
        xytext=(8, 8),
        fontsize=8,
    )
ax.set_xlabel("constant baseline b")
ax.set_title("3-arm bandit, π = [1/4, 1/4, 1/2], r = [1, 0, 0.5]")
ax.legend(fontsize=8)

ax = axes[1]
SEEDS = range(5)
for baseline, color in (("none", "C3"), ("leave-one-out", "C0")):
    runs = np.array([train_bandit(baseline=baseline, reward_offset=5.0, seed=s) for s in SEEDS])
    ax.plot(runs.mean(0), color=color, lw=2, label=f"baseline: {baseline} (mean of {len(SEEDS)} seeds)")
    ax.fill_between(range(runs.shape[1]), runs.min(0), runs.max(0), color=color, alpha=0.15)
    print(
        f"reward +5, baseline {baseline:13s}: expected reward after 100 steps, mean {runs[:, -1].mean():.3f}, worst seed {runs[:, -1].min():.3f}"
    )
ax.axhline(0.8, color="k", ls="--", lw=1, label="best arm 0.8")
ax.set_xlabel("SGD step (16 episodes each)")
ax.set_ylabel("expected reward of the policy")
ax.set_title("Bernoulli arms [0.2, 0.5, 0.8], every reward +5 (band: min to max)")
ax.legend(fontsize=8, loc="lower right")
fig.tight_layout()
plt.savefig(FIG / "baseline_variance.png", bbox_inches="tight")
plt.show()

# %% [markdown]
# ## 6. REINFORCE learns (and a sign flip unlearns)
#
# `train_bandit` samples 16 arms from the softmax policy, draws Bernoulli rewards, and takes an SGD
# step on `reinforce_loss` with the leave-one-out baseline. The expected reward climbs from 0.5
# (uniform) towards 0.8; minimising the negative of the loss instead (the most common bug) drives the
# policy to the worst arm. `tests/test_foundations.py` runs both on your `reinforce_loss`, and also
# trains chapter 03's probe with it.

# %% [markdown]
# **Your turn: `reinforce_loss`** (★★☆, about 15 minutes). The loss whose gradient is minus the
# REINFORCE estimate. Write it in your copy or define `my_reinforce_loss` here; the curves below then
# show your learner (a function that is not written yet leaves them empty).

# %% tags=["workbook"]
my_reinforce_loss = impl.foundations.reinforce_loss
check_exercise("foundations.reinforce_loss", my_reinforce_loss)

# %%
try:
    learner_curves = {s: train_bandit(my_reinforce_loss, seed=s) for s in range(3)}
except NotImplementedError as err:  # the learner has not written it yet
    print(f"{err}: plotting the reference only")
    learner_curves = {}
reference_curves = {s: train_bandit(reinforce_loss, seed=s) for s in range(3)}
flipped = train_bandit(lambda *a, **k: -reinforce_loss(*a, **k), seed=0)

fig, ax = plt.subplots(figsize=(8.5, 3.5))
for s, c in reference_curves.items():
    ax.plot(c, color=plt.cm.Blues(0.5 + 0.2 * s), label=f"reference, seed {s}")
for s, c in learner_curves.items():
    ax.plot(c, color="C1", ls=":", lw=2, label="yours (RL_IMPL)" if s == 0 else None)
ax.plot(flipped, color="C3", label="sign flipped, seed 0")
ax.axhline(0.5, color="gray", ls="--", lw=1, label="uniform policy 0.5")
ax.set_ylim(0.1, 0.85)
ax.set_xlabel("SGD step (16 episodes each)")
ax.set_ylabel("expected reward of the policy")
ax.set_title("REINFORCE with a leave-one-out baseline on arms [0.2, 0.5, 0.8]")
ax.legend(fontsize=8, loc="lower left", ncol=2)
fig.tight_layout()
plt.savefig(FIG / "bandit_learning.png", bbox_inches="tight")
plt.show()
for s, c in reference_curves.items():
    print(f"seed {s}: {c[0]:.3f} -> {c[-1]:.3f}")
print(f"sign flipped: {flipped[0]:.3f} -> {flipped[-1]:.3f}")

# %% [markdown]
# ## 7. Importance sampling, and why PPO uses per-token ratios
#
# $\mathbb{E}_\pi[f] = \mathbb{E}_\mu[\frac{\pi(x)}{\mu(x)} f(x)]$: samples of one distribution $\mu$ estimate an
# expectation under another, $\pi$. The notes' example: $\mu = [0.5, 0.5]$, $\pi = [0.8, 0.2]$, $f = [1, 0]$,
# so $\mathbb{E}_\pi f = 0.8$; the weights are $[1.6, 0.4]$. Left: the spread of a 100-sample estimate grows as
# $\pi$ moves away from $\mu$ (the estimate stays unbiased). Right: a whole response's ratio is the
# product of its per-token ratios, and the variance of a product of $T$ independent ratios is
# $(\mathbb{E}[w^2])^T - 1$: exponential in the length. PPO therefore weights each token by its own ratio
# (and clips it), which is only right while the two policies are close: section 8.

# %% [markdown]
# **Your turn: `importance_sampling_estimate`** (★☆☆, about 10 minutes).

# %% tags=["workbook"]
my_importance_sampling_estimate = impl.foundations.importance_sampling_estimate
check_exercise("foundations.importance_sampling_estimate", my_importance_sampling_estimate)

# %%
mu = torch.tensor([0.5, 0.5], dtype=torch.float64)
f = torch.tensor([1.0, 0.0], dtype=torch.float64)
x = torch.tensor([0, 1])
worked = importance_sampling_estimate(f[x], torch.tensor([0.8, 0.2], dtype=torch.float64).log()[x], mu.log()[x])
print(f"one sample of each action: estimate {worked.item():.4f} (E_pi f = 0.8)")

ps = np.linspace(0.5, 0.98, 13)
REPEATS, N = 200, 100
spread, centre = [], []
log_mu = mu.log()
for p in ps:
    log_target = torch.tensor([p, 1 - p], dtype=torch.float64).log()
    xs = torch.multinomial(mu, REPEATS * N, replacement=True, generator=gen).view(REPEATS, N)  # [R, N] from mu
    est = torch.stack([importance_sampling_estimate(f[row], log_target[row], log_mu[row]) for row in xs])  # [R]
    spread.append(est.std().item())
    centre.append(est.mean().item() - p)
# exact variance of one weighted sample: E_mu[(w f)^2] - (E_pi f)^2 = p^2 / 0.5 - p^2 = p^2
exact_std = ps / math.sqrt(N)

lengths = np.arange(1, 201)
per_token = {"π/μ = 1.02 or 0.98": (1.02**2 + 0.98**2) / 2, "π/μ = 1.1 or 0.9": (1.1**2 + 0.9**2) / 2}

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
ax = axes[0]
ax.plot(ps, spread, "o", ms=4, color="C0", label=f"std of {REPEATS} estimates (N = {N})")
ax.plot(ps, exact_std, color="C0", lw=1, label="exact: p / sqrt(N)")
ax.plot(ps, centre, "x", ms=4, color="C2", label="mean estimate - E_π f (bias, ~0)")
ax.set_xlabel("π(action 0) = p, sampling from μ = [0.5, 0.5]")
ax.set_title("importance sampling E_π[f] with f = [1, 0]")
ax.legend(fontsize=8)
ax = axes[1]
for (label, second_moment), color in zip(per_token.items(), ("C0", "C3")):
    ax.semilogy(lengths, second_moment**lengths - 1, color=color, label=f"per token {label} (equally likely)")
ax.set_xlabel("response length T (tokens)")
ax.set_ylabel("variance of the product of T ratios")
ax.set_title("one ratio for a whole response: (E[w²])^T - 1")
ax.legend(fontsize=8)
fig.tight_layout()
plt.savefig(FIG / "importance_sampling.png", bbox_inches="tight")
plt.show()
assert max(abs(c) for c in centre) < 0.02  # unbiased at every p

# %% [markdown]
# ## 8. The surrogate against the true objective
#
# Back on the tree of section 3, with $p = \pi(A|x)$ and $q = \pi(B|xA)$: the true objective is $J = pq$.
# PPO's surrogate keeps the *old* policy's states and advantages and reweights only the action:
# $L(\theta) = J(\theta_{old}) + \mathbb{E}_{s \sim \pi_{old}} \sum_a \pi_\theta(a|s) A_{old}(s, a) = 0.5p + 0.6q - 0.3$.
# The performance-difference lemma makes $J - L = (p - 0.6)(q - 0.5)$: second order, so the two share
# their value and gradient at $\theta_{old}$ and part ways far from it. Left: $J$ and $L$ along one
# direction in logit space, with the region where every per-token ratio stays in $[0.8, 1.2]$ shaded;
# right: the gap over $(p, q)$.

# %% [markdown]
# **Your turn: `surrogate_loss`** (★☆☆, about 10 minutes). Its gradient at $\theta_{old}$ must equal
# `reinforce_loss`'s; the check also looks away from $\theta_{old}$.

# %% tags=["workbook"]
my_surrogate_loss = impl.foundations.surrogate_loss
check_exercise("foundations.surrogate_loss", my_surrogate_loss)


# %%
def true_and_surrogate(p: float, q: float) -> tuple[float, float]:
    V_old, Q_old = values(pi_old)
    new = tree_policy(p, q)
    J_new = values(new)[0][()]
    # L = J_old + sum_s d_old(s) sum_a pi_new(a|s) A_old(s, a); d_old(x) = 1, d_old(xA) = 0.6, d_old(xB) = 0.4
    d_old = {(): 1.0, ("A",): pi_old[()]["A"], ("B",): pi_old[()]["B"]}
    L = V_old[()] + sum(d_old[s] * new[s][a] * (Q_old[s, a] - V_old[s]) for s in d_old for a in VOCAB)
    return J_new, L


for p, q in ((0.6, 0.5), (0.9, 0.9), (0.72, 0.6)):
    J_new, L = true_and_surrogate(p, q)
    print(
        f"p = {p:.2f}, q = {q:.2f}: J = {J_new:.4f}, L = {L:.4f}, J - L = {J_new - L:+.4f} = (p - 0.6)(q - 0.5) = {(p - 0.6) * (q - 0.5):+.4f}"
    )
    assert abs((J_new - L) - (p - 0.6) * (q - 0.5)) < 1e-12

# one sampled response, "A B", at theta_old: the surrogate and REINFORCE have the same gradient
lp_old = torch.tensor([[math.log(0.6), math.log(0.5)]], dtype=torch.float64)
adv = torch.tensor([[0.2, 0.5]], dtype=torch.float64)  # A(x, A), A(xA, B) on the response "A B"
lp = lp_old.clone().requires_grad_(True)
(g_sur,) = torch.autograd.grad(surrogate_loss(lp, lp_old, adv, torch.ones(1, 2)), lp)
(g_rf,) = torch.autograd.grad(reinforce_loss(lp, adv, torch.ones(1, 2)), lp)
print(
    f"response 'A B' at theta_old: d surrogate / d log pi = {g_sur.numpy().round(4)}, d reinforce / d log pi = {g_rf.numpy().round(4)}"
)
assert torch.allclose(g_sur, g_rf)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


steps = np.linspace(-2.5, 2.5, 201)
logit_p, logit_q = math.log(0.6 / 0.4), 0.0
path = [(sigmoid(logit_p + t), sigmoid(logit_q + t)) for t in steps]  # both logits move together
JL = np.array([true_and_surrogate(p, q) for p, q in path])
ratios = np.array([[p / 0.6, (1 - p) / 0.4, q / 0.5, (1 - q) / 0.5] for p, q in path])
inside = (ratios >= 0.8).all(1) & (ratios <= 1.2).all(1)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.25, 1]})
ax = axes[0]
ax.plot(steps, JL[:, 0], color="k", lw=2, label="true objective J = pq")
ax.plot(steps, JL[:, 1], color="C0", lw=2, ls="--", label="surrogate L (old states, reweighted actions)")
ax.fill_between(steps, 0, 1, where=inside, color="C2", alpha=0.15, label="every ratio in [0.8, 1.2]")
ax.axvline(0, color="gray", lw=0.8)
ax.set_ylim(-0.1, 1.0)
ax.set_xlabel("step t along the logit direction (1, 1): p = σ(θ_p + t), q = σ(θ_q + t)")
ax.set_ylabel("expected reward")
ax.set_title("J and L touch at θ_old (t = 0)")
ax.legend(fontsize=8, loc="upper left")
ax = axes[1]
P, Qg = np.meshgrid(np.linspace(0.01, 0.99, 99), np.linspace(0.01, 0.99, 99))
gap = (P - 0.6) * (Qg - 0.5)
im = ax.contourf(P, Qg, gap, levels=np.linspace(-0.3, 0.3, 13), cmap="RdBu_r")
# the ratios of both actions at x and at xA in [0.8, 1.2]: p in [0.52, 0.68], q in [0.4, 0.6]
p_lo, p_hi = max(0.6 * 0.8, 1 - 0.4 * 1.2), min(0.6 * 1.2, 1 - 0.4 * 0.8)
q_lo, q_hi = max(0.5 * 0.8, 1 - 0.5 * 1.2), min(0.5 * 1.2, 1 - 0.5 * 0.8)
ax.add_patch(plt.Rectangle((p_lo, q_lo), p_hi - p_lo, q_hi - q_lo, fill=False, ec="k", lw=1.2))
ax.plot([0.6], [0.5], "k*", ms=10)
ax.set_xlabel("p = π(A|x)")
ax.set_ylabel("q = π(B|xA)")
ax.set_title("J - L = (p - 0.6)(q - 0.5); box: ratios in [0.8, 1.2]")
fig.colorbar(im, ax=ax)
fig.tight_layout()
plt.savefig(FIG / "surrogate_vs_objective.png", bbox_inches="tight")
plt.show()
worst_gap = max(abs(a - 0.6) for a in (p_lo, p_hi)) * max(abs(b - 0.5) for b in (q_lo, q_hi))
print(f"inside the box p in [{p_lo:.2f}, {p_hi:.2f}], q in [{q_lo:.2f}, {q_hi:.2f}]: |J - L| <= {worst_gap:.3f}")
