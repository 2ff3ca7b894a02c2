# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#ppo-the-clipped-surrogate
"""Checks for minimal_impl/ppo.py: the A>0 / A<0 clip cases of the notes, aggregation modes, gradients."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._util import expect_close, expect_true, run_checks

# notes: A = +1 on ratios 1.5, 0.5, 1.1 and A = -1 on ratios 0.5, 1.5, 4.0 (eps = 0.2)
RATIOS = torch.tensor([[1.5, 0.5, 1.1], [0.5, 1.5, 4.0]])
ADVANTAGES = torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]])
OLD_LOGPROBS = torch.full((2, 3), -1.0)


def _policy_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    logprobs = (OLD_LOGPROBS + RATIOS.log()).clone().requires_grad_(True)
    return logprobs, OLD_LOGPROBS, ADVANTAGES, torch.ones(2, 3)


def policy_loss_hand_worked(fn: Callable) -> None:
    logprobs, old, adv, mask = _policy_inputs()
    inputs = {"ratio": RATIOS, "advantages": adv, "clip_low": 0.2}
    loss, stats = fn(logprobs, old, adv, mask, clip_low=0.2)
    # per-token losses: -1.2, -0.5, -1.1 | 0.8, 1.5, 4.0 -> mean 3.5 / 6
    expect_close("token-mean clipped loss", loss, 3.5 / 6, inputs)
    expect_close("clipfrac: 2 of 6 tokens take the clipped term", stats["clipfrac"], 2 / 6, inputs)
    expect_close("clipfrac_lower is 0 without dual clip", stats["clipfrac_lower"], 0.0, inputs)
    approx_kl = -sum(math.log(r) for r in RATIOS.flatten().tolist()) / 6
    expect_close("approx_kl = mean(log pi_old - log pi)", stats["approx_kl"], approx_kl, inputs)


def policy_loss_dual_clip(fn: Callable) -> None:
    logprobs, old, adv, mask = _policy_inputs()
    inputs = {"ratio": RATIOS, "advantages": adv, "clip_low": 0.2, "dual_clip": 3.0}
    loss, stats = fn(logprobs, old, adv, mask, clip_low=0.2, dual_clip=3.0)
    # the ratio-4 token with A = -1 is capped at -A * c = 3
    expect_close("dual clip caps the A<0, ratio=4 token at 3", loss, 2.5 / 6, inputs)
    expect_close("clipfrac_lower: 1 of 6 tokens", stats["clipfrac_lower"], 1 / 6, inputs)


def policy_loss_asymmetric_clip(fn: Callable) -> None:
    logprobs, old, adv, mask = _policy_inputs()
    inputs = {"ratio": RATIOS, "advantages": adv, "clip_low": 0.2, "clip_high": 0.28}
    loss, _ = fn(logprobs, old, adv, mask, clip_low=0.2, clip_high=0.28)
    # A>0, ratio 1.5 now clipped at 1.28; the rest unchanged
    expect_close("clip-higher: upper bound 1.28", loss, (-1.28 - 0.5 - 1.1 + 0.8 + 1.5 + 4.0) / 6, inputs)


def policy_loss_gradient_zero_outside_trust_region(fn: Callable) -> None:
    logprobs, old, adv, mask = _policy_inputs()
    loss, _ = fn(logprobs, old, adv, mask, clip_low=0.2, agg="token-mean")
    loss.backward()
    # d(-A r)/d log pi = -A r / 6 where unclipped, 0 where the clipped term is active
    expected = torch.tensor([[0.0, -0.5, -1.1], [0.0, 1.5, 4.0]]) / 6
    inputs = {"ratio": RATIOS, "advantages": adv}
    expect_true("gradient", logprobs.grad is not None, "the loss has no gradient w.r.t. logprobs", inputs)
    expect_close("gradient is 0 where the clip is active, -A*r/N elsewhere", logprobs.grad, expected, inputs)


def policy_loss_edge_cases(fn: Callable) -> None:
    logprobs, old, adv, _ = _policy_inputs()
    zeros = torch.zeros(2, 3)
    loss, stats = fn(logprobs, old, adv, zeros)
    inputs = {"mask": zeros}
    expect_close("all-zero mask: loss 0", loss, 0.0, inputs)
    expect_true("all-zero mask", all(math.isfinite(v) for v in stats.values()), f"non-finite stats {stats}", inputs)
    huge = torch.full((2, 3), 80.0)
    loss, _ = fn(huge, old, adv, torch.ones(2, 3))
    expect_true(
        "log-ratio of 81", math.isfinite(float(loss)), "loss overflowed: clamp the log-ratio", {"logprobs": huge}
    )


def value_loss_hand_worked(fn: Callable) -> None:
    values = torch.tensor([[1.0, 0.0, 0.6]])
    old_values = torch.tensor([[0.5, 0.5, 0.5]])
    returns = torch.tensor([[2.0, 0.0, 1.0]])
    mask = torch.ones(1, 3)
    inputs = {"values": values, "old_values": old_values, "returns": returns, "clip": 0.2}
    loss, stats = fn(values, old_values, returns, mask, clip=0.2)
    # per token max: 1.69, 0.09, 0.16 -> 0.5 * 1.94 / 3
    expect_close("clipped value loss", loss, 0.5 * 1.94 / 3, inputs)
    expect_close("vf_clipfrac: 2 of 3", stats["vf_clipfrac"], 2 / 3, inputs)


def value_loss_edge_cases(fn: Callable) -> None:
    values = torch.tensor([[1.0, 0.0, 0.6]])
    old_values = torch.tensor([[0.5, 0.5, 0.5]])
    returns = torch.tensor([[2.0, 0.0, 1.0]])
    inputs = {"values": values, "old_values": old_values, "returns": returns, "clip": None}
    loss, _ = fn(values, old_values, returns, torch.ones(1, 3), clip=None)
    expect_close("clip=None: plain 0.5 * mean squared error", loss, 0.5 * (1.0 + 0.0 + 0.16) / 3, inputs)
    zeros = torch.zeros(1, 3)
    loss, stats = fn(values, old_values, returns, zeros, clip=0.2)
    expect_close("all-zero mask: loss 0", loss, 0.0, {**inputs, "mask": zeros})
    expect_true("all-zero mask", math.isfinite(stats["vf_clipfrac"]), f"non-finite stats {stats}", inputs)


AGG_LOSS = torch.tensor([[1.0, 2.0, 3.0, 100.0], [4.0, 6.0, 100.0, 100.0], [7.0, 7.0, 7.0, 7.0]])
AGG_MASK = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])


def aggregate_hand_worked(fn: Callable) -> None:
    inputs = {"loss_mat": AGG_LOSS, "mask": AGG_MASK}
    # valid: row 0 -> 1, 2, 3 ; row 1 -> 4, 6 ; row 2 is empty and must not count as a sequence
    expected = {
        "token-mean": 16 / 5,
        "seq-mean-token-sum": (6 + 10) / 2,
        "seq-mean-token-mean": (2 + 5) / 2,
        "seq-mean-token-sum-norm": (6 + 10) / 2 / 4,
    }
    for mode, value in expected.items():
        expect_close(f"mode {mode}", fn(AGG_LOSS, AGG_MASK, mode), value, {**inputs, "mode": mode})
    expect_close(
        "seq-mean-token-sum-norm with loss_scale_factor=8",
        fn(AGG_LOSS, AGG_MASK, "seq-mean-token-sum-norm", loss_scale_factor=8),
        8 / 8,
        {**inputs, "loss_scale_factor": 8},
    )
    expect_close(
        "token-mean with batch_num_tokens=10 (a micro-batch of a larger batch)",
        fn(AGG_LOSS, AGG_MASK, "token-mean", batch_num_tokens=10),
        16 / 10,
        {**inputs, "batch_num_tokens": 10},
    )


def aggregate_edge_cases(fn: Callable) -> None:
    zeros = torch.zeros_like(AGG_MASK)
    for mode in ("token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm"):
        expect_close(
            f"all-zero mask, mode {mode}: 0, not NaN", fn(AGG_LOSS, zeros, mode), 0.0, {"mask": zeros, "mode": mode}
        )
    try:
        fn(AGG_LOSS, AGG_MASK, "token-average")
    except ValueError:
        return
    raise AssertionError("aggregate_loss: an unknown mode must raise ValueError")


def entropy_hand_worked(fn: Callable) -> None:
    logits = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [0.0, math.log(3.0), -1e9, -1e9], [1000.0, 0.0, 0.0, 0.0]]])
    h2 = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    expect_close(
        "entropy: uniform ln 4, [0.25, 0.75], near one-hot", fn(logits), [[math.log(4), h2, 0.0]], {"logits": logits}
    )


AGGREGATE_CHECKS = [aggregate_hand_worked, aggregate_edge_cases]
POLICY_LOSS_CHECKS = [
    policy_loss_hand_worked,
    policy_loss_dual_clip,
    policy_loss_asymmetric_clip,
    policy_loss_gradient_zero_outside_trust_region,
    policy_loss_edge_cases,
]
VALUE_LOSS_CHECKS = [value_loss_hand_worked, value_loss_edge_cases]
ENTROPY_CHECKS = [entropy_hand_worked]


def check_aggregate_loss(fn: Callable, verbose: bool = True) -> None:
    run_checks("aggregate_loss", fn, AGGREGATE_CHECKS, verbose)


def check_policy_loss(fn: Callable, verbose: bool = True) -> None:
    run_checks("ppo_policy_loss", fn, POLICY_LOSS_CHECKS, verbose)


def check_value_loss(fn: Callable, verbose: bool = True) -> None:
    run_checks("value_loss", fn, VALUE_LOSS_CHECKS, verbose)


def check_entropy(fn: Callable, verbose: bool = True) -> None:
    run_checks("entropy_from_logits", fn, ENTROPY_CHECKS, verbose)


# (module, exercise name) -> checks; tests/checks/__init__.py merges these into REGISTRY
EXERCISE_CHECKS = {
    ("ppo", "aggregate_loss"): AGGREGATE_CHECKS,
    ("ppo", "ppo_policy_loss"): POLICY_LOSS_CHECKS,
    ("ppo", "value_loss"): VALUE_LOSS_CHECKS,
    ("ppo", "entropy_from_logits"): ENTROPY_CHECKS,
}
