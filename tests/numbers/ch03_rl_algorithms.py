# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#the-setting-one-response-is-one-episode
"""Every worked number of chapter 03, computed by the reference code on the inputs of the checks."""

from __future__ import annotations

import ast
import inspect
import math

import torch

from minimal_impl import gae, grpo, kl, masked, ppo, probe
from scripts.check_numbers import ROOT, Asserted, Cited, Computed, Given
from tests.checks import grpo as grpo_checks
from tests.checks import kl as kl_checks
from tests.checks import masked as masked_checks
from tests.checks import ppo as ppo_checks

NOTE = "learning_notes/03_rl_algorithms/README.md"
COMPLETE = True

# ------------------------------------------------------------------------------ masked statistics
V, M = masked_checks.VALUES, masked_checks.MASK


def _masked() -> list:
    valid = V[M.bool()]
    mean = masked.masked_mean(V, M)
    squares = (valid - mean) ** 2
    return [
        V.flatten().tolist(),
        M.flatten().tolist(),
        valid.tolist(),
        mean,
        masked.masked_mean(V, M, dim=-1).tolist(),
        squares.tolist(),
        squares.sum(),
        masked.masked_var(V, M, unbiased=False),
        masked.masked_var(V, M, unbiased=False),
        masked.masked_var(V, M),
        masked.masked_var(V, M),
    ]


# ------------------------------------------------------------------------------ PPO
EPS = 0.2
RATIOS, ADV = ppo_checks.RATIOS, ppo_checks.ADVANTAGES


def _policy(dual: float | None = None, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, dict, torch.Tensor]:
    logprobs, old, adv, ones = ppo_checks._policy_inputs()
    loss, stats = ppo.ppo_policy_loss(logprobs, old, adv, ones if mask is None else mask, clip_low=EPS, dual_clip=dual)
    loss.backward()
    return loss.detach(), stats, logprobs.grad


def _ppo_row(i: int, j: int, gradient: bool) -> list:
    """One row of the notes' table: A, r, -A r, -A clip(r), loss, (the gradient 0), loss with dual clip c = 3."""
    a, r = ADV[i, j].item(), RATIOS[i, j].item()
    one = torch.zeros(2, 3)
    one[i, j] = 1.0
    loss, _, grad = _policy(mask=one)
    dual, _, _ = _policy(dual=3.0, mask=one)
    row = [a, r, -a * r, -a * min(max(r, 1 - EPS), 1 + EPS), loss]
    return row + ([grad[i, j]] if gradient else []) + [dual]


def _gradients() -> list:
    _, _, plain = _policy()
    clipped = torch.tensor([[True, False, False], [True, False, False]])  # the two clipped tokens
    _, _, dual = _policy(dual=3.0)
    return [
        [RATIOS.numel(), plain[clipped].abs().max()],
        [RATIOS[1, 2], 3.0, dual[1, 2], (dual * 6).flatten().tolist(), RATIOS.numel()],
    ]


# ------------------------------------------------------------------------------ value loss
VALUES = torch.tensor([[1.0, 0.0, 0.6]])
OLD_VALUES = torch.tensor([[0.5, 0.5, 0.5]])
RETURNS = torch.tensor([[2.0, 0.0, 1.0]])


def _value_loss() -> list:
    clipped = torch.clamp(VALUES, OLD_VALUES - 0.2, OLD_VALUES + 0.2)
    errors, errors_clipped = (VALUES - RETURNS) ** 2, (clipped - RETURNS) ** 2
    worst = torch.maximum(errors, errors_clipped)
    loss, stats = ppo.value_loss(VALUES, OLD_VALUES, RETURNS, torch.ones(1, 3), clip=0.2)
    return [
        VALUES.tolist(),
        OLD_VALUES.tolist(),
        RETURNS.tolist(),
        0.2,
        clipped.tolist(),
        errors.tolist(),
        errors_clipped.tolist(),
        worst.tolist(),
        0.5,
        worst.sum() / 3,
        loss,
        stats["vf_clipfrac"],
    ]


# ------------------------------------------------------------------------------ GAE
R4, V4 = torch.tensor([[0.0, 0.0, 0.0, 1.0]]), torch.tensor([[0.5, 0.5, 0.6, 0.8]])


