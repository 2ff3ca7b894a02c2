# Chapter 00 notes: learning_notes/00_foundations/README.md#token-generation-as-an-mdp
"""Every worked number of chapter 00, computed by the reference code (minimal_impl/foundations.py) on the
worked examples' inputs, and the two-token tree by the notebook's own functions (notebooks/00_foundations.py)."""

from __future__ import annotations

import inspect
import math
from functools import cache

import torch

from minimal_impl import foundations, probe
from scripts.check_numbers import Asserted, Computed, Given
from tests.numbers._notebook import run_sections

NOTE = "learning_notes/00_foundations/README.md"
COMPLETE = True

NOTEBOOK = "notebooks/00_foundations.py"
F64 = torch.float64


def _tree() -> dict:
    """The notebook's two-token tree (section 3) and its surrogate (section 8): pi_old, V, Q, true_and_surrogate."""
    return run_sections(NOTEBOOK, 3, 8)


# ------------------------------------------------------------------------------ returns
def _reward_to_go() -> list:
    r = [1.0, 0.0, 2.0]
    g = foundations.reward_to_go(torch.tensor([r]), gamma=0.5)[0].tolist()
    g1 = foundations.reward_to_go(torch.tensor([r]), gamma=1.0)[0].tolist()
    terminal = foundations.reward_to_go(torch.tensor([[0.0, 0.0, 0.0, 1.0]]), gamma=0.9)[0].tolist()
    return [
        r, 0.5,
        g[2],
        r[1], 0.5, g[2], g[1],
        r[0], 0.5, g[1], g[0],
        1, g1,
        1, 0.9, terminal,
    ]  # fmt: skip


# ------------------------------------------------------------------------------ the two-token tree
def _tree_table_row(state: tuple, action: str) -> list:
    nb = _tree()
    pi, V, Q = nb["pi_old"], nb["V"], nb["Q"]
    return [V[state], pi[state][action], Q[state, action], Q[state, action] - V[state]]


def _tree_row_xB() -> list:
    nb = _tree()
    pi, V, Q = nb["pi_old"], nb["V"], nb["Q"]
    s = ("B",)
    assert pi[s]["A"] == pi[s]["B"] and Q[s, "A"] == Q[s, "B"]  # the row "A or B" stands for both
    return [V[s], pi[s]["A"], Q[s, "A"], Q[s, "A"] - V[s]]


def _tree_backup() -> list:
    nb = _tree()
    pi, V, Q = nb["pi_old"], nb["V"], nb["Q"]
    x, xa = (), ("A",)
    adv = {a: Q[x, a] - V[x] for a in "AB"}
    assert Q[x, "A"] == V[xa]
    return [
        Q[x, "A"],
        pi[x]["A"], Q[x, "A"], pi[x]["B"], Q[x, "B"], V[x],
        pi[x]["A"], pi[xa]["B"],
        pi[x]["A"], adv["A"], pi[x]["B"], adv["B"], sum(pi[x][a] * adv[a] for a in "AB"),
        adv["A"],
    ]  # fmt: skip


# ------------------------------------------------------------------------------ scores and the bandit
BANDIT_LOGITS = torch.tensor([0.0, 0.0, math.log(2.0)], dtype=F64)
BANDIT_REWARDS = torch.tensor([1.0, 0.0, 0.5], dtype=F64)


def _pi() -> torch.Tensor:
    return torch.softmax(BANDIT_LOGITS, -1)


def _score(action: int) -> list[float]:
    return foundations.softmax_score(BANDIT_LOGITS, torch.tensor(action)).tolist()


def _bandit_grad() -> torch.Tensor:
    pi = _pi()
    return pi * (BANDIT_REWARDS - (pi * BANDIT_REWARDS).sum())  # dJ/dz_k = pi_k (r_k - J)


def _bandit_gradient() -> list:
    pi, r = _pi(), BANDIT_REWARDS
    J = (pi * r).sum()
    # autograd as the oracle of the closed form
    z = BANDIT_LOGITS.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad((torch.softmax(z, -1) * r).sum(), z)
    assert torch.allclose(auto, _bandit_grad())
    return [r.tolist(), J, [pi[0], r[0] - J, pi[1], r[1] - J, pi[2], r[2] - J], auto.tolist()]


def _g(action: int, b: float) -> list[float]:
    return [(BANDIT_REWARDS[action].item() - b) * s for s in _score(action)]


