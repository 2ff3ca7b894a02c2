# Chapter 08 notes: learning_notes/08_beyond_grpo/README.md#training-inference-mismatch-tis-and-icepop
# Generated from minimal_impl/rollout_correction.py by scripts/make_exercises.py; do not edit here: make your own copy with `python scripts/make_exercises.py --out my_solutions` (README.md#exercise-mode).
"""Correcting for the rollout engine's policy, and DAPO's soft penalty for overlong responses.

The tokens were sampled by the rollout engine (vLLM in bf16, its own kernels, maybe weights a few
steps old), but the loss's ratio pi_theta / pi_old uses the trainer's recomputed pi_old. The two
differ, so the data are slightly off-policy even on the first mini-batch. The per-token weight
pi_old / pi_rollout corrects that; it is heavy-tailed, so it is truncated (TIS: min(w, C)) or
tokens outside a band are dropped (IcePop: w * 1[low <= w <= high]).
Semantics follow verl 0.9.1's `compute_rollout_correction_weights` (trainer/ppo/rollout_corr_helper.py)
and the overlong penalty of its `DAPORewardManager` (workers/reward_manager/dapo.py).
"""

from __future__ import annotations

import torch

from .masked import masked_mean, masked_sum

SAFETY_BOUND = 20.0  # |log w| <= 20 before exp, as in verl: exp(20) = 4.9e8, exp(-20) = 2.1e-9
IS_LEVELS = ("token", "sequence")


def parse_is_threshold(threshold: float | tuple[float, float] | str) -> tuple[float | None, float]:
    """`(low, high)` of a threshold: a number is TIS's upper bound (low None), a pair or verl's
    "low_high" string is IcePop's band. Raises ValueError for anything else."""
    if isinstance(threshold, str):
        parts = threshold.split("_")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"rollout_is_threshold {threshold!r}: expected a number or 'low_high'") from None
        threshold = values[0] if len(values) == 1 else tuple(values)
    if isinstance(threshold, bool):
        raise ValueError("rollout_is_threshold must be a number or a (low, high) pair, not a bool")
    if isinstance(threshold, (int, float)):
        low, high = None, float(threshold)
    elif isinstance(threshold, (tuple, list)) and len(threshold) == 2:
        low, high = float(threshold[0]), float(threshold[1])
        if not 0 < low <= high:
            raise ValueError(f"IcePop band (low, high) needs 0 < low <= high, got {threshold}")
    else:
        raise ValueError(
            f"rollout_is_threshold must be a number (TIS) or a (low, high) pair (IcePop), got {threshold!r}"
        )
    if high <= 0:
        raise ValueError(f"the upper threshold must be positive, got {high}")
    return low, high


def rollout_is_weights(
    log_ratio: torch.Tensor,
    mask: torch.Tensor,
    level: str = "token",
    threshold: float | tuple[float, float] | str = 2.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Importance weights pi_old / pi_rollout, truncated (TIS) or band-masked (IcePop), with their stats.

    Multiply the per-token policy loss by the returned weights (the policy losses' `is_weights`).

    Example: log-ratios `ln [0.5, 1, 3]` and `ln [2, 2, ·, 0.9]` (· a tool token), token level:
    threshold 2.0 (TIS) gives `[0.5, 1, 2]` and `[2, 2, 0, 0.9]`; threshold (0.5, 2.0) (IcePop) gives
    `[0.5, 1, 0]` and `[2, 2, 0, 0.9]`. Sequence level: the rows' weights are 1.5 and 3.6; TIS gives
    1.5 and 2 on every valid token, IcePop 1.5 and 0.

    Args:
        log_ratio: `[B, T]` log pi_old - log pi_rollout per token: the trainer's recomputed log-probs
            minus the rollout engine's log-probs of the same sampled tokens.
        mask: `[B, T]` response (loss) mask.
        level: "token" (w_t = exp(l_t); biased, low variance) or "sequence" (one weight per
            response, w = exp(sum_t l_t) over its valid tokens; unbiased, high variance).
        threshold: a number C > 0 for TIS, w <- min(w, C); or a pair (low, high) (or verl's string
            "low_high") for IcePop, w <- w if low <= w <= high else 0.

    Returns:
        weights `[B, T]`, detached, 0 where the mask is 0 (whatever log_ratio holds there, NaN
        included); and stats, all over the valid tokens:
          - `log_ratio_abs_mean`: mean |log pi_old - log pi_rollout| per token, the size of the mismatch;
          - `weight_mean`: mean of the returned weights (verl's rollout_is_mean);
          - `ess`: effective sample size / n = (mean w)^2 / mean(w^2), in (0, 1]; 1 when all
            weights are equal (verl's rollout_is_eff_sample_size);
          - `truncated_fraction`: share of valid tokens whose weight TIS lowered (0 under IcePop);
          - `masked_fraction`: share of valid tokens IcePop zeroed (0 under TIS).
        At sequence level the fractions count tokens, not sequences. The log-weight is clamped to
        [-20, 20] before exp (verl's safety bound; at sequence level, the sum). An all-zero mask
        gives zero weights and zero stats (verl raises).
    """
    # Exercise: difficulty ★★☆ (medium), about 25 minutes.
    # Hint 1 of 4: low, high = parse_is_threshold(threshold) (low is None for TIS).
    # Stuck? The next hint: python scripts/make_exercises.py --hint rollout_correction.rollout_is_weights
    raise NotImplementedError("rollout_correction.rollout_is_weights: exercise not implemented yet")


def overlong_penalty(lengths: torch.Tensor, max_len: int, buffer_len: int, penalty_factor: float = 1.0) -> torch.Tensor:
    """DAPO's soft overlong punishment, added to each response's score.

    Responses up to max_len - buffer_len tokens are not penalised; inside the last buffer_len tokens
    the penalty falls linearly from 0 to -penalty_factor at max_len:
        R_len = min(0, -(L - (max_len - buffer_len)) / buffer_len * penalty_factor)

    Example: max_len 20, buffer_len 4, lengths `[10, 16, 17, 18, 20]` give `[0, 0, -0.25, -0.5, -1]`.

    Args:
        lengths: `[B]` response lengths in tokens (verl counts every response token the attention
            mask covers, tool output included).
        max_len: the generation budget (verl's max_response_length).
        buffer_len: the soft zone before it (DAPO: 4096 of 20480); must be in (0, max_len].
        penalty_factor: the penalty at max_len, in reward units.

    Returns:
        `[B]` float penalties, <= 0. Beyond max_len the line continues (L = max_len + buffer_len
        gives -2 * penalty_factor), as in verl; the DAPO paper floors it at -1 there, but a rollout
        capped at max_len never gets there.
    """
    # Exercise: difficulty ★☆☆ (easy), about 10 minutes.
    # Hint 1 of 2: expected = max_len - buffer_len; exceed = lengths - expected; penalty = -exceed / buffer_len *
    #   penalty_factor, capped at 0 from above.
    # Stuck? The next hint: python scripts/make_exercises.py --hint rollout_correction.overlong_penalty
    raise NotImplementedError("rollout_correction.overlong_penalty: exercise not implemented yet")
