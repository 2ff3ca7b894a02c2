# Chapter 08 notes: learning_notes/08_beyond_grpo/README.md#reinforce-whiten-over-the-batch
# Generated from minimal_impl/reinforce.py by scripts/make_exercises.py; do not edit here: make your own copy with `python scripts/make_exercises.py --out my_solutions` (README.md#exercise-mode).
"""REINFORCE++ (Hu et al. 2025, arXiv 2501.03262), its group-baseline variant, and OPO's length-weighted baseline.

Three critic-free advantage estimators that differ from GRPO (chapter 03) only in the baseline and the
normalisation:
    REINFORCE++           A_t = whiten_batch( sum_{k>=t} gamma^(k-t) r_k )     no group needed
    REINFORCE++-baseline  A_i = whiten_batch( s_i - mean(group) )             group mean, batch std
    OPO                   A_i = s_i - sum_j |o_j| s_j / sum_j |o_j|           length-weighted group mean
"Whiten over the batch" means over every valid token of the whole batch (`masked_whiten`), so a response
of 10 tokens weighs 10 times in the mean and the variance. Semantics follow verl 0.9.1's
`compute_reinforce_plus_plus_outcome_advantage`, `compute_reinforce_plus_plus_baseline_outcome_advantage`
and `compute_opo_outcome_advantage` (core_algos.py), singleton groups included.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .grpo import _group_indices
from .masked import masked_whiten


def _check_shapes(scores: torch.Tensor, mask: torch.Tensor) -> None:
    if scores.dim() != 1 or mask.dim() != 2 or mask.shape[0] != scores.shape[0]:
        raise ValueError(
            f"expected scores [B] and mask [B, T], got scores {tuple(scores.shape)} and mask {tuple(mask.shape)}"
        )


def reinforce_pp_advantages(token_rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """REINFORCE++ advantages: the discounted reward-to-go of each token, whitened over the batch.

    No critic and no group: the baseline is the batch mean of the returns, and the scale is their
    batch standard deviation, both over the valid tokens of the whole batch.

    Example: rewards `[[0, 0, 0, 0, 1], [0, 0, -1, 0, 0]]`, mask `[[1, 1, 0, 0, 1], [1, 1, 1, 0, 0]]`,
    gamma 0.5: the returns are `[0.25, 0.5, ·, ·, 1]` and `[-0.25, -0.5, -1, ·, ·]` (the two tool tokens
    of row 0 are not time steps: no discount across them); their mean is 0 and their unbiased std
    0.7246, so the advantages are `[[0.345, 0.690, 0, 0, 1.380], [-0.345, -0.690, -1.380, 0, 0]]`.

    Args:
        token_rewards: `[B, T]` reward per token (the score on the last valid token, plus any
            per-token terms such as a KL penalty from `kl.kl_penalty_rewards`).
        mask: `[B, T]` 1 on tokens the policy generated, 0 on padding and tool output.
        gamma: discount per *generated* token, in [0, 1].

    Returns:
        `[B, T]` advantages, 0 where the mask is 0. A masked position neither adds its reward nor
        discounts: the running return is carried through unchanged, as in verl. With fewer than two
        valid tokens in the batch there is no spread to whiten by: zeros (verl raises there).
    """
    # Exercise: difficulty ★★☆ (medium), about 20 minutes.
    # Hint 1 of 3: Walk t from T-1 down to 0 with a running return G (a [B] tensor, starting at 0).
    # Stuck? The next hint: python scripts/make_exercises.py --hint reinforce.reinforce_pp_advantages
    raise NotImplementedError("reinforce.reinforce_pp_advantages: exercise not implemented yet")


def reinforce_pp_baseline_advantages(
    scores: torch.Tensor, group_ids: Sequence | np.ndarray | torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """REINFORCE++-baseline: subtract the group mean, then whiten over the batch's valid tokens.

    The group mean removes the prompt's difficulty (like GRPO); the batch standard deviation, instead
    of each group's, sets one scale for the whole batch, so a group with little spread is not blown up.

    Example: scores `[1, 0, 0, 1 | 1, 1, 1 | 1]` in groups a, b (all tied), c (a singleton), with 2, 1,
    1, 2 | 1, 1, 1 | 1 valid tokens: after the group means, `[0.5, -0.5, -0.5, 0.5 | 0, 0, 0 | 1]`;
    over the 10 tokens the mean is 0.2 and the unbiased std 0.4830, so the advantages are
    `[0.621, -1.449, -1.449, 0.621 | -0.414, -0.414, -0.414 | 1.656]` on every token of each response.

    Args:
        scores: `[B]` one scalar reward per response.
        group_ids: `B` hashable ids (list, numpy array or tensor); equal ids form a group.
        mask: `[B, T]` response (loss) mask; holes (tool output) are allowed.

    Returns:
        `[B, T]` advantages, 0 where the mask is 0. A singleton group has mean 0 (verl's rule), so
        its raw score enters the whitening. A tied group is 0 after its mean but *not* after the
        whitening, which shifts every token by the batch mean: it gets `-mean / std`, as in verl.
    """
    # Exercise: difficulty ★☆☆ (easy), about 15 minutes.
    # Hint 1 of 2: For each group (grpo._group_indices gives the rows): subtract the group's mean score; a group of
    #   one subtracts 0.
    # Stuck? The next hint: python scripts/make_exercises.py --hint reinforce.reinforce_pp_baseline_advantages
    raise NotImplementedError("reinforce.reinforce_pp_baseline_advantages: exercise not implemented yet")


def opo_advantages(
    scores: torch.Tensor, group_ids: Sequence | np.ndarray | torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """OPO (Hao et al. 2025, arXiv 2505.23585): the group baseline weighted by response length.

    b_g = sum_j |o_j| s_j / sum_j |o_j| over the group, A_i = s_i - b_g on every token of response i,
    with |o_j| the number of valid (mask 1) tokens. A long response contributes more gradient terms,
    so its score counts more in the baseline; under the paper's assumption that the gradient's size
    grows with length, this is the variance-minimising constant baseline. No normalisation.

    Example: scores `[1, 0, 0]` with 2, 2 and 4 tokens: b = (2·1 + 2·0 + 4·0) / 8 = 0.25 (the plain
    mean would be 1/3), so the advantages are `[0.75, -0.25, -0.25]`.

    Args:
        scores: `[B]` one scalar reward per response.
        group_ids: `B` hashable ids (list, numpy array or tensor); equal ids form a group.
        mask: `[B, T]` response (loss) mask; tool-output holes do not count in |o|.

    Returns:
        `[B, T]` advantages, 0 where the mask is 0. A singleton keeps its raw score (baseline 0, as
        in verl). A group whose responses are all empty has no length to weigh by: its baseline is 0
        and its advantages are 0 (verl's 0 / 0 gives NaN there).
    """
    # Exercise: difficulty ★☆☆ (easy), about 15 minutes.
    # Hint 1 of 3: |o_i| = mask.sum(-1). For a group of size > 1: b = (lengths * scores).sum() / lengths.sum() over
    #   its rows; singletons keep b = 0.
    # Stuck? The next hint: python scripts/make_exercises.py --hint reinforce.opo_advantages
    raise NotImplementedError("reinforce.opo_advantages: exercise not implemented yet")