def _variance_row(action: int) -> list:
    return [action, _pi()[action], BANDIT_REWARDS[action], _score(action), _g(action, 0.0), _g(action, 0.5)]


def _moments(b: float) -> tuple[list[float], float, list[float]]:
    """Per-arm ||g||^2, E||g||^2 and E[g] of the single-sample estimate with baseline b."""
    pi = _pi()
    norms = [sum(v * v for v in _g(a, b)) for a in range(3)]
    mean = [sum(pi[a].item() * _g(a, b)[k] for a in range(3)) for k in range(3)]
    return norms, sum(pi[a].item() * norms[a] for a in range(3)), mean


def _variance() -> list:
    pi = _pi().tolist()
    n0, e0, mean0 = _moments(0.0)
    n5, e5, mean5 = _moments(0.5)
    assert all(abs(a - b) < 1e-12 for a, b in zip(mean0, mean5))  # both columns average to the same E[g]
    mean_sq = sum(m * m for m in mean0)
    assert n5[0] == n5[1] and n0[1] == 0
    return [
        mean0,
        pi[0], n0[0], pi[2], n0[2], e0,
        pi[0], n5[0], 2, e5,
        mean_sq, e0 - mean_sq, e5 - mean_sq,
    ]  # fmt: skip


def _optimal_baseline() -> list:
    pi, r = _pi(), BANDIT_REWARDS
    norms = torch.tensor([sum(v * v for v in _score(a)) for a in range(3)], dtype=F64)
    num, den = (pi * r * norms).sum().item(), (pi * norms).sum().item()
    return [num / den, num / den]


# ------------------------------------------------------------------------------ the policy-gradient theorem
def _reinforce_worked() -> list:
    lp, ret, ones = torch.tensor([[-1.0, -2.0]]), torch.tensor([[1.0, 3.0]]), torch.ones(1, 2)
    plain = foundations.reinforce_loss(lp, ret, ones)
    base = foundations.reinforce_loss(lp, ret, ones, baseline=1.0)
    return [lp[0].tolist(), ret[0].tolist(), 1, -1, 3, -2, plain, 1, 0, -1, 2, -2, base]


def _theorem_exact() -> list:
    theta = torch.tensor([math.log(0.4 / 0.6), 0.0, 0.0], dtype=F64, requires_grad=True)
    sig = torch.sigmoid(theta)
    (grad,) = torch.autograd.grad((1 - sig[0]) * sig[1], theta)  # J = (1 - sigma(theta_0)) sigma(theta_1)
    p_b_x, q = sig[0].item(), sig[1].item()
    two_way = lambda t: torch.stack([torch.zeros((), dtype=F64), t.detach()])  # noqa: E731  [logit A, logit B]
    score_a_at_x = foundations.softmax_score(two_way(theta[0]), torch.tensor(0))[1].item()  # d log pi(A|x) / d theta_0
    score_b_at_xa = foundations.softmax_score(two_way(theta[1]), torch.tensor(1))[1].item()
    prob_ab = (1 - p_b_x) * q
    expectation = [prob_ab * score_a_at_x, prob_ab * score_b_at_xa, 0.0]
    assert all(abs(a - b) < 1e-12 for a, b in zip(expectation, grad.tolist()))
    return [
        0.4, 0.6, 0, 0,
        1, grad.tolist(),
        -p_b_x, 1 - p_b_x, q, 1 - p_b_x, q, 1 - q,
        prob_ab, 1, score_a_at_x, 1, q, score_b_at_xa,
        prob_ab, score_a_at_x, score_b_at_xa, 0,
        expectation,
    ]  # fmt: skip


# ------------------------------------------------------------------------------ importance sampling
def _importance_sampling() -> list:
    mu, pi, f = [0.5, 0.5], [0.8, 0.2], [1.0, 0.0]
    e_pi = sum(p * v for p, v in zip(pi, f))
    w = [p / m for p, m in zip(pi, mu)]
    x = torch.tensor([0, 1])
    log_pi, log_mu = torch.tensor(pi, dtype=F64).log(), torch.tensor(mu, dtype=F64).log()
    estimate = foundations.importance_sampling_estimate(torch.tensor(f, dtype=F64)[x], log_pi[x], log_mu[x])
    second = sum(m * (wi * v) ** 2 for m, wi, v in zip(mu, w, f))  # E_mu[(w f)^2]
    return [
        mu, pi, f, e_pi, w,
        w[0], f[0], w[1], f[1], 2, estimate,
        e_pi, mu[0], (w[0] * f[0]) ** 2, e_pi**2, second - e_pi**2,
        pi[0], pi[1], pi[0] * pi[1],
    ]  # fmt: skip


