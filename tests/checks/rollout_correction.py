# Chapter 08 notes: learning_notes/08_beyond_grpo/README.md#training-inference-mismatch-tis-and-icepop
"""Checks for minimal_impl/rollout_correction.py: TIS and IcePop weights of the notes, their stats, DAPO's penalty."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._util import expect_close, expect_true, run_checks

# notes: per-token ratios pi_old / pi_rollout; row 1 has a tool token (mask 0) whose ratio would be wild
IS_RATIOS = torch.tensor([[0.5, 1.0, 3.0, 100.0], [2.0, 2.0, 100.0, 0.9]], dtype=torch.float64)
IS_MASK = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 1.0]], dtype=torch.float64)
IS_LOG = IS_RATIOS.log()


def _raises_value_error(call: Callable, case: str) -> None:
    try:
        call()
    except ValueError:
        return
    raise AssertionError(f"{case}: expected a ValueError with a message")


def is_weights_token_hand_worked(fn: Callable) -> None:
    inputs = {"ratios": IS_RATIOS, "mask": IS_MASK, "level": "token"}
    weights, stats = fn(IS_LOG, IS_MASK, level="token", threshold=2.0)
    expect_close("TIS at 2: min(w, 2), 0 on masked tokens", weights, [[0.5, 1, 2, 0], [2, 2, 0, 0.9]], inputs)
    # valid weights 0.5, 1, 2, 2, 2, 0.9: mean 1.4, mean square 14.06 / 6
    expect_close("weight_mean", stats["weight_mean"], 1.4, inputs)
    expect_close("ess = mean(w)^2 / mean(w^2)", stats["ess"], 1.96 / (14.06 / 6), inputs)
    expect_close(
        "truncated_fraction: only the 3 exceeds 2 (2 itself is not truncated)",
        stats["truncated_fraction"],
        1 / 6,
        inputs,
    )
    expect_close("masked_fraction is 0 under TIS", stats["masked_fraction"], 0.0, inputs)
    abs_mean = (3 * math.log(2) + math.log(3) + math.log(1 / 0.9)) / 6
    expect_close("log_ratio_abs_mean over the valid tokens", stats["log_ratio_abs_mean"], abs_mean, inputs)
    weights, stats = fn(IS_LOG, IS_MASK, level="token", threshold=(0.5, 2.0))
    expect_close(
        "IcePop [0.5, 2]: the 3 is dropped, the bounds are kept",
        weights,
        [[0.5, 1, 0, 0], [2, 2, 0, 0.9]],
        {**inputs, "threshold": (0.5, 2.0)},
    )
    expect_close("IcePop masked_fraction", stats["masked_fraction"], 1 / 6, inputs)
    expect_close("IcePop truncated_fraction is 0", stats["truncated_fraction"], 0.0, inputs)


def is_weights_sequence_hand_worked(fn: Callable) -> None:
    inputs = {"ratios": IS_RATIOS, "mask": IS_MASK, "level": "sequence"}
    # sequence weights: 0.5 * 1 * 3 = 1.5 and 2 * 2 * 0.9 = 3.6 (the tool tokens' 100s do not count)
    weights, stats = fn(IS_LOG, IS_MASK, level="sequence", threshold=2.0)
    expect_close(
        "sequence TIS at 2: 1.5 and min(3.6, 2) on every valid token",
        weights,
        [[1.5, 1.5, 1.5, 0], [2, 2, 0, 2]],
        inputs,
    )
    expect_close("truncated_fraction counts tokens: 3 of 6", stats["truncated_fraction"], 0.5, inputs)
    weights, stats = fn(IS_LOG, IS_MASK, level="sequence", threshold="0.5_2.0")
    expect_close(
        "sequence IcePop (verl's '0.5_2.0' string): the 3.6 sequence is dropped",
        weights,
        [[1.5, 1.5, 1.5, 0], [0, 0, 0, 0]],
        {**inputs, "threshold": "0.5_2.0"},
    )
    expect_close("masked_fraction: 3 of 6 tokens", stats["masked_fraction"], 0.5, inputs)
    expect_close("ess: mean 0.75, mean square 1.125 -> 0.5625 / 1.125", stats["ess"], 0.5, inputs)


def is_weights_detached_and_bounded(fn: Callable) -> None:
    log_ratio = torch.tensor([[50.0, -50.0, 0.1]], dtype=torch.float64, requires_grad=True)
    mask = torch.ones(1, 3, dtype=torch.float64)
    weights, _ = fn(log_ratio, mask, level="token", threshold=1e12)
    inputs = {"log_ratio": log_ratio, "threshold": 1e12}
    expect_true("detached", not weights.requires_grad, "the weights must not carry a gradient: detach them", inputs)
    expect_close(
        "safety bound: log-weights clamped to [-20, 20] before exp",
        weights,
        [[math.exp(20), math.exp(-20), math.exp(0.1)]],
        inputs,
        rtol=1e-9,
        atol=0,
    )
    weights, _ = fn(log_ratio, mask, level="sequence", threshold=1e12)
    expect_close("sequence level: the sum (0.1) is what is bounded", weights, [[math.exp(0.1)] * 3], inputs)


def is_weights_edge_cases(fn: Callable) -> None:
    zeros = torch.zeros(2, 4, dtype=torch.float64)
    weights, stats = fn(IS_LOG, zeros, level="token", threshold=2.0)
    expect_close("all-zero mask: zero weights", weights, zeros, {"mask": zeros})
    expect_true("all-zero mask", all(v == 0.0 for v in stats.values()), f"stats should all be 0, got {stats}")
    _, stats = fn(torch.full((2, 4), 3.0), torch.ones(2, 4), level="token", threshold=(0.5, 2.0))
    expect_close("IcePop drops every token: ess 0, not a division by zero", stats["ess"], 0.0, {"log_ratio": 3.0})
    padded = IS_LOG.clone()
    padded[0, 3] = float("nan")  # a log-prob the engine never computed, on a padding position
    for level in ("token", "sequence"):
        weights, _ = fn(padded, IS_MASK, level=level, threshold=2.0)
        expect_true(
            f"NaN on a masked position, {level} level",
            not torch.isnan(weights).any(),
            "a masked position must get weight 0 whatever its log-ratio (NaN * 0 is NaN)",
            {"log_ratio": padded, "mask": IS_MASK},
        )
    _raises_value_error(lambda: fn(IS_LOG, IS_MASK, level="batch"), "level='batch'")
    _raises_value_error(lambda: fn(IS_LOG, IS_MASK, threshold=-1.0), "threshold=-1")
    _raises_value_error(lambda: fn(IS_LOG, IS_MASK, threshold=(2.0, 0.5)), "IcePop band with low > high")


def overlong_hand_worked(fn: Callable) -> None:
    lengths = torch.tensor([10, 16, 17, 18, 20])
    inputs = {"lengths": lengths, "max_len": 20, "buffer_len": 4}
    expect_close("0 up to 16 tokens, then linear to -1 at 20", fn(lengths, 20, 4), [0, 0, -0.25, -0.5, -1], inputs)
    expect_close(
        "penalty_factor 0.5 halves it",
        fn(lengths, 20, 4, penalty_factor=0.5),
        [0, 0, -0.125, -0.25, -0.5],
        {**inputs, "penalty_factor": 0.5},
    )
    expect_close(
        "beyond max_len the line continues, as in verl", fn(torch.tensor([24]), 20, 4), [-2.0], {"lengths": [24]}
    )


def overlong_edge_cases(fn: Callable) -> None:
    got = fn([3, 8], 8, 8)
    expect_close("a list of ints; buffer_len = max_len", got, [-3 / 8, -1.0], {"lengths": [3, 8], "buffer_len": 8})
    expect_true("float output", torch.as_tensor(got).is_floating_point(), "penalties must be floats, not ints")
    _raises_value_error(lambda: fn(torch.tensor([5]), 20, 0), "buffer_len = 0")
    _raises_value_error(lambda: fn(torch.tensor([5]), 20, 30), "buffer_len > max_len")


IS_WEIGHTS_CHECKS = [
    is_weights_token_hand_worked,
    is_weights_sequence_hand_worked,
    is_weights_detached_and_bounded,
    is_weights_edge_cases,
]
OVERLONG_CHECKS = [overlong_hand_worked, overlong_edge_cases]


def check_rollout_is_weights(fn: Callable, verbose: bool = True) -> None:
    run_checks("rollout_is_weights", fn, IS_WEIGHTS_CHECKS, verbose)


def check_overlong_penalty(fn: Callable, verbose: bool = True) -> None:
    run_checks("overlong_penalty", fn, OVERLONG_CHECKS, verbose)


# (module, exercise name) -> checks; tests/checks/__init__.py merges these into REGISTRY
EXERCISE_CHECKS = {
    ("rollout_correction", "rollout_is_weights"): IS_WEIGHTS_CHECKS,
    ("rollout_correction", "overlong_penalty"): OVERLONG_CHECKS,
}
