# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#masked-statistics
# Generated from minimal_impl/masked.py by scripts/make_exercises.py; do not edit here: make your own copy with `python scripts/make_exercises.py --out my_solutions` (README.md#exercise-mode).
"""Statistics over the valid tokens of a padded batch.

Every RL tensor here is `[B, T]`: B sequences, T response positions, with a 0/1 mask that marks
which positions are real model tokens (not padding, not injected tool output). Means, variances
and whitening must ignore the masked positions, or padding silently changes the advantages.
Semantics follow verl's `verl/utils/torch_functional.py`.
"""

from __future__ import annotations

import torch


def masked_sum(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Sum of `values` where `mask` is non-zero.

    NaN or inf at masked positions cannot leak in: they are replaced by 0 before multiplying.

    Args:
        values: any shape, e.g. `[B, T]`.
        mask: same shape, 0/1 (bool, int or float).
        dim: dimension to reduce; None reduces everything.
    """
    valid = torch.where(mask.bool(), values, torch.zeros_like(values))  # [B, T]
    return (valid * mask).sum(dim=dim) if dim is not None else (valid * mask).sum()


def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of `values` over the positions where `mask` is 1.

    Args:
        values: `[B, T]` (any shape works).
        mask: same shape as `values`, 0/1.
        dim: dimension to reduce; None gives one scalar over the whole batch.

    Returns:
        The masked mean; an all-zero mask gives 0 (not NaN) thanks to the `1e-8` in the denominator.
    """
    # Exercise: difficulty ★☆☆ (easy), about 5 minutes.
    # Hint 1 of 3: The mean of the valid positions only: a masked sum over the number of valid positions. This
    #   module already has a helper for one of the two.
    # Stuck? The next hint: python scripts/make_exercises.py --hint masked.masked_mean
    raise NotImplementedError("masked.masked_mean: exercise not implemented yet")


def masked_var(values: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance of `values` over the masked positions (a scalar over the whole batch).

    Args:
        values: `[B, T]`.
        mask: `[B, T]`, 0/1.
        unbiased: apply Bessel's correction n / (n - 1), as verl does.

    Returns:
        A 0-dim tensor. With fewer than two valid positions the unbiased variance is undefined:
        verl raises a ValueError there; we return 0 so that an empty batch (every response cut off)
        cannot crash a training step. `masked_whiten` then returns zeros.
    """
    # Exercise: difficulty ★☆☆ (easy), about 10 minutes.
    # Hint 1 of 3: Variance is the mean squared deviation from the mean, where both means count the valid positions
    #   only (reuse masked_mean).
    # Stuck? The next hint: python scripts/make_exercises.py --hint masked.masked_var
    raise NotImplementedError("masked.masked_var: exercise not implemented yet")


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """Normalise `values` to zero mean and unit variance using statistics of the masked positions.

    Args:
        values: `[B, T]`, e.g. GAE advantages.
        mask: `[B, T]`, 0/1. Only these positions enter the mean and variance; every position
            (masked ones too) is transformed, as in verl, so mask the result where it matters.
        shift_mean: if False, add the mean back after scaling (verl's option for rewards).

    Returns:
        `[B, T]`: `(values - mean) / sqrt(var + 1e-8)`. With fewer than two valid positions,
        zeros (plus the mean if `shift_mean` is False): one number has no spread to scale by.
    """
    # Exercise: difficulty ★☆☆ (easy), about 5 minutes.
    # Hint 1 of 3: Whitening subtracts the mean and divides by the standard deviation, both taken over the valid
    #   positions only, and applies that to every position.
    # Stuck? The next hint: python scripts/make_exercises.py --hint masked.masked_whiten
    raise NotImplementedError("masked.masked_whiten: exercise not implemented yet")
