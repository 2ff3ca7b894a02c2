# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#grpo-rloo-and-drgrpo
"""Checks for minimal_impl/grpo.py: the group of the notes, zero mean per group, singletons, ties."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._util import expect_close, expect_raises, expect_true, run_checks

# notes: group "a" = [1, 0, 0, 1], group "b" = [1, 1, 1] (all tied), group "c" = [1] (singleton)
SCORES = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0])
GROUPS = ["a", "a", "a", "a", "b", "b", "b", "c"]
SINGLETON = (
    "verl's rule for a group of one: mean 0 and std 1, so its advantage is its raw score / (1 + eps), not 0 "
    "(a quirk that matters when n = 1 or when groups get filtered)"
)
RLOO_SINGLETON = (
    "a group of one has no 'others' to compare with: verl's RLOO leaves its raw score, as the docstring says"
)


def _batch_wide(scores: torch.Tensor, scale: bool = True) -> torch.Tensor:
    """What normalising over the whole batch (ignoring the groups) gives."""
    centred = scores - scores.mean()
    return centred / (scores.std() + 1e-6) if scale else centred


def grpo_hand_worked(fn: Callable) -> None:
    inputs = {"scores": SCORES, "group_ids": GROUPS}
    a = 0.5 / (math.sqrt(1 / 3) + 1e-6)  # (s - 0.5) / (unbiased std + eps)
    expected = [a, -a, -a, a, 0.0, 0.0, 0.0, 1 / (1 + 1e-6)]
    population = 0.5 / (0.5 + 1e-6)  # (s - 0.5) / (population std + eps)
    expect_close(
        "GRPO: (s - mean) / (std + eps); ties -> 0; singleton -> raw score",
        fn(SCORES, GROUPS),
        expected,
        inputs,
        convention=SINGLETON,
        mistakes=[
            (
                [population, -population, -population, population, 0.0, 0.0, 0.0, 1 / (1 + 1e-6)],
                "the population std (divide by n) was used: GRPO and verl use the unbiased std (torch.std, n - 1)",
            ),
            ([a, -a, -a, a, 0.0, 0.0, 0.0, 0.0], "the singleton group got 0: " + SINGLETON),
            (
                [-v for v in expected],
                "the sign is flipped: A = s - mean, so a better-than-the-group response is positive",
            ),
            (_batch_wide(SCORES), "one group for the whole batch: take the mean and std within each group id"),
        ],
    )
    expected_dr = [0.5, -0.5, -0.5, 0.5, 0.0, 0.0, 0.0, 1.0]
    expect_close(
        "Dr.GRPO (scale_by_std=False): s - mean",
        fn(SCORES, GROUPS, scale_by_std=False),
        expected_dr,
        inputs,
        convention=SINGLETON,
        mistakes=[
            (expected, "scale_by_std=False was ignored: Dr.GRPO does not divide by the std"),
            ([0.5, -0.5, -0.5, 0.5, 0.0, 0.0, 0.0, 0.0], "the singleton group got 0: " + SINGLETON),
            (_batch_wide(SCORES, scale=False), "one group for the whole batch: take the mean within each group id"),
        ],
    )


def grpo_zero_mean_per_group(fn: Callable) -> None:
    gen = torch.Generator().manual_seed(0)
    for trial in range(20):
        n_groups = int(torch.randint(1, 6, (1,), generator=gen))
        sizes = torch.randint(2, 9, (n_groups,), generator=gen).tolist()
        ids = [g for g, size in enumerate(sizes) for _ in range(size)]
        perm = torch.randperm(len(ids), generator=gen).tolist()
        ids = [ids[i] for i in perm]  # groups need not be contiguous
        scores = torch.randn(len(ids), generator=gen)
        adv = fn(scores, ids)
        for g in range(n_groups):
            rows = [i for i, gid in enumerate(ids) if gid == g]
            expect_close(
                f"trial {trial}: advantages of group {g} sum to 0 (groups need not be contiguous)",
                adv[rows].sum(),
                0.0,
                {"scores": scores, "group_ids": ids, "rows of this group": rows},
                atol=1e-4,
            )


def grpo_edge_cases(fn: Callable) -> None:
    tied = torch.tensor([0.0, 0.0, 0.0, 0.0])
    adv = fn(tied, [0, 0, 0, 0])
    expect_close(
        "all scores equal: advantages 0, not NaN",
        adv,
        [0.0] * 4,
        {"scores": tied},
        convention="the eps in (s - mean) / (std + eps) turns 0 / 0 into 0 / eps = 0",
    )
    adv = fn(torch.tensor([0.7]), ["only"])
    expect_true(
        "singleton",
        not torch.isnan(adv).any(),
        "NaN for a singleton group: torch.std of one value is NaN; " + SINGLETON,
        {"scores": [0.7]},
    )
    empty = fn(torch.zeros(0), [])
    expect_close("empty batch", empty, torch.zeros(0), {"scores": []})
    expect_raises(
        "group_ids of the wrong length",
        lambda: fn(torch.zeros(3), [0, 0]),
        ValueError,
        "3 scores and 2 group ids cannot be paired; a silent zip would drop a response",
        {"scores": [0.0, 0.0, 0.0], "group_ids": [0, 0]},
    )


def rloo_hand_worked(fn: Callable) -> None:
    inputs = {"scores": SCORES, "group_ids": GROUPS}
    expected = [2 / 3, -2 / 3, -2 / 3, 2 / 3, 0.0, 0.0, 0.0, 1.0]
    expect_close(
        "RLOO: s_i - mean of the others; singleton keeps its score",
        fn(SCORES, GROUPS),
        expected,
        inputs,
        convention=RLOO_SINGLETON,
        mistakes=[
            (
                [0.5, -0.5, -0.5, 0.5, 0.0, 0.0, 0.0, 1.0],
                "the baseline includes s_i (this is s_i - mean, (n-1)/n of RLOO): leave s_i out, "
                "A_i = n/(n-1) * (s_i - mean)",
            ),
            ([2 / 3, -2 / 3, -2 / 3, 2 / 3, 0.0, 0.0, 0.0, 0.0], "the singleton got 0: " + RLOO_SINGLETON),
        ],
    )


def rloo_is_leave_one_out(fn: Callable) -> None:
    gen = torch.Generator().manual_seed(1)
    scores = torch.randn(6, generator=gen)
    ids = [0] * 6
    loo = torch.stack([scores[i] - torch.cat([scores[:i], scores[i + 1 :]]).mean() for i in range(6)])
    expect_close(
        "RLOO equals the explicit leave-one-out baseline",
        fn(scores, ids),
        loo,
        {"scores": scores},
        mistakes=[(scores - scores.mean(), "the baseline includes s_i: leave s_i out of its own baseline")],
    )


GRPO_CHECKS = [grpo_hand_worked, grpo_zero_mean_per_group, grpo_edge_cases]
RLOO_CHECKS = [rloo_hand_worked, rloo_is_leave_one_out]


def check_grpo(fn: Callable, verbose: bool = True) -> None:
    run_checks("grpo_advantages", fn, GRPO_CHECKS, verbose)


def check_rloo(fn: Callable, verbose: bool = True) -> None:
    run_checks("rloo_advantages", fn, RLOO_CHECKS, verbose)


# (module, exercise name) -> checks; tests/checks/__init__.py merges these into REGISTRY
EXERCISE_CHECKS = {
    ("grpo", "grpo_advantages"): GRPO_CHECKS,
    ("grpo", "rloo_advantages"): RLOO_CHECKS,
}