def _gae_steps() -> list:
    adv, ret = gae.compute_gae(R4, V4, torch.ones(1, 4), gamma=1.0, lam=0.5)
    v = V4[0].tolist()
    next_v = v[1:] + [0.0]
    delta = [R4[0, t].item() + next_v[t] - v[t] for t in range(4)]
    a = adv[0].tolist()
    return {
        "inputs": [R4[0].tolist(), v, 1.0, 0.5],
        "deltas": [1, v[3], delta[3], next_v[2], v[2], delta[2], next_v[1], v[1], delta[1], next_v[0], v[0], delta[0]],
        "advantages": [
            a[3],
            delta[2],
            0.5,
            a[3],
            a[2],
            delta[1],
            0.5,
            a[2],
            a[1],
            delta[0],
            0.5,
            a[1],
            a[0],
        ],  # fmt: skip
        "returns": ret[0].tolist(),
    }


def _gae_masked() -> list:
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0, 1.0]])
    rewards = torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0]])
    values = torch.tensor([[0.5, 0.5, 9.0, 9.0, 0.8]])
    adv, _ = gae.compute_gae(rewards, values, mask, gamma=1.0, lam=1.0)
    return [mask.tolist(), rewards.tolist(), values.tolist(), 1, adv.tolist(), rewards[0, -1], values[0, 0]]


# ------------------------------------------------------------------------------ KL
LN2 = math.log(2.0)


def _k(kind: str, p: float, q: float) -> float:
    return kl.kl_estimate(torch.tensor([[math.log(p)]]), torch.tensor([[math.log(q)]]), kind).item()


def _kl_tokens() -> list:
    return [
        [0.5, 0.25, LN2, _k("k1", 0.5, 0.25), _k("k2", 0.5, 0.25), 0.5, 1, LN2, _k("k3", 0.5, 0.25)],
        [0.25, 0.5, -LN2, _k("k1", 0.25, 0.5), _k("k2", 0.25, 0.5)],
        [2, 1, LN2, _k("k3", 0.25, 0.5)],
    ]


P3 = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
Q3 = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)


def _kl_convergence() -> list:
    true_kl = float((P3 * (P3 / Q3).log()).sum())
    logp, logq = P3.log().view(1, 3), Q3.log().view(1, 3)
    k2_mean = float((P3 * kl.kl_estimate(logp, logq, "k2")[0]).sum())  # E_p[l^2 / 2], exactly
    return [P3.tolist(), Q3.tolist(), 0.3, 2.5, true_kl, 200_000, 0.01, k2_mean]


def _kl_reward() -> list:
    scores = torch.tensor([[0.0, 0.0, 1.0]])
    old = torch.log(torch.tensor([[0.5, 0.5, 0.5]]))
    ref = torch.log(torch.tensor([[0.25, 0.5, 0.5]]))
    rewards, current = kl.kl_penalty_rewards(scores, old, ref, torch.ones(1, 3), beta=0.1, kind="k1")
    # "ln 2 / 3": the first token's k1 (ln 2) over the 3 tokens of the one sequence
    return [scores.tolist(), 0.5, 0.25, 0.1, rewards.tolist(), 2, scores.shape[1], current]


def _adaptive(current_kl: float, n_steps: int) -> float:
    ctl = kl.AdaptiveKLController(init_kl_coef=0.1, target_kl=0.05, horizon=1000)
    ctl.update(current_kl=current_kl, n_steps=n_steps)
    return ctl.value


# ------------------------------------------------------------------------------ GRPO
SCORES4 = torch.tensor([1.0, 0.0, 0.0, 1.0])


def _grpo_group() -> list:
    g = grpo.grpo_advantages(SCORES4, [0] * 4)
    dr = grpo.grpo_advantages(SCORES4, [0] * 4, scale_by_std=False)
    rloo = grpo.rloo_advantages(SCORES4, [0] * 4)
    std = SCORES4.std().item()
    deviation = (SCORES4 - SCORES4.mean()).abs()
    return [
        SCORES4.tolist(),
        SCORES4.mean(),
        4, 0.25, 3, std,
        deviation[0] / std, g[0],
        dr[0],
        1, 1 / 3, rloo[0],
        0, 2 / 3, rloo[1],
    ]  # fmt: skip


# ------------------------------------------------------------------------------ the probe
_probe = {name: p.default for name, p in inspect.signature(probe.train_probe).parameters.items()}


def _probe_seeds() -> list[int]:
    """The seeds tests/test_probe.py::test_probe_learns is parametrized with, read from its source."""
    tree = ast.parse((ROOT / "tests/test_probe.py").read_text(encoding="utf-8"))
    test = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "test_probe_learns")
    call = next(d for d in test.decorator_list if isinstance(d, ast.Call) and ast.literal_eval(d.args[0]) == "seed")
    return ast.literal_eval(call.args[1])


