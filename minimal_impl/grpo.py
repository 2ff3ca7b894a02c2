# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#grpo-rloo-and-drgrpo
"""Group-relative advantages: GRPO (Shao et al. 2024, arXiv 2402.03300), Dr.GRPO and RLOO.

Sample n responses per prompt (a group), score each, and use the other members of the group as the
baseline: no critic is needed. Each response gets one scalar advantage, which is then spread over
its response tokens. Semantics follow verl's `compute_grpo_outcome_advantage` and
`compute_rloo_outcome_advantage` (core_algos.py), including their singleton-group behaviour.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def _group_indices(group_ids: Sequence | np.ndarray | torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """Row indices of each group, in order of first appearance."""
    ids = group_ids.tolist() if isinstance(group_ids, (np.ndarray, torch.Tensor)) else list(group_ids)
    if len(ids) != batch_size:
        raise ValueError(f"group_ids has {len(ids)} entries but there are {batch_size} scores")
    groups: dict = {}
    for row, gid in enumerate(ids):
        groups.setdefault(gid, []).append(row)
    return [torch.tensor(rows) for rows in groups.values()]


def grpo_advantages(
    scores: torch.Tensor,
    group_ids: Sequence | np.ndarray | torch.Tensor,
    eps: float = 1e-6,
    scale_by_std: bool = True,
) -> torch.Tensor:
    """GRPO outcome advantages: A_i = (s_i - mean(group)) / (std(group) + eps).

    Args:
        scores: `[B]` one scalar reward per response.
        group_ids: `B` hashable ids (e.g. the prompt's uid); equal ids form a group.
        eps: added to the std so that a group of identical scores gives 0, not NaN.
        scale_by_std: False gives Dr.GRPO (arXiv 2503.20783): A_i = s_i - mean(group), which removes
            the bias towards groups with little spread (too easy or too hard prompts).

    Returns:
        `[B]` advantages. The std is the unbiased one (torch.std). A group of one response has
        mean 0 and std 1 (verl's rule), so its advantage is its raw score / (1 + eps), not 0:
        a quirk to know when n = 1 or when groups get filtered.
    """
    # EXERCISE difficulty=2 minutes=15
    # HINT: Rows with the same group id form a group, and groups need not be contiguous: gather each group's rows first (this module has a helper that also checks the lengths).
    # HINT: Within a group: subtract the group's mean and divide by its std plus eps. Which std does GRPO use, and which does torch.std compute by default?
    # HINT: A group of one has no spread: follow verl's rule in the docstring. scale_by_std=False skips the division (Dr.GRPO).
    scores = scores.detach().clone()  # [B]
    advantages = torch.empty_like(scores)  # [B]
    for rows in _group_indices(group_ids, scores.shape[0]):
        group = scores[rows]  # [n]
        if len(rows) > 1:
            mean, std = group.mean(), group.std()
        else:
            mean, std = torch.tensor(0.0), torch.tensor(1.0)
        # A_i = (s_i - mean_g) / (std_g + eps)   or Dr.GRPO: s_i - mean_g
        advantages[rows] = (group - mean) / (std + eps) if scale_by_std else group - mean
    return advantages


def rloo_advantages(scores: torch.Tensor, group_ids: Sequence | np.ndarray | torch.Tensor) -> torch.Tensor:
    """REINFORCE leave-one-out (Ahmadian et al. 2024, arXiv 2402.14740).

    A_i = s_i - mean of the *other* n - 1 scores of the group = n / (n - 1) * (s_i - mean(group)).
    The baseline does not contain s_i itself, so the estimate stays unbiased.

    Args:
        scores: `[B]`.
        group_ids: `B` hashable ids.

    Returns:
        `[B]` advantages. A group of one has no "others": verl leaves its raw score, as we do.
    """
    # EXERCISE difficulty=1 minutes=10
    # HINT: The baseline of response i is the mean of the *other* responses of its group. Write s_i - mean_{j != i} s_j in terms of the group mean and n.
    # HINT: A singleton keeps its raw score: there is no other response to compare with.
    scores = scores.detach().clone()  # [B]
    advantages = scores.clone()  # [B]
    for rows in _group_indices(group_ids, scores.shape[0]):
        n = len(rows)
        if n > 1:
            group = scores[rows]  # [n]
            # A_i = n/(n-1) * s_i - n/(n-1) * mean_g = s_i - mean_{j != i} s_j
            advantages[rows] = group * n / (n - 1) - group.mean() * n / (n - 1)
    return advantages


def spread_over_tokens(seq_advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Give every valid response token its sequence's advantage: `[B]` -> `[B, T]`.

    Args:
        seq_advantages: `[B]`.
        mask: `[B, T]` response (loss) mask.

    Returns:
        `[B, T]` = A_i * m_it: the same advantage on each generated token, 0 elsewhere.
    """
    return seq_advantages.unsqueeze(-1) * mask  # [B, 1] * [B, T] -> [B, T]
