# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#the-probe-a-policy-that-must-learn
"""The smallest end-to-end check of the chapter: GRPO + the PPO clip train a softmax policy.

The "language model" is a table of logits, one categorical distribution per position; a response is
`length` tokens sampled independently; the reward is the share of tokens that match a hidden target
sequence. Chance is 1 / vocab_size. With correct advantages and a correct clipped loss, the mean
reward climbs above 0.9 within a few dozen steps; flip a sign anywhere and it falls towards 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .grpo import grpo_advantages, spread_over_tokens
from .ppo import ppo_policy_loss


def train_probe(
    policy_loss_fn: Callable = ppo_policy_loss,
    advantage_fn: Callable = grpo_advantages,
    steps: int = 60,
    vocab_size: int = 8,
    length: int = 5,
    groups: int = 4,
    group_size: int = 8,
    ppo_epochs: int = 2,
    lr: float = 0.1,
    seed: int = 0,
    actor_loss_fn: Callable | None = None,
) -> list[float]:
    """Train the table policy with group-relative advantages and the clipped loss.

    Args:
        policy_loss_fn: `(logprobs, old_logprobs, advantages, mask) -> (loss, stats)`.
        advantage_fn: `(scores [B], group_ids) -> advantages [B]`.
        steps: rollout-and-update iterations.
        vocab_size, length: the action space (chance reward = 1 / vocab_size).
        groups, group_size: a batch is `groups` groups of `group_size` samples each.
        ppo_epochs: gradient steps on each batch (the later ones are off-policy, so the clip acts).
        lr: Adam learning rate.
        seed: seeds both the target and the sampling.
        actor_loss_fn: if given, chapter 06's `actor_loss(logits, targets, old_logprobs, advantages, mask)`
            replaces the log-prob and policy-loss lines: the whole micro-batch loss must learn too.

    Returns:
        The mean reward of each step's rollout batch, `steps` floats.
    """
    gen = torch.Generator().manual_seed(seed)
    target = torch.randint(vocab_size, (length,), generator=gen)  # [L]
    logits = torch.zeros(length, vocab_size, requires_grad=True)  # [L, V] the whole policy
    optimizer = torch.optim.Adam([logits], lr=lr)
    batch = groups * group_size
    group_ids = [g for g in range(groups) for _ in range(group_size)]
    mask = torch.ones(batch, length)  # [B, L] every token is an action
    curve = []
    for _ in range(steps):
        # rollout: sample B sequences from the current policy
        with torch.no_grad():
            probs = torch.softmax(logits, dim=-1)  # [L, V]
            actions = torch.multinomial(probs, batch, replacement=True, generator=gen).T  # [B, L]
            old_logprobs = torch.log_softmax(logits, dim=-1).gather(-1, actions.T).T  # [B, L]
        scores = (actions == target).float().mean(dim=-1)  # [B] share of correct tokens
        curve.append(scores.mean().item())
        advantages = spread_over_tokens(advantage_fn(scores, group_ids), mask)  # [B, L]
        for _ in range(ppo_epochs):
            if actor_loss_fn is not None:  # the table's logits for every sample: [B, L, V]
                loss, _ = actor_loss_fn(logits.expand(batch, -1, -1), actions, old_logprobs, advantages, mask)
            else:
                logprobs = torch.log_softmax(logits, dim=-1).gather(-1, actions.T).T  # [B, L]
                loss, _ = policy_loss_fn(logprobs, old_logprobs, advantages, mask)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return curve
