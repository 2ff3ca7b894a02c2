# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#gae-generalized-advantage-estimation
"""Checks for minimal_impl/gae.py: the 4-token example of the notes, the lambda limits, masking."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._util import expect_close, expect_true, run_checks


def gae_hand_worked(fn: Callable) -> None:
    # notes: r = [0, 0, 0, 1], V = [0.5, 0.5, 0.6, 0.8], gamma = 1, lambda = 0.5
    rewards = torch.tensor([[0.0, 0.0, 0.0, 1.0]])
    values = torch.tensor([[0.5, 0.5, 0.6, 0.8]])
    mask = torch.ones(1, 4)
    inputs = {"rewards": rewards, "values": values, "mask": mask, "gamma": 1.0, "lam": 0.5}
    adv, ret = fn(rewards, values, mask, gamma=1.0, lam=0.5)
    expect_close("4-token GAE advantages (deltas 0, 0.1, 0.2, 0.2)", adv, [[0.125, 0.25, 0.3, 0.2]], inputs)
    expect_close("returns = advantages + values", ret, [[0.625, 0.75, 0.9, 1.0]], inputs)


def gae_skips_masked_tokens(fn: Callable) -> None:
    # notes: two model tokens, two tool-output tokens (values 9 must be ignored), one model token
    rewards = torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0]])
    values = torch.tensor([[0.5, 0.5, 9.0, 9.0, 0.8]])
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0, 1.0]])
    inputs = {"rewards": rewards, "values": values, "mask": mask, "gamma": 1.0, "lam": 1.0}
    adv, ret = fn(rewards, values, mask, gamma=1.0, lam=1.0)
    expect_close("masked tokens are skipped in the recursion", adv, [[0.5, 0.5, 0.2, 0.2, 0.2]], inputs)
    expect_close("returns skip masked tokens too", ret, [[1.0, 1.0, 9.2, 9.2, 1.0]], inputs)


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
    expect_close("lambda = 1: A_t = G_t - V_t (Monte-Carlo)", adv, returns - values, inputs)


def gae_lambda_zero_is_td_error(fn: Callable) -> None:
    gamma = 0.9
    rewards, values, mask = _random_episode(2)
    adv, _ = fn(rewards, values, mask, gamma=gamma, lam=0.0)
    next_values = torch.cat([values[:, 1:], torch.zeros(values.shape[0], 1)], dim=1)
    inputs = {"rewards": rewards, "values": values, "gamma": gamma, "lam": 0.0}
    expect_close("lambda = 0: A_t = r_t + gamma V_{t+1} - V_t", adv, rewards + gamma * next_values - values, inputs)


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
    expect_close(
        "valid-token advantages equal those of the sequence without the masked tokens",
        adv[:, keep],
        compact_adv,
        inputs,
    )


def gae_edge_cases(fn: Callable) -> None:
    rewards, values, _ = _random_episode(4, batch=2, length=3)
    zeros = torch.zeros(2, 3)
    adv, ret = fn(rewards, values, zeros, gamma=1.0, lam=1.0)
    inputs = {"rewards": rewards, "values": values, "mask": zeros}
    expect_true("all-zero mask", not torch.isnan(adv).any() and not torch.isnan(ret).any(), "NaN in the output", inputs)
    expect_close("all-zero mask: advantages 0", adv, torch.zeros(2, 3), inputs)
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
