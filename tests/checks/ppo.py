# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#ppo-the-clipped-surrogate
"""Checks for minimal_impl/ppo.py: the A>0 / A<0 clip cases of the notes, aggregation modes, gradients."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._util import expect_close, expect_raises, expect_true, finite, run_checks

# notes: A = +1 on ratios 1.5, 0.5, 1.1 and A = -1 on ratios 0.5, 1.5, 4.0 (eps = 0.2)
RATIOS = torch.tensor([[1.5, 0.5, 1.1], [0.5, 1.5, 4.0]])
ADVANTAGES = torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]])
OLD_LOGPROBS = torch.full((2, 3), -1.0)


def _policy_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    logprobs = (OLD_LOGPROBS + RATIOS.log()).clone().requires_grad_(True)
    return logprobs, OLD_LOGPROBS, ADVANTAGES, torch.ones(2, 3)


def _clip_loss(
    ratio: torch.Tensor,
    adv: torch.Tensor,
    low: float = 0.2,
    high: float = 0.2,
    dual: float | None = None,
    combine: Callable = torch.maximum,
) -> float:
    """Token-mean clipped loss of the notes' six tokens, with the knobs that classic mistakes turn."""
    loss = combine(-adv * ratio, -adv * torch.clamp(ratio, 1 - low, 1 + high))
    if dual is not None:
        loss = torch.where(adv < 0, torch.minimum(loss, -adv * dual), loss)
    return loss.mean().item()


def _policy_mistakes(low: float = 0.2, high: float = 0.2, dual: float | None = None) -> list:
    r, a = RATIOS, ADVANTAGES
    return [
        (
            _clip_loss(r, a, low, high, dual, torch.minimum),
            "min of the two losses: the code minimises -objective, "
            "so PPO's min over objectives becomes a max over losses (the pessimistic one)",
        ),
        (
            _clip_loss(1 / r, a, low, high, dual),
            "the ratio is inverted: r = exp(logprobs - old_logprobs), new over old",
        ),
        (_clip_loss(r.log(), a, low, high, dual), "the log-ratio was used where the ratio belongs: r = exp(log-ratio)"),
        (
            _clip_loss(r, -a, low, high, dual),
            "the advantage's sign is flipped: the loss terms are -A * r and -A * clip(r)",
        ),
        (_clip_loss(r, a, 0.0, 1e9, dual), "no clipping: the second term is -A * clip(r, 1 - clip_low, 1 + clip_high)"),
        (
            _clip_loss(r, a, high, low, dual),
            "clip_low and clip_high are swapped: the bounds are 1 - clip_low and 1 + clip_high",
        ),
        (_clip_loss(r, a, low, low, dual), "clip_high was ignored: the upper bound is 1 + clip_high"),
        (
            _clip_loss(r, a, low, high, 3.0 if dual is None else None),
            "the dual clip is "
            + ("applied although dual_clip=None" if dual is None else "missing: for A < 0, min(loss, -A * c)"),
        ),
        (
            _clip_loss(r, a, low, high, dual, lambda x, y: torch.where(a > 0, torch.minimum(x, y), x)),
            "only the unclipped term counts for A < 0, or min is taken for A > 0: the loss is max(-A r, -A clip(r)) "
            "for every token",
        ),
    ]


def policy_loss_hand_worked(fn: Callable) -> None:
    logprobs, old, adv, mask = _policy_inputs()
    inputs = {"ratio": RATIOS, "advantages": adv, "clip_low": 0.2}
    loss, stats = fn(logprobs, old, adv, mask, clip_low=0.2)
    # per-token losses: -1.2, -0.5, -1.1 | 0.8, 1.5, 4.0 -> mean 3.5 / 6
    expect_close("token-mean clipped loss", loss, 3.5 / 6, inputs, mistakes=_policy_mistakes())
    expect_close(
        "clipfrac: 2 of 6 tokens take the clipped term",
        stats["clipfrac"],
        2 / 6,
        inputs,
        convention="verl counts a token as clipped when the clipped loss is strictly larger (torch.gt), so the "
        "r = 1.1 token, where both terms are equal, and the r = 0.5, A > 0 token, where the clip does not bind, "
        "are not clipped",
        mistakes=[
            (3 / 6, "ties were counted (>=): the r = 1.1 token has equal terms and is not clipped"),
            (
                5 / 6,
                "tokens with r outside [1 - eps, 1 + eps] were counted; count where the clipped term is the "
                "larger loss, which excludes r = 0.5 with A > 0 and r = 1.5, 4 with A < 0",
            ),
        ],
    )
    expect_close("clipfrac_lower is 0 without dual clip", stats["clipfrac_lower"], 0.0, inputs)
    approx_kl = -sum(math.log(r) for r in RATIOS.flatten().tolist()) / 6
    expect_close(
        "approx_kl = mean(log pi_old - log pi)",
        stats["approx_kl"],
        approx_kl,
        inputs,
        mistakes=[(-approx_kl, "the sign is flipped: approx_kl is the mean of old_logprobs - logprobs")],
    )


