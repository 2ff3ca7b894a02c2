# Chapter 08 notes: learning_notes/08_beyond_grpo/README.md#reinforce-whiten-over-the-batch
"""Checks for minimal_impl/reinforce.py: the notes' batches, holes in multi-turn masks, singletons, ties."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from ._util import expect_close, expect_true, run_checks

# notes: two responses, gamma 0.5; row 0 has two tool-output tokens (mask 0) before its last token
RF_REWARDS = torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0], [0.0, 0.0, -1.0, 0.0, 0.0]])
RF_MASK = torch.tensor([[1.0, 1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 0.0, 0.0]])


def _raises_value_error(call: Callable, case: str) -> None:
    try:
        call()
    except ValueError:
        return
    raise AssertionError(f"{case}: expected a ValueError with a message")


def reinforce_pp_hand_worked(fn: Callable) -> None:
    inputs = {"token_rewards": RF_REWARDS, "mask": RF_MASK, "gamma": 0.5}
    # returns 0.25, 0.5, 1 and -0.25, -0.5, -1: mean 0, unbiased variance 2 * 1.3125 / 5 = 0.525
    std = math.sqrt(0.525 + 1e-8)
    expected = [[0.25 / std, 0.5 / std, 0.0, 0.0, 1 / std], [-0.25 / std, -0.5 / std, -1 / std, 0.0, 0.0]]
    expect_close(
        "reward-to-go (no discount across the tool tokens), whitened over the batch",
        fn(RF_REWARDS, RF_MASK, gamma=0.5),
        expected,
        inputs,
    )


def _compacted_reference(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """Independent oracle: returns over the valid tokens only, then whitening by the textbook formula."""
    returns = torch.zeros_like(rewards, dtype=torch.float64)
    for row in range(rewards.shape[0]):
        valid = [t for t in range(rewards.shape[1]) if mask[row, t] > 0]
        running = 0.0
        for t in reversed(valid):
            running = float(rewards[row, t]) + gamma * running
            returns[row, t] = running
    values = returns[mask.bool()]
    mean, std = values.mean(), values.std()  # torch.std is the unbiased one
    return (returns - mean) / torch.sqrt(std**2 + 1e-8) * mask


def reinforce_pp_masked_equals_compacted(fn: Callable) -> None:
    gen = torch.Generator().manual_seed(0)
    for trial in range(10):
        mask = (torch.rand(5, 9, generator=gen) > 0.35).float()
        mask[:, 0] = 1.0
        rewards = torch.randn(5, 9, generator=gen) * mask  # rewards on valid tokens (per-turn rewards)
        gamma = [1.0, 0.9, 0.5, 0.0][trial % 4]
        inputs = {"token_rewards": rewards, "mask": mask, "gamma": gamma}
        expect_close(
            f"trial {trial}: equals the sequence with the masked tokens cut out (gamma {gamma})",
            fn(rewards, mask, gamma=gamma),
            _compacted_reference(rewards, mask, gamma),
            inputs,
            atol=1e-5,
        )


def reinforce_pp_edge_cases(fn: Callable) -> None:
    noisy = RF_REWARDS.clone()
    noisy[0, 2] = 100.0  # a reward on a masked (tool) token is not the policy's: dropped, as in verl
    expect_close(
        "a reward on a masked token is ignored",
        fn(noisy, RF_MASK, gamma=0.5),
        fn(RF_REWARDS, RF_MASK, gamma=0.5),
        {"token_rewards": noisy, "mask": RF_MASK},
    )
    zeros = torch.zeros(2, 5)
    expect_close("all-zero mask: zeros, not NaN", fn(RF_REWARDS, zeros), zeros, {"mask": zeros})
    one = torch.zeros(2, 5)
    one[0, 4] = 1.0
    expect_close("one valid token: nothing to whiten by, zeros", fn(RF_REWARDS, one), zeros, {"mask": one})
    _raises_value_error(lambda: fn(RF_REWARDS, RF_MASK, gamma=1.5), "gamma = 1.5")
    _raises_value_error(lambda: fn(RF_REWARDS, RF_MASK[:, :3]), "rewards and mask of different shapes")


# notes: groups a = [1, 0, 0, 1], b = [1, 1, 1] (tied), c = [1] (singleton); token counts 2, 1, 1, 2 | 1, 1, 1 | 1
RB_SCORES = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0])
RB_GROUPS = ["a", "a", "a", "a", "b", "b", "b", "c"]
RB_MASK = torch.tensor(
    [
        [1.0, 0.0, 1.0],
        [1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [1.0, 1.0, 0.0],
        [1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
    ]
)


def reinforce_pp_baseline_hand_worked(fn: Callable) -> None:
    inputs = {"scores": RB_SCORES, "group_ids": RB_GROUPS, "mask": RB_MASK}
    # centred: 0.5, -0.5, -0.5, 0.5 | 0, 0, 0 | 1 on 10 tokens: mean 0.2, unbiased variance 2.1 / 9
    std = math.sqrt(2.1 / 9 + 1e-8)
    per_row = [0.3 / std, -0.7 / std, -0.7 / std, 0.3 / std, -0.2 / std, -0.2 / std, -0.2 / std, 0.8 / std]
    expected = torch.tensor(per_row).unsqueeze(-1) * RB_MASK
    got = fn(RB_SCORES, RB_GROUPS, RB_MASK)
    expect_close(
        "group mean removed, then whitened over the batch's tokens (ties shift to -mean/std)", got, expected, inputs
    )
    for ids in (np.array(RB_GROUPS, dtype=object), torch.tensor([0, 0, 0, 0, 1, 1, 1, 2])):
        expect_close(f"group_ids as {type(ids).__name__}", fn(RB_SCORES, ids, RB_MASK), expected, inputs)


def reinforce_pp_baseline_edge_cases(fn: Callable) -> None:
    zeros = torch.zeros_like(RB_MASK)
    expect_close("all-zero mask: zeros, not NaN", fn(RB_SCORES, RB_GROUPS, zeros), zeros, {"mask": zeros})
    _raises_value_error(lambda: fn(RB_SCORES, RB_GROUPS[:5], RB_MASK), "group_ids of the wrong length")


# notes: group 0 = scores [1, 0, 0] with 2, 2 and 4 tokens (the first row has a tool hole); group 1 tied; a singleton
OPO_SCORES = torch.tensor([1.0, 0.0, 0.0, 0.5, 0.5, 0.8])
OPO_GROUPS = [0, 0, 0, 1, 1, 2]
OPO_MASK = torch.tensor(
    [
        [1.0, 0.0, 0.0, 1.0],
        [1.0, 1.0, 0.0, 0.0],
        [1.0, 1.0, 1.0, 1.0],
        [1.0, 1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0, 0.0],
        [1.0, 1.0, 1.0, 0.0],
    ]
)


def opo_hand_worked(fn: Callable) -> None:
    inputs = {"scores": OPO_SCORES, "group_ids": OPO_GROUPS, "mask": OPO_MASK}
    # group 0: b = (2 * 1 + 2 * 0 + 4 * 0) / 8 = 0.25 (plain mean 1/3); tied group: 0; singleton: raw score
    per_row = torch.tensor([0.75, -0.25, -0.25, 0.0, 0.0, 0.8])
    expect_close(
        "A = s - length-weighted group mean (holes do not count); singleton keeps its score",
        fn(OPO_SCORES, OPO_GROUPS, OPO_MASK),
        per_row.unsqueeze(-1) * OPO_MASK,
        inputs,
    )


def opo_length_weighted_mean_is_zero(fn: Callable) -> None:
    gen = torch.Generator().manual_seed(2)
    for trial in range(10):
        ids = torch.randint(0, 3, (9,), generator=gen).tolist()
        mask = (torch.rand(9, 7, generator=gen) > 0.3).float()
        mask[:, 0] = 1.0
        scores = torch.randn(9, generator=gen)
        adv = fn(scores, ids, mask)
        for g in set(ids):
            rows = [i for i, gid in enumerate(ids) if gid == g]
            if len(rows) > 1:
                expect_close(
                    f"trial {trial}: sum over group {g}'s tokens of A is 0 (the baseline's defining property)",
                    (adv[rows] * mask[rows]).sum(),
                    0.0,
                    {"scores": scores, "group_ids": ids, "mask": mask},
                    atol=1e-4,
                )


def opo_edge_cases(fn: Callable) -> None:
    mask = torch.tensor([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    got = fn(torch.tensor([1.0, 0.0, 1.0]), [0, 1, 1], mask)
    expect_true(
        "empty group", not torch.isnan(got).any(), "NaN for a group whose responses are all empty", {"mask": mask}
    )
    expect_close("a group of empty responses gets 0", got, [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]], {"mask": mask})
    _raises_value_error(lambda: fn(OPO_SCORES, OPO_GROUPS, OPO_MASK[:3]), "mask with fewer rows than scores")


REINFORCE_PP_CHECKS = [reinforce_pp_hand_worked, reinforce_pp_masked_equals_compacted, reinforce_pp_edge_cases]
REINFORCE_PP_BASELINE_CHECKS = [reinforce_pp_baseline_hand_worked, reinforce_pp_baseline_edge_cases]
OPO_CHECKS = [opo_hand_worked, opo_length_weighted_mean_is_zero, opo_edge_cases]


def check_reinforce_pp(fn: Callable, verbose: bool = True) -> None:
    run_checks("reinforce_pp_advantages", fn, REINFORCE_PP_CHECKS, verbose)


def check_reinforce_pp_baseline(fn: Callable, verbose: bool = True) -> None:
    run_checks("reinforce_pp_baseline_advantages", fn, REINFORCE_PP_BASELINE_CHECKS, verbose)


def check_opo(fn: Callable, verbose: bool = True) -> None:
    run_checks("opo_advantages", fn, OPO_CHECKS, verbose)


# (module, exercise name) -> checks; tests/checks/__init__.py merges these into REGISTRY
EXERCISE_CHECKS = {
    ("reinforce", "reinforce_pp_advantages"): REINFORCE_PP_CHECKS,
    ("reinforce", "reinforce_pp_baseline_advantages"): REINFORCE_PP_BASELINE_CHECKS,
    ("reinforce", "opo_advantages"): OPO_CHECKS,
}