# ------------------------------------------------------------------------------ aggregation and entropy
def _aggregation() -> list:
    loss, mask = ppo_checks.AGG_LOSS, ppo_checks.AGG_MASK
    agg = {mode: ppo.aggregate_loss(loss, mask, mode) for mode in ppo.AGG_MODES}
    rows = [[1, 2, 3], [4, 6]]
    return [
        rows[0], rows[1],
        masked.masked_sum(loss, mask) / mask.sum(), agg["token-mean"],
        sum(rows[0]), sum(rows[1]), 2, agg["seq-mean-token-sum"],
        sum(rows[0]) / 3, sum(rows[1]) / 2, 2, agg["seq-mean-token-mean"],
        agg["seq-mean-token-sum"] / mask.shape[-1], agg["seq-mean-token-sum-norm"],
    ]  # fmt: skip


def _entropy() -> list:
    h = ppo.entropy_from_logits(torch.tensor([[[0.0, 0.0, 0.0, 0.0], [0.0, math.log(3.0), -1e9, -1e9]]]))[0]
    return [4, 4, h[0], 0.25, 0.75, h[1]]


NUMBERS = [
    # masked statistics
    Computed(
        "`[[1, 2, 3], [4, 5, 6]]`, mask `[[1, 1, 0], [1, 0, 0]]`. The valid values are 1, 2, 4: mean `7/3`,\n"
        "per-row means `[1.5, 4]`; squared deviations `16/9 + 1/9 + 25/9 = 42/9`, so the biased variance is\n"
        "`42/27 ≈ 1.556` and the unbiased one `42/18 ≈ 2.333`",
        _masked,
    ),
    # PPO
    Cited(
        "with the log-ratio clamped to ±20 first",
        "verl 0.9.1 core_algos.compute_policy_loss_vanilla: torch.clamp(negative_approx_kl, min=-20.0, max=20.0)",
    ),
    Given("Case analysis (ε = 0.2):", "the clip range of the worked example (the checks use clip_low=0.2)"),
    Computed("the objective grows with `r` until `r = 1.2`", lambda: 1 + EPS),
    Computed("flat below `r = 0.8`", lambda: 1 - EPS),
    Cited("(0.28 vs 0.2)", "DAPO, arXiv 2503.14476: eps_low = 0.2, eps_high = 0.28"),
    Computed("| +1 | 1.5 | −1.5 | −1.2 | −1.2 | yes, gradient 0 | −1.2 |", lambda: _ppo_row(0, 0, True)),
    Computed("| +1 | 0.5 | −0.5 | −0.8 | −0.5 | no | −0.5 |", lambda: _ppo_row(0, 1, False)),
    Computed("| +1 | 1.1 | −1.1 | −1.1 | −1.1 | no (inside) | −1.1 |", lambda: _ppo_row(0, 2, False)),
    Computed("| −1 | 0.5 | 0.5 | 0.8 | 0.8 | yes, gradient 0 | 0.8 |", lambda: _ppo_row(1, 0, True)),
    Computed("| −1 | 1.5 | 1.5 | 1.2 | 1.5 | no | 1.5 |", lambda: _ppo_row(1, 1, False)),
    Computed("| −1 | 4.0 | 4.0 | 1.2 | 4.0 | no | **3.0** |", lambda: _ppo_row(1, 2, False)),
    Computed(
        "Token-mean loss: `3.5 / 6 ≈ 0.5833`; with dual clip `2.5 / 6 ≈ 0.4167`",
        lambda: [_policy()[0]] * 2 + [_policy(dual=3.0)[0]] * 2,
    ),
    Computed(
        "clipped term is strictly larger) is `2/6`, `clipfrac_lower` (dual clip active) `1/6`",
        lambda: [_policy()[1]["clipfrac"], _policy(dual=3.0)[1]["clipfrac_lower"]],
    ),
    Computed(
        "the gradient with respect to `logp` is `−A·r/6` on unclipped tokens and exactly 0 on the two\nclipped ones",
        lambda: _gradients()[0],
    ),
    Computed(
        "With dual clip, the `r = 4` token's loss is the\nconstant `−A·c = 3`, so its gradient is 0 as well: three "
        "tokens stop pulling, and only the three\nwith `r` inside their region keep a gradient, "
        "`[0, −0.5, −1.1 | 0, 1.5, 0] / 6`",
        lambda: _gradients()[1],
    ),
    # value loss
    Computed(
        "`V = [1.0, 0.0, 0.6]`,\n`V_old = [0.5, 0.5, 0.5]`, `R = [2.0, 0.0, 1.0]`, `c = 0.2`. `V_clip = [0.7, 0.3, 0.6]`; "
        "squared errors\n`(1, 0, 0.16)` and clipped `(1.69, 0.09, 0.16)`; the max is `(1.69, 0.09, 0.16)`, so\n"
        "`L_V = 0.5 · 1.94 / 3 ≈ 0.3233` and `vf_clipfrac = 2/3`",
        _value_loss,
        at=(
            "`V = [1.0, 0.0, 0.6]`",
            "`V_old = [0.5, 0.5, 0.5]`, `R = [2.0, 0.0, 1.0]`, `c = 0.2`. `V_clip = [0.7, 0.3, 0.6]`",
            "`(1, 0, 0.16)` and clipped `(1.69, 0.09, 0.16)`; the max is `(1.69, 0.09, 0.16)`",
            "`L_V = 0.5 · 1.94 / 3 ≈ 0.3233` and `vf_clipfrac = 2/3`",
        ),
    ),
    # GAE
    Cited("classic control uses γ = 0.99, λ = 0.95", "Schulman et al. 2015 (arXiv 1506.02438) and common PPO defaults"),
    Computed(
        "rewards `[0, 0, 0, 1]`,\nvalues `[0.5, 0.5, 0.6, 0.8]`, γ = 1, λ = 0.5.",
        lambda: _gae_steps()["inputs"],
    ),
    Computed(
        "`δ_3 = 1 − 0.8 = 0.2`,\n`δ_2 = 0.8 − 0.6 = 0.2`, `δ_1 = 0.6 − 0.5 = 0.1`, `δ_0 = 0.5 − 0.5 = 0`",
        lambda: _gae_steps()["deltas"],
    ),
    Computed(
        "`A_3 = 0.2`, `A_2 = 0.2 + 0.5·0.2 = 0.3`, `A_1 = 0.1 + 0.5·0.3 = 0.25`, `A_0 = 0 + 0.5·0.25 = 0.125`",
        lambda: _gae_steps()["advantages"],
        at=("= 0.2`, `A_2 = 0.2 + 0.5·0.2 = 0.3`, `A_1 = 0.1 + 0.5·0.3 = 0.25`, `A_0 = 0 + 0.5·0.25 = 0.125`",),
    ),
    Computed("returns `A + V = [0.625, 0.75, 0.9, 1.0]`", lambda: _gae_steps()["returns"]),
    Computed(
        "mask `[1, 1, 0, 0, 1]`, rewards\n`[0, 0, 0, 0, 1]`, values `[0.5, 0.5, 9, 9, 0.8]` (the 9s are garbage on tool "
        "tokens), γ = λ = 1:\n`A = [0.5, 0.5, 0.2, 0.2, 0.2]`. The first two equal `1 − 0.5`, as Monte-Carlo says; "
        "the 9s never",
        _gae_masked,
    ),
    # KL
    Computed("For\n`ρ ≈ 1`", lambda: 1.0),
    Cited(
        "`log ρ` to ±20 and k3 to ±10",
        "verl 0.9.1 core_algos.kl_penalty (low_var_kl): clamp to [-20, 20] and [-10, 10]",
    ),
    Computed(
        "`π = 0.5, π_ref = 0.25` has `l = ln 2 ≈ 0.6931`: k1 = 0.6931, k2 = 0.2402, k3 = `0.5 − 1 + 0.6931 =\n0.1931`",
        lambda: _kl_tokens()[0],
        at=("`π = 0.5, π_ref = 0.25`", "≈ 0.6931`: k1 = 0.6931, k2 = 0.2402, k3 = `0.5 − 1 + 0.6931 =\n0.1931`"),
    ),
    Computed(
        "`π = 0.25, π_ref = 0.5` has `l = −0.6931`: k1 = −0.6931, k2 = 0.2402",
        lambda: _kl_tokens()[1],
    ),
    Computed("k3 = `2 − 1 − 0.6931 = 0.3069`", lambda: _kl_tokens()[2], at="`2 − 1 − 0.6931 = 0.3069`"),
    Computed(
        "`p = [0.5, 0.3, 0.2]`,\n`q = [0.2, 0.3, 0.5]`, `KL(p‖q) = 0.3 ln 2.5 ≈ 0.2749`; over 200,000 samples k1 and "
        "k3 both land within\n0.01 of it and k3 has the smaller variance. k2 converges to `E[l²]/2 ≈ 0.2939`",
        _kl_convergence,
        at=(
            "`p = [0.5, 0.3, 0.2]`,\n`q = [0.2, 0.3, 0.5]`, `KL(p‖q) = 0.3 ln 2.5 ≈ 0.2749`; over 200,000",
            "within\n0.01 of it",
            "≈ 0.2939`",
        ),
    ),
    Asserted(
        "over 200,000 samples k1 and k3 both land within\n0.01 of it",
        test="tests/checks/kl.py::kl_monte_carlo_converges",
        at=("200,000", "0.01"),
    ),
    Computed(
        "Worked: scores\n  `[0, 0, 1]`, the first token with `π = 0.5, π_ref = 0.25`, β = 0.1: rewards `[−0.0693, 0, 1]`, and "
        "the\n  reported KL is the mean of per-sequence means, `ln 2 / 3 ≈ 0.231`",
        _kl_reward,
    ),
    Computed(
        "β = 0.1, target 0.05,\nhorizon 1000, a batch of 64 with KL 0.1 (error clipped to +0.2) gives "
        "`β = 0.1 · 1.0128 = 0.10128`;\nKL 0.04 gives `0.09872`; KL 0.055 (error +0.1, inside the clip) gives "
        "`0.1 · 1.0064 = 0.10064`, and\n`0.1 · 1.01 = 0.101` for a batch of 100",
        lambda: [
            0.1,
            0.05,
            1000,
            64,
            0.1,
            0.2,
            0.1,
            _adaptive(0.1, 64) / 0.1,
            _adaptive(0.1, 64),
            0.04,
            _adaptive(0.04, 64),
            0.055,
            0.055 / 0.05 - 1,
            0.1,
            _adaptive(0.055, 64) / 0.1,
            _adaptive(0.055, 64),
            0.1,
            _adaptive(0.055, 100) / 0.1,
            _adaptive(0.055, 100),
            100,
        ],  # fmt: skip
    ),
    Given("clip(KL/target − 1, −0.2, 0.2)", "the controller's clip (Ziegler et al. 2019), part of the formula"),
    # GRPO
    Computed(
        "scores `[1, 0, 0, 1]`: `μ = 0.5`,\nunbiased `σ = sqrt((4 · 0.25)/3) = 0.5774`, so GRPO gives "
        "`±0.5/0.5774 = ±0.8660`; Dr.GRPO `±0.5`; RLOO\n`1 − 1/3 = +0.6667` and `0 − 2/3 = −0.6667`",
        _grpo_group,
    ),
    # aggregation, entropy
    Computed(
        "losses `[[1, 2, 3, ·], [4, 6, ·, ·], [·, ·, ·, ·]]`\n(· masked; the third response is empty): token-mean "
        "`16/5 = 3.2`; seq-mean-token-sum `(6 + 10)/2 = 8`;\nseq-mean-token-mean `(2 + 5)/2 = 3.5`; "
        "seq-mean-token-sum-norm `8 / 4 = 2`",
        _aggregation,
    ),
    Computed(
        "Uniform over 4 tokens gives `ln 4 ≈ 1.386`, `[0.25, 0.75]` gives `0.5623`",
        _entropy,
    ),
    # the probe
    Computed(
        "a table of logits (5 positions × 8 tokens) is the policy, a response is 5\nsampled tokens, the reward is the "
        "share that match a hidden target (chance 1/8). Each step samples 4\ngroups of 8, computes GRPO advantages, "
        "and takes 2 clipped-loss steps with Adam.",
        lambda: [
            _probe["length"],
            _probe["vocab_size"],
            _probe["length"],
            1 / _probe["vocab_size"],
            _probe["groups"],
            _probe["group_size"],
            _probe["ppo_epochs"],
        ],
    ),
    Asserted(
        "On each of 3 seeds the\nreward starts near chance (below 0.3 at the first step) and ends above 0.9 (the mean "
        "of the last 5 of\n60 steps)",
        test="tests/test_probe.py::test_probe_learns",
        at=("below 0.3", "above 0.9"),
    ),
    Computed("On each of 3 seeds", lambda: len(_probe_seeds())),
    Asserted("the mean of the last 5", test="tests/test_probe.py::_final_reward"),
    Computed("of\n60 steps", lambda: _probe["steps"]),
    Asserted(
        "with the advantage's sign flipped it ends below 0.1",
        test="tests/test_probe.py::test_probe_fails_with_sign_error",
    ),
    # checklist
    Cited(
        "1. **Clamp the log-ratio** to ±20 before `exp` (policy loss) and `log ρ` to ±20, k3 to ±10 (KL).",
        "verl 0.9.1 core_algos: compute_policy_loss_vanilla and kl_penalty",
    ),
    Given("`dual_clip=3.0` matches verl", "verl's default clip_ratio_c = 3"),
]

__all__ = ["COMPLETE", "NOTE", "NUMBERS", "grpo_checks", "kl_checks"]
