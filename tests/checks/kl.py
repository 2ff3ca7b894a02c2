# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#kl-estimators-k1-k2-k3
"""Checks for minimal_impl/kl.py: estimator values, k3 >= 0, Monte-Carlo convergence, controllers."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._util import expect_close, expect_true, run_checks

LN2 = math.log(2.0)
K3_INVERTED = (
    "k3 is inverted: k3 = rho - 1 - log rho with rho = pi_ref / pi = exp(-l), l = logprobs - ref_logprobs; "
    "you used exp(+l)"
)
# notes: token 1 has pi = 0.5, pi_ref = 0.25 (l = ln 2); token 2 has pi = 0.25, pi_ref = 0.5 (l = -ln 2)
LOGP = torch.tensor([[math.log(0.5), math.log(0.25)]])
REF = torch.tensor([[math.log(0.25), math.log(0.5)]])


def kl_estimate_hand_worked(fn: Callable) -> None:
    expected = {
        "k1": [LN2, -LN2],
        "abs": [LN2, LN2],
        "k2": [0.5 * LN2**2, 0.5 * LN2**2],
        "k3": [0.5 - 1 + LN2, 2 - 1 - LN2],
        "low_var_kl": [0.5 - 1 + LN2, 2 - 1 - LN2],
    }
    inverted_k3 = [[2 - 1 - LN2, 0.5 - 1 + LN2]]  # exp(l) - 1 - l
    mistakes = {
        "k1": [([[-LN2, LN2]], "the sign is flipped: k1 = l = logprobs - ref_logprobs")],
        "abs": [([[LN2, -LN2]], "abs is |l|, the absolute log-ratio")],
        "k2": [([[LN2**2, LN2**2]], "the 1/2 is missing: k2 = l^2 / 2")],
        "k3": [(inverted_k3, K3_INVERTED), ([[LN2, -LN2]], "this is k1: k3 = exp(-l) - 1 + l")],
        "low_var_kl": [(inverted_k3, K3_INVERTED)],
    }
    for kind, values in expected.items():
        expect_close(
            f"kind {kind}",
            fn(LOGP, REF, kind),
            [values],
            {"logprobs": LOGP, "ref_logprobs": REF, "kind": kind},
            convention="verl's names are accepted too: kl = k1, mse = k2, low_var_kl = k3"
            if kind == "low_var_kl"
            else "",
            mistakes=mistakes[kind],
        )


def kl_k3_nonnegative_and_clamped(fn: Callable) -> None:
    gen = torch.Generator().manual_seed(0)
    logp = torch.randn(64, 32, generator=gen) * 5
    ref = torch.randn(64, 32, generator=gen) * 5
    k3 = fn(logp, ref, "k3")
    expect_true(
        "k3 >= 0",
        bool((k3 >= 0).all()),
        "k3 must be non-negative for any inputs (log y <= y - 1): a negative value means a wrong sign or exponent",
        {"min": k3.min()},
    )
    extreme = fn(torch.tensor([[0.0]]), torch.tensor([[100.0]]), "k3")
    expect_close(
        "k3 of a huge log-ratio is clamped to 10",
        extreme,
        [[10.0]],
        {"logprobs": 0.0, "ref_logprobs": 100.0},
        convention="like verl, k3 clamps log(pi_ref / pi) to [-20, 20] before exp and the result to [-10, 10], so "
        "that one wild token cannot dominate the batch",
    )


def kl_monte_carlo_converges(fn: Callable) -> None:
    p = torch.tensor([0.5, 0.3, 0.2])
    q = torch.tensor([0.2, 0.3, 0.5])
    true_kl = float((p * (p / q).log()).sum())  # KL(p || q) = 0.3 ln 2.5
    gen = torch.Generator().manual_seed(0)
    samples = torch.multinomial(p, 200_000, replacement=True, generator=gen)
    logp, logq = p.log()[samples].unsqueeze(0), q.log()[samples].unsqueeze(0)
    estimates = {kind: fn(logp, logq, kind) for kind in ("k1", "k3")}
    for kind, est in estimates.items():
        expect_close(
            f"mean of {kind} over 200k samples -> KL(p||q)", est.mean(), true_kl, {"p": p, "q": q}, atol=0.01, rtol=0
        )
    expect_true(
        "variance",
        bool(estimates["k3"].var() < estimates["k1"].var()),
        "k3 should have lower variance than k1",
        {"p": p, "q": q},
    )


def kl_straight_through_gradient(fn: Callable) -> None:
    logp = LOGP.clone().requires_grad_(True)
    value = fn(logp, REF, "k3+")
    expect_close("k3+ has the value of k3", value, [[0.5 - 1 + LN2, 2 - 1 - LN2]], {"kind": "k3+"})
    value.sum().backward()
    # gradient of k2 = l^2/2 is l
    expect_close(
        "k3+ has the gradient of k2 (= l)",
        logp.grad,
        [[LN2, -LN2]],
        {"kind": "k3+"},
        convention="verl's straight-through '+': the value of the estimator, the gradient of k2, which is an "
        "unbiased estimate of the gradient of KL",
        mistakes=[
            ([[0.5, -1.0]], "this is k3's own gradient (1 - exp(-l)): build value = k2 - k2.detach() + k3.detach()"),
            ([[0.0, 0.0]], "no gradient flows: the k2 part must keep its graph (only the k3 part is detached)"),
        ],
    )


def kl_penalty_rewards_hand_worked(fn: Callable) -> None:
    scores = torch.tensor([[0.0, 0.0, 1.0]])
    old = torch.log(torch.tensor([[0.5, 0.5, 0.5]]))
    ref = torch.log(torch.tensor([[0.25, 0.5, 0.5]]))
    mask = torch.ones(1, 3)
    inputs = {"token_scores": scores, "old_logprobs": old, "ref_logprobs": ref, "beta": 0.1, "kind": "k1"}
    rewards, current_kl = fn(scores, old, ref, mask, beta=0.1, kind="k1")
    expect_close(
        "r_t = s_t - beta * k1_t",
        rewards,
        [[-0.1 * LN2, 0.0, 1.0]],
        inputs,
        mistakes=[([[0.1 * LN2, 0.0, 1.0]], "the penalty was added: r_t = s_t - beta * KL_t")],
    )
    expect_close(
        "batch KL = mean of per-sequence means",
        current_kl,
        LN2 / 3,
        inputs,
        convention="verl reports the masked mean per sequence, then the mean over sequences",
        mistakes=[(LN2, "the KL was summed over tokens instead of averaged")],
    )


def kl_loss_hand_worked(fn: Callable) -> None:
    mask = torch.tensor([[1.0, 0.0]])
    inputs = {"logprobs": LOGP, "ref_logprobs": REF, "mask": mask, "kind": "k3"}
    expect_close(
        "token-mean k3 over the valid token",
        fn(LOGP, REF, mask, kind="k3"),
        0.5 - 1 + LN2,
        inputs,
        mistakes=[(0.25, "the masked second token counted: aggregate with the mask (aggregate_loss)")],
    )


def adaptive_controller_hand_worked(cls: Callable) -> None:
    ctl = cls(init_kl_coef=0.1, target_kl=0.05, horizon=1000)
    ctl.update(current_kl=0.1, n_steps=64)  # error clipped to +0.2
    expect_close(
        "KL above target: beta *= 1 + 0.2 * 64 / 1000",
        ctl.value,
        0.1 * 1.0128,
        {"current_kl": 0.1, "target_kl": 0.05, "n_steps": 64, "horizon": 1000},
        mistakes=[
            (0.1 * 1.064, "the proportional error KL / target - 1 = 1.0 was not clipped to [-0.2, 0.2]"),
            (0.1 + 0.2 * 64 / 1000, "the update is additive; it is multiplicative: beta *= 1 + error * n / horizon"),
            (0.1 * 1.2, "n_steps / horizon is missing: the change per update is error * n_steps / horizon"),
            (0.1 * 0.9872, "the sign is flipped: a KL above target must raise beta"),
        ],
    )
    ctl = cls(init_kl_coef=0.1, target_kl=0.05, horizon=1000)
    ctl.update(current_kl=0.04, n_steps=64)  # error -0.2
    expect_close("KL below target: beta *= 1 - 0.2 * 64 / 1000", ctl.value, 0.1 * 0.9872, {"current_kl": 0.04})
    ctl = cls(init_kl_coef=0.1, target_kl=0.05, horizon=1000)
    ctl.update(current_kl=0.055, n_steps=100)  # error 0.1, inside the clip
    expect_close("KL 10% above target: beta *= 1 + 0.1 * 100 / 1000", ctl.value, 0.1 * 1.01, {"current_kl": 0.055})


KL_ESTIMATE_CHECKS = [
    kl_estimate_hand_worked,
    kl_k3_nonnegative_and_clamped,
    kl_monte_carlo_converges,
    kl_straight_through_gradient,
]
KL_PENALTY_CHECKS = [kl_penalty_rewards_hand_worked]
KL_LOSS_CHECKS = [kl_loss_hand_worked]
ADAPTIVE_KL_CHECKS = [adaptive_controller_hand_worked]


def check_kl_estimate(fn: Callable, verbose: bool = True) -> None:
    run_checks("kl_estimate", fn, KL_ESTIMATE_CHECKS, verbose)


def check_kl_penalty_rewards(fn: Callable, verbose: bool = True) -> None:
    run_checks("kl_penalty_rewards", fn, KL_PENALTY_CHECKS, verbose)


def check_kl_loss(fn: Callable, verbose: bool = True) -> None:
    run_checks("kl_loss", fn, KL_LOSS_CHECKS, verbose)


def check_adaptive_kl(cls: Callable, verbose: bool = True) -> None:
    run_checks("AdaptiveKLController", cls, ADAPTIVE_KL_CHECKS, verbose)


# (module, exercise name) -> checks; tests/checks/__init__.py merges these into REGISTRY
EXERCISE_CHECKS = {
    ("kl", "kl_estimate"): KL_ESTIMATE_CHECKS,
    ("kl", "kl_penalty_rewards"): KL_PENALTY_CHECKS,
    ("kl", "kl_loss"): KL_LOSS_CHECKS,
    ("kl", "AdaptiveKLController.update"): ADAPTIVE_KL_CHECKS,
}