def _product_variance() -> list:
    """Var of a product of T independent per-token ratios: (E[w^2])^T - 1, for two equally likely values each."""
    (hi1, lo1), (hi2, lo2), t = (1.1, 0.9), (1.02, 0.98), 200
    m1, m2 = (hi1**2 + lo1**2) / 2, (hi2**2 + lo2**2) / 2
    return [hi1, lo1, m1, m1, t, 1, m1**t - 1, t, hi2, lo2, m2, t, 1, m2**t - 1]


def _surrogate_worked() -> list:
    lp, old, adv = torch.tensor([[math.log(0.6)]]), torch.tensor([[math.log(0.5)]]), torch.tensor([[2.0]])
    loss = foundations.surrogate_loss(lp, old, adv, torch.ones(1, 1))
    return [0.6, 0.5, 2, (lp - old).exp(), loss]


def _surrogate_tree() -> list:
    nb = _tree()
    pi, V, Q = nb["pi_old"], nb["V"], nb["Q"]
    a_x = {a: Q[(), a] - V[()] for a in "AB"}
    a_xa = {a: Q[("A",), a] - V[("A",)] for a in "AB"}
    # at x: sum_a pi_new(a|x) A_old(x, a) = A(x,A) p + A(x,B) (1 - p) = (A(x,A) - A(x,B)) p + A(x,B)
    # at xA, visited with the old probability pi_old(A|x): pi_old(A|x) (A(xA,B) q + A(xA,A) (1 - q))
    d_xa = pi[()]["A"]
    return [
        pi[()]["A"], pi[("A",)]["B"],
        1, -a_x["B"], 1, -a_x["B"],  # 0.2p − 0.3(1 − p) = 0.5p − 0.3 (the coefficients of p are names: 0.2p, 0.5p)
        d_xa,
        d_xa, -a_xa["A"], 1, d_xa * -a_xa["A"],  # 0.6·(0.5q − 0.5(1 − q)) = 0.6q − 0.3
        0,
    ]  # fmt: skip


def _gap() -> list:
    true_and_surrogate = _tree()["true_and_surrogate"]
    j1, l1 = true_and_surrogate(0.72, 0.6)
    j2, l2 = true_and_surrogate(0.9, 0.9)
    return [j1 - l1, 0.72, 0.6, j2 - l2, 0.9, j2, l2]


def _trust_region() -> list:
    pi = _tree()["pi_old"]
    p, q = pi[()]["A"], pi[("A",)]["B"]
    lo, hi = 0.8, 1.2
    # every per-token ratio in [0.8, 1.2]: p/p_old and (1 - p)/(1 - p_old), q/q_old and (1 - q)/(1 - q_old)
    p_box = (max(lo * p, 1 - hi * (1 - p)), min(hi * p, 1 - lo * (1 - p)))
    q_box = (max(lo * q, 1 - hi * (1 - q)), min(hi * q, 1 - lo * (1 - q)))
    dp, dq = max(abs(v - p) for v in p_box), max(abs(v - q) for v in q_box)
    return [p, lo, hi, p_box, q_box, dp, dq, dp * dq]


# ------------------------------------------------------------------------------ learning
_bandit = {name: p.default for name, p in inspect.signature(foundations.train_bandit).parameters.items()}
_probe = {name: p.default for name, p in inspect.signature(probe.train_probe).parameters.items()}


@cache
def _bandit_runs() -> dict:
    curves = [foundations.train_bandit(foundations.reinforce_loss, seed=s) for s in range(3)]  # the tests' seeds
    flipped = foundations.train_bandit(lambda *a, **k: -foundations.reinforce_loss(*a, **k), seed=0)
    return {"starts": [c[0] for c in curves], "ends": [c[-1] for c in curves], "flipped": flipped[-1]}


@cache
def _probe_start() -> float:
    """tests/test_foundations.py::test_reinforce_learns_the_probe: REINFORCE, leave-one-out baseline, seed 0."""

    def policy_loss(logprobs, old_logprobs, advantages, mask):
        return foundations.reinforce_loss(logprobs, advantages, mask), {}

    def advantages(scores, group_ids):
        return scores - foundations.BASELINES["leave-one-out"](scores)

    return probe.train_probe(policy_loss, advantages, ppo_epochs=1, seed=0)[0]


