# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#gae-generalized-advantage-estimation
# Generated from minimal_impl/gae.py by scripts/make_exercises.py; do not edit here: make your own copy with `python scripts/make_exercises.py --out my_solutions` (README.md#exercise-mode).
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
    # Exercise: difficulty ★★☆ (medium), about 25 minutes.
    # Hint 1 of 4: GAE looks at the future: each A_t needs two numbers from the next valid step, its value and its
    #   advantage. Walk the positions backwards and carry them.
    # Stuck? The next hint: python scripts/make_exercises.py --hint gae.compute_gae
    raise NotImplementedError("gae.compute_gae: exercise not implemented yet")
