# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#masked-statistics
"""Checks for minimal_impl/masked.py (numbers worked in the chapter notes)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._util import expect_close, run_checks

VALUES = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
MASK = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # valid values: 1, 2, 4


def masked_mean_hand_worked(fn: Callable) -> None:
    inputs = {"values": VALUES, "mask": MASK}
    expect_close("mean over the batch: (1 + 2 + 4) / 3", fn(VALUES, MASK), 7 / 3, inputs)
    expect_close("mean per row (dim=-1): [1.5, 4]", fn(VALUES, MASK, dim=-1), [1.5, 4.0], {**inputs, "dim": -1})


def masked_mean_edge_cases(fn: Callable) -> None:
    zeros = torch.zeros_like(MASK)
    expect_close("all-zero mask gives 0, not NaN", fn(VALUES, zeros), 0.0, {"values": VALUES, "mask": zeros})
    nan_values = VALUES.clone()
    nan_values[0, 2] = float("nan")
    expect_close(
        "NaN at a masked position is ignored", fn(nan_values, MASK), 7 / 3, {"values": nan_values, "mask": MASK}
    )


def masked_var_hand_worked(fn: Callable) -> None:
    inputs = {"values": VALUES, "mask": MASK}
    # deviations from 7/3: -4/3, -1/3, 5/3 -> squares sum to 42/9; biased 42/27, unbiased 42/18
    expect_close("unbiased variance of 1, 2, 4", fn(VALUES, MASK), 42 / 18, inputs)
    expect_close("biased variance of 1, 2, 4", fn(VALUES, MASK, unbiased=False), 42 / 27, {**inputs, "unbiased": False})


def masked_var_edge_cases(fn: Callable) -> None:
    one = torch.tensor([[0.0, 1.0, 0.0]])
    expect_close(
        "a single valid value: unbiased variance 0", fn(VALUES[:1], one), 0.0, {"values": VALUES[:1], "mask": one}
    )
    zeros = torch.zeros_like(MASK)
    expect_close("all-zero mask: variance 0", fn(VALUES, zeros), 0.0, {"values": VALUES, "mask": zeros})


def masked_whiten_hand_worked(fn: Callable) -> None:
    inputs = {"values": VALUES, "mask": MASK}
    got = fn(VALUES, MASK)
    sd = math.sqrt(42 / 18 + 1e-8)
    expected = (VALUES - 7 / 3) / sd
    expect_close("(x - 7/3) / sqrt(7/3) at every position", got, expected, inputs)
    expect_close("shift_mean=False adds the mean back", fn(VALUES, MASK, shift_mean=False), expected + 7 / 3, inputs)


def masked_whiten_edge_cases(fn: Callable) -> None:
    zeros = torch.zeros_like(MASK)
    expect_close(
        "all-zero mask gives zeros", fn(VALUES, zeros), torch.zeros_like(VALUES), {"values": VALUES, "mask": zeros}
    )
    one = torch.tensor([[0.0, 1.0, 0.0]])
    expect_close(
        "one valid value gives zeros", fn(VALUES[:1], one), torch.zeros(1, 3), {"values": VALUES[:1], "mask": one}
    )


def masked_whiten_properties(fn: Callable) -> None:
    from minimal_impl.masked import masked_mean, masked_var

    gen = torch.Generator().manual_seed(0)
    values = torch.randn(6, 9, generator=gen) * 3 + 2
    mask = (torch.rand(6, 9, generator=gen) > 0.3).float()
    inputs = {"values": values, "mask": mask}
    out = fn(values, mask)
    expect_close("whitened values have masked mean 0", masked_mean(out, mask), 0.0, inputs, atol=1e-5)
    expect_close("whitened values have unbiased masked variance 1", masked_var(out, mask), 1.0, inputs, atol=1e-4)


MASKED_MEAN_CHECKS = [masked_mean_hand_worked, masked_mean_edge_cases]
MASKED_VAR_CHECKS = [masked_var_hand_worked, masked_var_edge_cases]
MASKED_WHITEN_CHECKS = [masked_whiten_hand_worked, masked_whiten_edge_cases, masked_whiten_properties]


def check_masked_mean(fn: Callable, verbose: bool = True) -> None:
    run_checks("masked_mean", fn, MASKED_MEAN_CHECKS, verbose)


def check_masked_var(fn: Callable, verbose: bool = True) -> None:
    run_checks("masked_var", fn, MASKED_VAR_CHECKS, verbose)


def check_masked_whiten(fn: Callable, verbose: bool = True) -> None:
    run_checks("masked_whiten", fn, MASKED_WHITEN_CHECKS, verbose)


# (module, exercise name) -> checks; tests/checks/__init__.py merges these into REGISTRY
EXERCISE_CHECKS = {
    ("masked", "masked_mean"): MASKED_MEAN_CHECKS,
    ("masked", "masked_var"): MASKED_VAR_CHECKS,
    ("masked", "masked_whiten"): MASKED_WHITEN_CHECKS,
}