NUMBERS = [
    # returns
    Computed(
        "rewards `[1, 0, 2]`, `γ = 0.5`:\n`G_2 = 2`, `G_1 = 0 + 0.5·2 = 1`, `G_0 = 1 + 0.5·1 = 1.5`; with `γ = 1` they "
        "are `[3, 2, 2]`. A reward of 1\non the last of four tokens with `γ = 0.9` gives `[0.729, 0.81, 0.9, 1]`",
        _reward_to_go,
    ),
    # the two-token tree
    Computed(
        "The policy: `π(A|x) = 0.6`,\n`π(B|xA) = 0.5`, `π(B|xB) = 0.5`.",
        lambda: [_tree()["pi_old"][s][a] for s, a in (((), "A"), (("A",), "B"), (("B",), "B"))],
    ),
    Computed("| x | 0.3 | A | 0.6 | 0.5 | +0.2 |", lambda: _tree_table_row((), "A")),
    Computed("| x | 0.3 | B | 0.4 | 0 | −0.3 |", lambda: _tree_table_row((), "B")),
    Computed("| xA | 0.5 | A | 0.5 | 0 | −0.5 |", lambda: _tree_table_row(("A",), "A")),
    Computed("| xA | 0.5 | B | 0.5 | 1 | +0.5 |", lambda: _tree_table_row(("A",), "B")),
    Computed("| xB | 0 | A or B | 0.5 | 0 | 0 |", _tree_row_xB),
    Computed(
        "`Q(x, A) = V(xA) = 0.5` and `V(x) = 0.6·0.5 + 0.4·0 = 0.3`, which is also the expected reward\n"
        '`J = P("A B") = 0.6·0.5`. Check the zero mean at `x`: `0.6·0.2 + 0.4·(−0.3) = 0`. The first token A is\n'
        "good (+0.2)",
        _tree_backup,
    ),
    # the policy-gradient theorem
    Computed(
        "logits `[0, 0, ln 2]` give\n`π = [1/4, 1/4, 1/2]`; the score of action 0 is `[0.75, −0.25, −0.5]`, of action 2 "
        "`[−0.25, −0.25, 0.5]`.",
        lambda: [BANDIT_LOGITS[:2].tolist(), BANDIT_LOGITS[2].exp(), _pi().tolist(), 0, _score(0), 2, _score(2)],
    ),
    Computed(
        "The notes' bandit: `r = [1, 0, 0.5]` with the logits above, `J = 0.5`, so\n"
        "`∇J = [0.25·0.5, 0.25·(−0.5), 0.5·0] = [0.125, −0.125, 0]`.",
        _bandit_gradient,
    ),
    Computed(
        "log-probs `[−1, −2]`, returns\n`[1, 3]`: loss `−(1·(−1) + 3·(−2)) = 7`; with baseline 1, `−(0·(−1) + 2·(−2)) "
        "= 4`.",
        _reinforce_worked,
    ),
    Computed(
        "`θ_old = [ln(0.4/0.6), 0, 0]`. `J = (1 − σ(θ_0)) σ(θ_1)`, and autograd gives `∇J = [−0.12, 0.15, 0]`\n"
        "(`−0.4·0.6·0.5` and `0.6·0.5·0.5`). The theorem gets the same vector from the four trajectories: only\n"
        '"A B" (probability 0.3, reward 1) has a nonzero return, its scores are `−0.4` for A at `x` (the logit of B\n'
        "at `x` moves by `−π(B|x)`) and `1 − 0.5 = 0.5` for B at `xA`, so `E[R ∇log P] = 0.3·[−0.4, 0.5, 0] =\n"
        "[−0.12, 0.15, 0]`.",
        _theorem_exact,
    ),
    # variance
    Computed(
        "(`π = [1/4, 1/4, 1/2]`, `r = [1, 0, 0.5]`, deterministic rewards)",
        lambda: [_pi().tolist(), BANDIT_REWARDS.tolist()],
    ),
    Given("| g with b = 0 | g with b = 0.5 |", "the two constant baselines the table compares (inputs)"),
    Computed(
        "| 0 | 1/4 | 1 | [0.75, −0.25, −0.5] | [0.75, −0.25, −0.5] | [0.375, −0.125, −0.25] |", lambda: _variance_row(0)
    ),
    Computed("| 1 | 1/4 | 0 | [−0.25, 0.75, −0.5] | [0, 0, 0] | [0.125, −0.375, 0.25] |", lambda: _variance_row(1)),
    Computed("| 2 | 1/2 | 0.5 | [−0.25, −0.25, 0.5] | [−0.125, −0.125, 0.25] | [0, 0, 0] |", lambda: _variance_row(2)),
    Computed(
        "Both columns average to `E[g] = [0.125, −0.125, 0] = ∇J`. The squared norms average to\n"
        "`E‖g‖² = 0.25·0.875 + 0.5·0.09375 = 0.265625` without the baseline and `0.25·0.21875·2 = 0.109375` with\n"
        "it; subtracting `‖E g‖² = 0.03125` gives a total variance of **0.234375** against **0.078125**",
        _variance,
    ),
    Computed("here `0.3125 / 0.625 = 0.5`", _optimal_baseline),
    # importance sampling
    Computed(
        "`μ = [0.5, 0.5]`,\n`π = [0.8, 0.2]`, `f = [1, 0]`, so `E_π f = 0.8`. The weights are `[1.6, 0.4]`; one "
        "sample of each\naction gives `(1.6·1 + 0.4·0)/2 = 0.8`. The price is variance: one weighted sample has\n"
        "`E_μ[(w f)²] − 0.8² = 0.5·2.56 − 0.64 = 0.64`, four times the `0.8·0.2 = 0.16`",
        _importance_sampling,
    ),
    Computed(
        "ratios of 1.1 or 0.9 (equally likely, so\n`E[w²] = 1.01`) give `1.01^200 − 1 ≈ 6.3` over 200 tokens; 1.02 or "
        "0.98 give `1.0004^200 − 1 ≈ 0.083`.",
        _product_variance,
    ),
    # the surrogate
    Computed("`π_θ = 0.6`,\n  `π_old = 0.5`, `A = 2`: `r = 1.2`, loss `−2.4`.", _surrogate_worked),
    Computed(
        "old policy `p = 0.6, q = 0.5`: the true objective is `J = pq`. The surrogate adds, at `x` (visited with\n"
        "probability 1), `0.2p − 0.3(1 − p) = 0.5p − 0.3`, and at `xA` (visited with the *old* probability 0.6),\n"
        "`0.6·(0.5q − 0.5(1 − q)) = 0.6q − 0.3`; at `xB` every advantage is 0.",
        _surrogate_tree,
    ),
    Computed(
        "0.012 at `p = 0.72, q = 0.6`, but 0.12\nat `p = q = 0.9` (`J = 0.81`, `L = 0.69`).",
        _gap,
    ),
    Computed(
        "with the old 0.6. Keeping every per-token ratio in `[0.8, 1.2]` confines `p` to `[0.52, 0.68]` and `q` to\n"
        "`[0.4, 0.6]`, where `|J − L| ≤ 0.08·0.1 = 0.008`.",
        _trust_region,
    ),
    Computed(
        "two-token example exactly `(p − 0.6)(q − 0.5)`",
        lambda: [_tree()["pi_old"][()]["A"], _tree()["pi_old"][("A",)]["B"]],
    ),
    # learning
    Computed(
        "success probabilities `[0.2, 0.5, 0.8]`, samples 16 arms per step",
        lambda: [list(_bandit["arm_means"]), _bandit["batch"]],
    ),
    *[
        Computed(
            "The\nexpected reward climbs from 0.5 (uniform) to about 0.78 within 100 steps on every seed",
            lambda seed=seed: [_bandit_runs()["starts"][seed], _bandit_runs()["ends"][seed], _bandit["steps"]],
            at=("from 0.5", "about 0.78", "within 100 steps"),
            tol=0.01,
        )
        for seed in range(3)  # the seeds of tests/test_foundations.py::test_reinforce_learns_the_bandit
    ],
    Computed("drives it to the 0.2 arm", lambda: min(_bandit["arm_means"])),
    Computed("drives it to the 0.2 arm", lambda: _bandit_runs()["flipped"], tol=0.02),
    Computed("(a 5-position", lambda: _probe["length"]),
    Computed("from about 0.1", _probe_start),
    Asserted("to above 0.9", test="tests/test_foundations.py::test_reinforce_learns_the_probe"),
    Computed("in 60\nsteps", lambda: _probe["steps"]),
]