def policy_loss_dual_clip(fn: Callable) -> None:
    logprobs, old, adv, mask = _policy_inputs()
    inputs = {"ratio": RATIOS, "advantages": adv, "clip_low": 0.2, "dual_clip": 3.0}
    loss, stats = fn(logprobs, old, adv, mask, clip_low=0.2, dual_clip=3.0)
    # the ratio-4 token with A = -1 is capped at -A * c = 3
    expect_close(
        "dual clip caps the A<0, ratio=4 token at 3",
        loss,
        2.5 / 6,
        inputs,
        mistakes=[
            *_policy_mistakes(dual=3.0),
            (
                _clip_loss(
                    RATIOS, ADVANTAGES, combine=lambda x, y: torch.minimum(torch.maximum(x, y), -3.0 * ADVANTAGES)
                ),
                "the dual clip was applied to A > 0 tokens too: it caps the loss where A < 0 only",
            ),
        ],
    )
    expect_close(
        "clipfrac_lower: 1 of 6 tokens",
        stats["clipfrac_lower"],
        1 / 6,
        inputs,
        mistakes=[
            (
                0.0,
                "clipfrac_lower stayed 0: it is the share of valid tokens where A < 0 and the dual-clip "
                "cap -A * c is smaller than the clipped loss",
            )
        ],
    )


def policy_loss_asymmetric_clip(fn: Callable) -> None:
    logprobs, old, adv, mask = _policy_inputs()
    inputs = {"ratio": RATIOS, "advantages": adv, "clip_low": 0.2, "clip_high": 0.28}
    loss, _ = fn(logprobs, old, adv, mask, clip_low=0.2, clip_high=0.28)
    # A>0, ratio 1.5 now clipped at 1.28; the rest unchanged
    expect_close(
        "clip-higher: upper bound 1.28",
        loss,
        (-1.28 - 0.5 - 1.1 + 0.8 + 1.5 + 4.0) / 6,
        inputs,
        mistakes=_policy_mistakes(low=0.2, high=0.28),
    )
    # swapped bounds ([0.72, 1.2]) move the A>0 and A<0 tokens by -0.08 and +0.08: the mean above cannot
    # see it, the A>0 row alone can
    positive_only = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    loss, _ = fn(logprobs, old, adv, positive_only, clip_low=0.2, clip_high=0.28)
    expect_close(
        "clip-higher on the A > 0 row only: the r = 1.5 token is clipped at 1 + clip_high = 1.28",
        loss,
        (-1.28 - 0.5 - 1.1) / 3,
        {**inputs, "mask": positive_only},
        mistakes=[
            (
                (-1.2 - 0.5 - 1.1) / 3,
                "the upper bound is 1.2: clip_low and clip_high are swapped, or clip_high is "
                "ignored; the bounds are 1 - clip_low and 1 + clip_high",
            ),
        ],
    )


def policy_loss_gradient_zero_outside_trust_region(fn: Callable) -> None:
    logprobs, old, adv, mask = _policy_inputs()
    loss, _ = fn(logprobs, old, adv, mask, clip_low=0.2, agg="token-mean")
    loss.backward()
    # d(-A r)/d log pi = -A r / 6 where unclipped, 0 where the clipped term is active
    expected = torch.tensor([[0.0, -0.5, -1.1], [0.0, 1.5, 4.0]]) / 6
    inputs = {"ratio": RATIOS, "advantages": adv}
    expect_true("gradient", logprobs.grad is not None, "the loss has no gradient w.r.t. logprobs", inputs)
    expect_close(
        "gradient is 0 where the clip is active, -A*r/N elsewhere",
        logprobs.grad,
        expected,
        inputs,
        mistakes=[
            (
                -ADVANTAGES * RATIOS / 6,
                "the clipped tokens still have a gradient: is the clipped branch built from "
                "a detached ratio, or is the max taken elsewhere?",
            ),
            (
                -ADVANTAGES / 6,
                "the gradient is -A/N: the loss is linear in log pi, not in the ratio; use "
                "r = exp(logprobs - old_logprobs)",
            ),
        ],
    )


