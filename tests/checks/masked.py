# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#masked-statistics
"""Checks for minimal_impl/masked.py (numbers worked in the chapter notes)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._util import expect_close, run_checks

VALUES = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
MASK = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # valid values: 1, 2, 4
ALL_MEAN, ALL_VAR = 3.5, VALUES.var().item()  # what padding-blind statistics give
PADDING_COUNTED = "the statistic was taken over every position, padding included: only mask-1 positions count"
EPS_CONVENTION = "verl adds 1e-8 to the count, so that an all-zero mask gives 0/(0 + 1e-8) = 0, not 0/0 = NaN"
WHITEN_CONVENTION = (
    "verl's masked_whiten transforms every position, masked ones included; the mask only chooses the positions "
    "that enter the mean and variance. The loss mask removes the masked positions later, so zeros there would "
    "train the same, but the docstring asks for verl's tensor (tests/test_conformance_verl.py compares it whole)."
)


def masked_mean_hand_worked(fn: Callable) -> None:
    inputs = {"values": VALUES, "mask": MASK}
    expect_close(
        "mean over the batch: (1 + 2 + 4) / 3",
        fn(VALUES, MASK),
        7 / 3,
        inputs,
        mistakes=[
            (ALL_MEAN, PADDING_COUNTED),
            (7 / 6, "the masked sum was divided by the number of all positions (6), not of valid ones (3)"),
        ],
    )
    expect_close(
        "mean per row (dim=-1): [1.5, 4]",
        fn(VALUES, MASK, dim=-1),
        [1.5, 4.0],
        {**inputs, "dim": -1},
        mistakes=[
            ([2.0, 5.0], PADDING_COUNTED),
            ([1.0, 4 / 3], "each row's masked sum was divided by the row length T, not by its valid count"),
            ([3.5, 3.5], "`dim` was ignored: with dim=-1 the result has one mean per row"),
        ],
    )


def masked_mean_edge_cases(fn: Callable) -> None:
    zeros = torch.zeros_like(MASK)
    expect_close(
        "all-zero mask gives 0, not NaN",
        fn(VALUES, zeros),
        0.0,
        {"values": VALUES, "mask": zeros},
        convention=EPS_CONVENTION,
    )
    nan_values = VALUES.clone()
    nan_values[0, 2] = float("nan")
    expect_close(
        "NaN at a masked position is ignored",
        fn(nan_values, MASK),
        7 / 3,
        {"values": nan_values, "mask": MASK},
        mistakes=[
            (
                float("nan"),
                "values * mask keeps the NaN (NaN * 0 = NaN): select the valid values first "
                "(masked_sum does, with torch.where)",
            )
        ],
    )


def masked_var_hand_worked(fn: Callable) -> None:
    inputs = {"values": VALUES, "mask": MASK}
    # deviations from 7/3: -4/3, -1/3, 5/3 -> squares sum to 42/9; biased 42/27, unbiased 42/18
    expect_close(
        "unbiased variance of 1, 2, 4",
        fn(VALUES, MASK),
        42 / 18,
        inputs,
        mistakes=[
            (
                42 / 27,
                "this is the biased variance (divided by n): unbiased=True multiplies by n / (n - 1), Bessel's "
                "correction, as verl does",
            ),
            (ALL_VAR, PADDING_COUNTED),
            (42 / 9, "the squared deviations were summed but not averaged"),
        ],
    )
    expect_close(
        "biased variance of 1, 2, 4",
        fn(VALUES, MASK, unbiased=False),
        42 / 27,
        {**inputs, "unbiased": False},
        mistakes=[(42 / 18, "Bessel's correction was applied although unbiased=False")],
    )


def masked_var_edge_cases(fn: Callable) -> None:
    one = torch.tensor([[0.0, 1.0, 0.0]])
    one_value = (
        "with fewer than two valid values the unbiased variance is undefined (n / (n - 1) divides by 0); verl "
        "raises, the docstring asks for 0 so that a batch of empty responses cannot crash a training step"
    )
    expect_close(
        "a single valid value: unbiased variance 0",
        fn(VALUES[:1], one),
        0.0,
        {"values": VALUES[:1], "mask": one},
        convention=one_value,
    )
    zeros = torch.zeros_like(MASK)
    expect_close(
        "all-zero mask: variance 0", fn(VALUES, zeros), 0.0, {"values": VALUES, "mask": zeros}, convention=one_value
    )


def masked_whiten_hand_worked(fn: Callable) -> None:
    inputs = {"values": VALUES, "mask": MASK}
    got = fn(VALUES, MASK)
    sd = math.sqrt(42 / 18 + 1e-8)
    expected = (VALUES - 7 / 3) / sd
    expect_close(
        "(x - 7/3) / sqrt(7/3) at every position",
        got,
        expected,
        inputs,
        mask=MASK,
        convention=WHITEN_CONVENTION,
        mistakes=[
            (
                (VALUES - 7 / 3) / math.sqrt(42 / 27 + 1e-8),
                "the biased variance was used: whitening divides by the unbiased masked std, as verl does",
            ),
            ((VALUES - ALL_MEAN) / math.sqrt(ALL_VAR + 1e-8), PADDING_COUNTED),
            (VALUES - 7 / 3, "the values were centred but not divided by the standard deviation"),
        ],
    )
    expect_close(
        "shift_mean=False adds the mean back",
        fn(VALUES, MASK, shift_mean=False),
        expected + 7 / 3,
        inputs,
        mask=MASK,
        convention=WHITEN_CONVENTION,
        mistakes=[(expected, "shift_mean=False was ignored: it adds the mean back after scaling")],
    )


def masked_whiten_edge_cases(fn: Callable) -> None:
    zeros = torch.zeros_like(MASK)
    degenerate = "fewer than two valid values have no spread to divide by: the docstring asks for zeros"
    expect_close(
        "all-zero mask gives zeros",
        fn(VALUES, zeros),
        torch.zeros_like(VALUES),
        {"values": VALUES, "mask": zeros},
        convention=degenerate,
    )
    one = torch.tensor([[0.0, 1.0, 0.0]])
    expect_close(
        "one valid value gives zeros",
        fn(VALUES[:1], one),
        torch.zeros(1, 3),
        {"values": VALUES[:1], "mask": one},
        convention=degenerate,
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
