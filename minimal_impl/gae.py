# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#gae-generalized-advantage-estimation
"""Generalized Advantage Estimation (Schulman et al. 2015, arXiv 1506.02438) over token sequences.

In LLM RL each response token is an action, the value head gives V(s_t) per token, and the reward is
usually 0 everywhere except the last token. In a multi-turn agent response, tokens that the tool wrote
(retrieved documents) sit between the model's turns: they are not actions, so they get mask 0, and
the recursion must jump over them as if they were not there. Semantics follow verl's
`compute_gae_advantage_return` (core_algos.py), without its final whitening step.
"""

from __future__ import annotations

import torch


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    gamma: float = 1.0,
    lam: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and returns by GAE, skipping masked positions.

    Args:
        rewards: `[B, T]` token-level rewards (typically the score on the last valid token).
        values: `[B, T]` critic values V(s_t).
        mask: `[B, T]` 1 on model-generated tokens, 0 on padding and tool-output tokens.
        gamma: discount factor (1.0 in most LLM RL: episodes are short and the reward is terminal).
        lam: GAE lambda; 1.0 gives Monte-Carlo advantages, 0.0 gives one-step TD errors.

    Returns:
        advantages `[B, T]` (not whitened; whiten with `masked_whiten` as verl does) and
        returns `[B, T]` = advantages + values, the regression target of the critic.
        At a masked position the recursion state is carried through unchanged, so its advantage
        equals that of the next valid token (0 after the last one); mask it out before use.
    """
    # EXERCISE difficulty=2 minutes=25
    # HINT: GAE looks at the future: each A_t needs two numbers from the next valid step, its value and its advantage. Walk the positions backwards and carry them.
    # HINT: One step: the TD error delta_t = r_t + gamma * V(next valid) - V_t, then A_t = delta_t + gamma * lam * A(next valid); both carried numbers are 0 after the end.
    # HINT: A masked position is not a time step: the carried state must pass through it unchanged. Blending with the mask (m * new + (1 - m) * old) avoids a Python branch per row.
    # HINT: What goes into the output at a masked position? The docstring says (verl's convention). Returns are advantages + values everywhere; T = 0 needs no loop.
    batch_size, seq_len = rewards.shape
    if seq_len == 0:  # empty responses: nothing to estimate
        return torch.zeros_like(values), torch.zeros_like(values)
    next_value = torch.zeros(batch_size, dtype=values.dtype, device=values.device)  # [B]
    last_gae = torch.zeros(batch_size, dtype=values.dtype, device=values.device)  # [B]
    advantages_reversed = []
    for t in reversed(range(seq_len)):
        m = mask[:, t].to(values.dtype)  # [B]
        # delta_t = r_t + gamma * V(s_{t+1}) - V(s_t)
        delta = rewards[:, t] + gamma * next_value - values[:, t]  # [B]
        # A_t = delta_t + gamma * lam * A_{t+1}
        gae_t = delta + gamma * lam * last_gae  # [B]
        # masked token: carry the state through, as if this position did not exist
        next_value = m * values[:, t] + (1 - m) * next_value
        last_gae = m * gae_t + (1 - m) * last_gae
        advantages_reversed.append(last_gae)
    advantages = torch.stack(advantages_reversed[::-1], dim=1)  # [B, T]
    # R_t = A_t + V(s_t): the target the critic regresses onto
    returns = advantages + values  # [B, T]
    return advantages, returns