def policy_loss_edge_cases(fn: Callable) -> None:
    logprobs, old, adv, _ = _policy_inputs()
    zeros = torch.zeros(2, 3)
    loss, stats = fn(logprobs, old, adv, zeros)
    inputs = {"mask": zeros}
    expect_close("all-zero mask: loss 0", loss, 0.0, inputs, convention=ZERO_MASK_CONVENTION)
    expect_true(
        "all-zero mask",
        all(finite(v) for v in stats.values()),
        f"non-finite stats {stats}: each masked mean needs a non-zero denominator",
        inputs,
    )
    huge = torch.full((2, 3), 80.0)
    loss, _ = fn(huge, old, adv, torch.ones(2, 3))
    expect_true(
        "log-ratio of 81",
        finite(loss),
        "loss overflowed: exp(81) is inf in float32; clamp the log-ratio to [-20, 20] before exp, as verl does",
        {"logprobs": huge},
    )


def value_loss_hand_worked(fn: Callable) -> None:
    values = torch.tensor([[1.0, 0.0, 0.6]])
    old_values = torch.tensor([[0.5, 0.5, 0.5]])
    returns = torch.tensor([[2.0, 0.0, 1.0]])
    mask = torch.ones(1, 3)
    inputs = {"values": values, "old_values": old_values, "returns": returns, "clip": 0.2}
    loss, stats = fn(values, old_values, returns, mask, clip=0.2)
    # per token max: 1.69, 0.09, 0.16 -> 0.5 * 1.94 / 3
    expect_close(
        "clipped value loss",
        loss,
        0.5 * 1.94 / 3,
        inputs,
        mistakes=[
            (1.94 / 3, "the factor 0.5 is missing: L_V = 0.5 * agg(max(...))"),
            (
                0.5 * 1.16 / 3,
                "min of the two errors, or no clipping: the clipped value loss takes the max "
                "(pessimistic), like the policy loss",
            ),
        ],
    )
    expect_close(
        "vf_clipfrac: 2 of 3",
        stats["vf_clipfrac"],
        2 / 3,
        inputs,
        convention="verl counts the tokens where the clipped error is strictly larger",
    )


def value_loss_edge_cases(fn: Callable) -> None:
    values = torch.tensor([[1.0, 0.0, 0.6]])
    old_values = torch.tensor([[0.5, 0.5, 0.5]])
    returns = torch.tensor([[2.0, 0.0, 1.0]])
    inputs = {"values": values, "old_values": old_values, "returns": returns, "clip": None}
    loss, _ = fn(values, old_values, returns, torch.ones(1, 3), clip=None)
    expect_close("clip=None: plain 0.5 * mean squared error", loss, 0.5 * (1.0 + 0.0 + 0.16) / 3, inputs)
    zeros = torch.zeros(1, 3)
    loss, stats = fn(values, old_values, returns, zeros, clip=0.2)
    expect_close("all-zero mask: loss 0", loss, 0.0, {**inputs, "mask": zeros}, convention=ZERO_MASK_CONVENTION)
    expect_true("all-zero mask", finite(stats["vf_clipfrac"]), f"non-finite stats {stats}", inputs)


AGG_LOSS = torch.tensor([[1.0, 2.0, 3.0, 100.0], [4.0, 6.0, 100.0, 100.0], [7.0, 7.0, 7.0, 7.0]])
AGG_MASK = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
ZERO_MASK_CONVENTION = (
    "verl's agg_loss divides 0 by 0 here (NaN); the docstring asks for 0 so that a batch of empty responses "
    "cannot crash a training step"
)
EMPTY_ROW = "the empty third row was counted as a sequence: like verl's agg_loss, count only rows with a valid token"


