# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#gae-generalized-advantage-estimation
"""Checks for minimal_impl/gae.py: the 4-token example of the notes, the lambda limits, masking.

Masked positions follow verl's `compute_gae_advantage_return`: the recursion state is carried through
them, so a masked position holds the advantage of the next valid token (0 after the last one) and
its return is that advantage plus its value. Nothing downstream reads those positions (whitening
takes its statistics over the mask, the losses multiply by it), so a learner who writes 0 there
would train identically; the checks still ask for verl's values, because the docstring specifies
them and tests/test_conformance_verl.py compares whole tensors with verl. The failure message says
so when only masked positions differ.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._util import expect_close, expect_true, run_checks

MASKED_CONVENTION = (
    "verl's compute_gae_advantage_return carries the running advantage through a masked position, so it "
    "holds the advantage of the next valid token (0 after the last one), and its return is that plus its "
    "value. Training never reads these positions (whitening uses the mask for its statistics, the losses "
    "multiply by it), so zeros there would train the same; the docstring asks for verl's values so that "
    "whole tensors compare equal with verl (tests/test_conformance_verl.py)."
)


def _gae_variant(
    rewards: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    gamma: float,
    lam: float,
    *,
    ignore_mask: bool = False,
    forward: bool = False,
    reversed_output: bool = False,
    gamma_in_delta: bool = True,
    gamma_in_recursion: bool = True,
) -> torch.Tensor:
    """GAE with switches that reproduce classic mistakes (for the messages only, never the verdict)."""
    batch, length = rewards.shape
    m = torch.ones_like(rewards) if ignore_mask else mask.to(rewards.dtype)
    next_value, last = torch.zeros(batch, dtype=rewards.dtype), torch.zeros(batch, dtype=rewards.dtype)
    out = torch.zeros_like(rewards)
    steps = range(length) if forward else reversed(range(length))
    for t in steps:
        delta = rewards[:, t] + (gamma if gamma_in_delta else 1.0) * next_value - values[:, t]
        gae = delta + (gamma if gamma_in_recursion else 1.0) * lam * last
        next_value = m[:, t] * values[:, t] + (1 - m[:, t]) * next_value
        last = m[:, t] * gae + (1 - m[:, t]) * last
        out[:, t] = last
    return out.flip(-1) if reversed_output else out


def _gae_mistakes(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float) -> list:
    def variant(**kw: bool) -> torch.Tensor:
        return _gae_variant(rewards, values, mask, gamma, lam, **kw)

    return [
        (
            variant(ignore_mask=True),
            "masked tokens were treated as time steps (their values entered the TD errors): at "
            "m_t = 0, carry next_value and the running advantage through unchanged",
        ),
        (
            variant(gamma_in_recursion=False),
            "gamma is missing from the recursion A_t = delta_t + gamma * lam * A_{t+1}",
        ),
        (variant(gamma_in_delta=False), "gamma is missing from the TD error delta_t = r_t + gamma * V_{t+1} - V_t"),
        (
            _gae_variant(rewards, values, mask, gamma, 1.0),
            "lambda is ignored (this is GAE with lambda = 1): A_t = delta_t + gamma * lam * A_{t+1}",
        ),
        (variant(forward=True), "the recursion runs forwards; GAE sums future TD errors, so walk t from T-1 down to 0"),
        (
            variant(reversed_output=True),
            "the advantages come out in reverse order: you collected them from t = T-1 "
            "down to 0; reverse the list before stacking",
        ),
    ]


def gae_hand_worked(fn: Callable) -> None:
    # notes: r = [0, 0, 0, 1], V = [0.5, 0.5, 0.6, 0.8], gamma = 1, lambda = 0.5
    rewards = torch.tensor([[0.0, 0.0, 0.0, 1.0]])
    values = torch.tensor([[0.5, 0.5, 0.6, 0.8]])
    mask = torch.ones(1, 4)
    inputs = {"rewards": rewards, "values": values, "mask": mask, "gamma": 1.0, "lam": 0.5}
    adv, ret = fn(rewards, values, mask, gamma=1.0, lam=0.5)
    expect_close(
        "4-token GAE advantages (deltas 0, 0.1, 0.2, 0.2)",
        adv,
        [[0.125, 0.25, 0.3, 0.2]],
        inputs,
        mistakes=_gae_mistakes(rewards, values, mask, 1.0, 0.5),
    )
    expect_close(
        "returns = advantages + values",
        ret,
        [[0.625, 0.75, 0.9, 1.0]],
        inputs,
        mistakes=[(adv, "the returns equal your advantages: the critic's target is R_t = A_t + V(s_t)")],
    )


def gae_skips_masked_tokens(fn: Callable) -> None:
    # notes: two model tokens, two tool-output tokens (values 9 must be ignored), one model token
    rewards = torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0]])
    values = torch.tensor([[0.5, 0.5, 9.0, 9.0, 0.8]])
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0, 1.0]])
    inputs = {"rewards": rewards, "values": values, "mask": mask, "gamma": 1.0, "lam": 1.0}
    adv, ret = fn(rewards, values, mask, gamma=1.0, lam=1.0)
    expect_close(
        "masked tokens are skipped in the recursion (tool tokens are not time steps)",
        adv,
        [[0.5, 0.5, 0.2, 0.2, 0.2]],
        inputs,
        mask=mask,
        convention=MASKED_CONVENTION,
        mistakes=_gae_mistakes(rewards, values, mask, 1.0, 1.0),
    )
    expect_close(
        "returns = advantages + values, masked positions included",
        ret,
        [[1.0, 1.0, 9.2, 9.2, 1.0]],
        inputs,
        mask=mask,
        convention=MASKED_CONVENTION,
    )


def _random_episode(seed: int, batch: int = 4, length: int = 7) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    rewards = torch.randn(batch, length, generator=gen)
    values = torch.randn(batch, length, generator=gen)
    mask = torch.ones(batch, length)
    return rewards, values, mask


def gae_lambda_one_is_monte_carlo(fn: Callable) -> None:
    gamma = 0.9
    rewards, values, mask = _random_episode(1)
    adv, _ = fn(rewards, values, mask, gamma=gamma, lam=1.0)
    # G_t = sum_k gamma^k r_{t+k}
    returns = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        running = rewards[:, t] + gamma * running
        returns[:, t] = running
    inputs = {"rewards": rewards, "values": values, "gamma": gamma, "lam": 1.0}
    expect_close(
        "lambda = 1: A_t = G_t - V_t (Monte-Carlo)",
        adv,
        returns - values,
        inputs,
        mistakes=_gae_mistakes(rewards, values, mask, gamma, 1.0),
    )


def gae_lambda_zero_is_td_error(fn: Callable) -> None:
    gamma = 0.9
    rewards, values, mask = _random_episode(2)
    adv, _ = fn(rewards, values, mask, gamma=gamma, lam=0.0)
    next_values = torch.cat([values[:, 1:], torch.zeros(values.shape[0], 1)], dim=1)
    inputs = {"rewards": rewards, "values": values, "gamma": gamma, "lam": 0.0}
    expect_close(
        "lambda = 0: A_t = r_t + gamma V_{t+1} - V_t",
        adv,
        rewards + gamma * next_values - values,
        inputs,
        mistakes=_gae_mistakes(rewards, values, mask, gamma, 0.0),
    )


def gae_masked_equals_compacted(fn: Callable) -> None:
    """Inserting masked tokens anywhere must not change the advantages of the valid ones."""
    gen = torch.Generator().manual_seed(3)
    rewards, values, _ = _random_episode(3, batch=1, length=6)
    keep = torch.tensor([1, 0, 1, 1, 0, 1], dtype=torch.bool)
    mask = keep.float().unsqueeze(0)
    noisy_values = torch.where(keep, values, torch.randn(values.shape, generator=gen) * 100)
    noisy_rewards = torch.where(keep, rewards, torch.zeros_like(rewards))
    adv, _ = fn(noisy_rewards, noisy_values, mask, gamma=0.95, lam=0.9)
    compact_adv, _ = fn(rewards[:, keep], values[:, keep], torch.ones(1, int(keep.sum())), gamma=0.95, lam=0.9)
    inputs = {"rewards": noisy_rewards, "values": noisy_values, "mask": mask, "gamma": 0.95, "lam": 0.9}
    ignored = _gae_variant(noisy_rewards, noisy_values, mask, 0.95, 0.9, ignore_mask=True)
    expect_close(
        "valid-token advantages equal those of the sequence without the masked tokens",
        adv[:, keep],
        compact_adv,
        inputs,
        mistakes=[
            (
                ignored[:, keep],
                "the masked tokens (values around +-100) entered the recursion: at m_t = 0, "
                "carry next_value and the running advantage through unchanged",
            )
        ],
    )


def gae_edge_cases(fn: Callable) -> None:
    rewards, values, _ = _random_episode(4, batch=2, length=3)
    zeros = torch.zeros(2, 3)
    adv, ret = fn(rewards, values, zeros, gamma=1.0, lam=1.0)
    inputs = {"rewards": rewards, "values": values, "mask": zeros}
    expect_true("all-zero mask", not torch.isnan(adv).any() and not torch.isnan(ret).any(), "NaN in the output", inputs)
    expect_close(
        "all-zero mask: advantages 0",
        adv,
        torch.zeros(2, 3),
        inputs,
        convention="with no valid token nothing is ever carried, so every position keeps the initial state, 0 "
        "(verl gives the same)",
    )
    empty = torch.zeros(2, 0)
    adv, ret = fn(empty, empty, empty, gamma=1.0, lam=1.0)
    expect_close("zero-length responses give empty tensors", adv, empty, {"rewards": empty})


def check_gae(fn: Callable, verbose: bool = True) -> None:
    run_checks("compute_gae", fn, GAE_CHECKS, verbose)


GAE_CHECKS = [
    gae_hand_worked,
    gae_skips_masked_tokens,
    gae_lambda_one_is_monte_carlo,
    gae_lambda_zero_is_td_error,
    gae_masked_equals_compacted,
    gae_edge_cases,
]


# (module, exercise name) -> checks; tests/checks/__init__.py merges these into REGISTRY
EXERCISE_CHECKS = {("gae", "compute_gae"): GAE_CHECKS}