def aggregate_hand_worked(fn: Callable) -> None:
    inputs = {"loss_mat": AGG_LOSS, "mask": AGG_MASK}
    # valid: row 0 -> 1, 2, 3 ; row 1 -> 4, 6 ; row 2 is empty and must not count as a sequence
    expected = {
        "token-mean": 16 / 5,
        "seq-mean-token-sum": (6 + 10) / 2,
        "seq-mean-token-mean": (2 + 5) / 2,
        "seq-mean-token-sum-norm": (6 + 10) / 2 / 4,
    }
    mistakes = {
        "token-mean": [
            (AGG_LOSS.mean(), "the mean over every position: padding included"),
            (16 / 12, "the masked sum was divided by all 12 positions, not by the 5 valid tokens"),
            (3.5, "per-sequence means were averaged: that is seq-mean-token-mean"),
        ],
        "seq-mean-token-sum": [(16 / 3, EMPTY_ROW), (16 / 5, "divided by the token count: that is token-mean")],
        "seq-mean-token-mean": [(7 / 3, EMPTY_ROW), (16 / 5, "all tokens pooled: that is token-mean")],
        "seq-mean-token-sum-norm": [
            (16 / 3 / 4, EMPTY_ROW),
            (8.0, "not divided by the constant: the norm mode divides the seq-mean-token-sum by T = mask.shape[-1]"),
            (
                (6 / 3 + 10 / 2) / 2,
                "divided by each row's own length: that is seq-mean-token-mean; the norm mode divides by one constant",
            ),
        ],
    }
    for mode, value in expected.items():
        expect_close(
            f"mode {mode}", fn(AGG_LOSS, AGG_MASK, mode), value, {**inputs, "mode": mode}, mistakes=mistakes[mode]
        )
    expect_close(
        "seq-mean-token-sum-norm with loss_scale_factor=8",
        fn(AGG_LOSS, AGG_MASK, "seq-mean-token-sum-norm", loss_scale_factor=8),
        8 / 8,
        {**inputs, "loss_scale_factor": 8},
        mistakes=[(2.0, "loss_scale_factor was ignored: when given, it replaces T as the constant")],
    )
    expect_close(
        "token-mean with batch_num_tokens=10 (a micro-batch of a larger batch)",
        fn(AGG_LOSS, AGG_MASK, "token-mean", batch_num_tokens=10),
        16 / 10,
        {**inputs, "batch_num_tokens": 10},
        mistakes=[(16 / 5, "batch_num_tokens was ignored: when given, it replaces this micro-batch's token count")],
    )


def aggregate_edge_cases(fn: Callable) -> None:
    zeros = torch.zeros_like(AGG_MASK)
    for mode in ("token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm"):
        expect_close(
            f"all-zero mask, mode {mode}: 0, not NaN",
            fn(AGG_LOSS, zeros, mode),
            0.0,
            {"mask": zeros, "mode": mode},
            convention=ZERO_MASK_CONVENTION,
        )
    expect_raises(
        "unknown mode",
        lambda: fn(AGG_LOSS, AGG_MASK, "token-average"),
        ValueError,
        "a typo in a config must stop the run, not silently pick a mode",
        {"mode": "token-average"},
    )


def entropy_hand_worked(fn: Callable) -> None:
    logits = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [0.0, math.log(3.0), -1e9, -1e9], [1000.0, 0.0, 0.0, 0.0]]])
    h2 = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    expect_close(
        "entropy: uniform ln 4, [0.25, 0.75], near one-hot",
        fn(logits),
        [[math.log(4), h2, 0.0]],
        {"logits": logits},
        mistakes=[
            ([[2.0, h2 / math.log(2), 0.0]], "log base 2: entropies here are in nats (natural log)"),
            ([[-math.log(4), -h2, 0.0]], "the sign is flipped: H = -sum p log p >= 0"),
            (
                [[math.log(4), float("nan"), 0.0]],
                "log(softmax) gives log 0 = -inf on the -1e9 logits and 0 * -inf = "
                "NaN: use H = logsumexp(z) - sum_v p_v z_v, which never takes log 0",
            ),
            (
                [[math.log(4), float("nan"), float("nan")]],
                "log(softmax) gives log 0 = -inf on the saturated logits and 0 * -inf = NaN: use "
                "H = logsumexp(z) - sum_v p_v z_v, which never takes log 0",
            ),
        ],
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
