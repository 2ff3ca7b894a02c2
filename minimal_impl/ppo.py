# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#ppo-the-clipped-surrogate
"""PPO's clipped policy loss, the clipped value loss, entropy, and how a `[B, T]` loss becomes a scalar.

Semantics follow verl's `core_algos.py` (`agg_loss`, `compute_policy_loss_vanilla`,
`compute_value_loss`) and `torch_functional.entropy_from_logits`, with dp_size = 1.
Differences, all on inputs where verl returns NaN or raises, are listed in the chapter's checklist.
"""

from __future__ import annotations

import torch

from .masked import masked_mean, masked_sum

AGG_MODES = ("token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm")


def aggregate_loss(
    loss_mat: torch.Tensor,
    mask: torch.Tensor,
    mode: str = "token-mean",
    batch_num_tokens: float | None = None,
    global_batch_size: float | None = None,
    loss_scale_factor: float | None = None,
) -> torch.Tensor:
    """Reduce a per-token loss `[B, T]` to a scalar.

    Modes (verl's `loss_agg_mode`):
      - "token-mean": sum of all valid token losses / number of valid tokens. Every token weighs
        the same, so long responses weigh more in total (DAPO's choice, verl's default).
      - "seq-mean-token-sum": per-sequence sum, then mean over sequences.
      - "seq-mean-token-mean": per-sequence mean, then mean over sequences (the original GRPO paper);
        a token of a short response weighs more than one of a long response: the length bias.
      - "seq-mean-token-sum-norm": per-sequence sum / a constant (Dr.GRPO), by default the padded
        length T, then mean over sequences.
    Sequences whose mask is all zero are excluded from the sequence count.

    Args:
        loss_mat: `[B, T]` per-token loss.
        mask: `[B, T]` 0/1 loss mask.
        mode: one of `AGG_MODES`.
        batch_num_tokens: for "token-mean", the token count to divide by; pass the count of the
            whole mini-batch when this call sees only one micro-batch of it (gradient accumulation).
        global_batch_size: for the seq-mean modes, the sequence count to divide by (same reason).
        loss_scale_factor: the constant of "seq-mean-token-sum-norm"; None uses T = mask.shape[-1]
            like verl (a quirk: T then varies with the padding of each micro-batch).

    Returns:
        A 0-dim tensor. An all-zero mask gives 0, where verl's 0/0 gives NaN.
    """
    # EXERCISE difficulty=2 minutes=20
    # HINT: Start with token-mean: every valid token weighs the same, so it is a masked sum over a count of valid tokens. What must an all-zero mask give?
    # HINT: The sequence modes reduce each row first (a sum, or a mean over the row's valid tokens), then average over the rows; a row with no valid token is not a sequence.
    # HINT: seq-mean-token-sum-norm divides seq-mean-token-sum by one constant: loss_scale_factor, or T = mask.shape[-1] when it is None. batch_num_tokens and global_batch_size, when given, replace the counts.
    # HINT: An unknown mode is a config typo: raise ValueError.
    if mode not in AGG_MODES:
        raise ValueError(f"unknown loss aggregation mode {mode!r}; expected one of {AGG_MODES}")
    mask = mask.to(loss_mat.dtype)
    if mode == "token-mean":
        num_tokens = mask.sum().clamp(min=1) if batch_num_tokens is None else batch_num_tokens
        # L = sum_{i,t} m_it l_it / sum_{i,t} m_it
        return masked_sum(loss_mat, mask) / num_tokens
    row_tokens = mask.sum(dim=-1)  # [B]
    has_tokens = (row_tokens > 0).to(loss_mat.dtype)  # [B] rows that count as sequences
    if mode == "seq-mean-token-mean":
        # l_i = sum_t m_it l_it / (sum_t m_it + 1e-8)
        seq_losses = masked_sum(loss_mat, mask, dim=-1) / (row_tokens + 1e-8)  # [B]
    else:
        # l_i = sum_t m_it l_it
        seq_losses = masked_sum(loss_mat, mask, dim=-1)  # [B]
    num_seqs = has_tokens.sum().clamp(min=1) if global_batch_size is None else global_batch_size
    # L = sum_i l_i / (number of non-empty sequences)
    loss = masked_sum(seq_losses, has_tokens) / num_seqs
    if mode == "seq-mean-token-sum-norm":
        # Dr.GRPO: divide by a constant instead of each response's own length
        # (max with 1: a zero-length batch has loss 0, not 0 / 0)
        loss = loss / (max(mask.shape[-1], 1) if loss_scale_factor is None else loss_scale_factor)
    return loss


def ppo_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_low: float = 0.2,
    clip_high: float | None = None,
    dual_clip: float | None = None,
    agg: str = "token-mean",
    *,
    is_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO's clipped surrogate loss (to minimise), with optional asymmetric and dual clipping.

    Per token, with ratio r = exp(logp - logp_old) and advantage A:
        L = max(-A * r, -A * clip(r, 1 - clip_low, 1 + clip_high))
    and with dual clip c (Ye et al., AAAI 2020; arXiv 1912.09729, December 2019), for A < 0 only:
        L = min(L, -A * c)
    which caps the loss when r has grown far beyond 1 on a bad action.

    Args:
        logprobs: `[B, T]` log pi_theta(a_t | s_t) under the current parameters (with grad).
        old_logprobs: `[B, T]` log-probs under the policy that sampled the rollout.
        advantages: `[B, T]`.
        mask: `[B, T]` loss mask.
        clip_low: epsilon of the lower bound 1 - clip_low.
        clip_high: epsilon of the upper bound 1 + clip_high; None means clip_low (DAPO's
            "clip-higher" uses e.g. 0.28 here).
        dual_clip: the constant c > 1 of dual-clip PPO, or None for none. verl always applies
            it with c = 3 (`clip_ratio_c`); pass 3.0 to match verl's default.
        agg: loss aggregation mode, see `aggregate_loss`.
        is_weights: `[B, T]` rollout-correction weights (chapter 08) multiplying each token's loss before
            aggregation, as verl applies them; None for none.

    Returns:
        loss (0-dim tensor) and stats: `clipfrac` (share of valid tokens where the clipped term
        was chosen), `clipfrac_lower` (share where the dual clip was active), `approx_kl`
        (masked mean of logp_old - logp, a k1 estimate of KL(old || new)).
    """
    # EXERCISE difficulty=2 minutes=25
    # HINT: Write PPO's objective per token, min(r * A, clip(r) * A), then turn it into a loss to minimise: what happens to a min when you negate both terms?
    # HINT: r = exp(logprobs - old_logprobs); clamp the log-ratio to [-20, 20] first (as verl does) so that exp cannot overflow. The bounds are 1 - clip_low and 1 + clip_high (None means clip_low).
    # HINT: The dual clip only touches tokens with A < 0: there the loss is capped at -A * c.
    # HINT: Stats: clipfrac is the share of valid tokens where the clipped loss is strictly larger; clipfrac_lower where the dual cap was active; approx_kl the masked mean of old_logprobs - logprobs. Reduce the per-token loss with aggregate_loss.
    if dual_clip is not None and dual_clip <= 1.0:
        raise ValueError(f"dual_clip must be > 1 (it bounds the ratio for A < 0), got {dual_clip}")
    clip_high = clip_low if clip_high is None else clip_high
    # log r = log pi - log pi_old, clamped for stability
    log_ratio = torch.clamp(logprobs - old_logprobs, min=-20.0, max=20.0)  # [B, T]
    ratio = torch.exp(log_ratio)  # [B, T]
    approx_kl = masked_mean(-log_ratio, mask)

    # -A * r  and  -A * clip(r, 1 - eps_low, 1 + eps_high)
    loss_unclipped = -advantages * ratio  # [B, T]
    loss_clipped = -advantages * torch.clamp(ratio, 1 - clip_low, 1 + clip_high)  # [B, T]
    # pessimistic bound: max of the two losses = min of the two objectives
    loss_mat = torch.maximum(loss_unclipped, loss_clipped)  # [B, T]
    clipfrac = masked_mean(torch.gt(loss_clipped, loss_unclipped).float(), mask)

    if dual_clip is not None:
        # for A < 0: min(max(l1, l2), -A * c)
        loss_dual = -advantages * dual_clip  # [B, T]
        negative = advantages < 0  # [B, T]
        clipfrac_lower = masked_mean((torch.gt(loss_mat, loss_dual) & negative).float(), mask)
        loss_mat = torch.where(negative, torch.minimum(loss_mat, loss_dual), loss_mat)
    else:
        clipfrac_lower = torch.zeros(())

    if is_weights is not None:  # chapter 08: pi_old / pi_rollout, truncated or masked, detached
        loss_mat = loss_mat * is_weights
    loss = aggregate_loss(loss_mat, mask, agg)
    stats = {
        "clipfrac": clipfrac.item(),
        "clipfrac_lower": clipfrac_lower.item(),
        "approx_kl": approx_kl.item(),
    }
    return loss, stats


def value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    clip: float | None = 0.2,
    agg: str = "token-mean",
) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped value loss: 0.5 * max((V - R)^2, (V_clip - R)^2), V_clip = clip(V, V_old - c, V_old + c).

    Like the policy clip, the critic may move at most `clip` away from the values it had when the
    rollout was scored; taking the max makes the loss pessimistic.

    Args:
        values: `[B, T]` current critic predictions (with grad).
        old_values: `[B, T]` predictions at rollout time.
        returns: `[B, T]` GAE returns (the targets).
        mask: `[B, T]` loss mask.
        clip: the clip range c; None disables clipping.
        agg: loss aggregation mode, see `aggregate_loss`.

    Returns:
        loss (0-dim tensor) and stats: `vf_clipfrac`, the share of valid tokens where the clipped
        error was larger.
    """
    # EXERCISE difficulty=1 minutes=10
    # HINT: Like the policy clip: the new prediction may move at most `clip` away from old_values, and the loss takes the worse (larger) of the clipped and unclipped squared errors.
    # HINT: Clip the values around old_values (not around the returns), compare both errors per token, aggregate, and keep the factor 0.5. clip=None disables clipping.
    errors = (values - returns) ** 2  # [B, T]
    if clip is None:
        errors_clipped = errors
    else:
        # V_clip = clip(V, V_old - c, V_old + c)
        values_clipped = torch.max(torch.min(values, old_values + clip), old_values - clip)  # [B, T]
        errors_clipped = (values_clipped - returns) ** 2  # [B, T]
    # L_V = 0.5 * agg(max((V - R)^2, (V_clip - R)^2))
    loss = 0.5 * aggregate_loss(torch.max(errors, errors_clipped), mask, agg)
    vf_clipfrac = masked_mean(torch.gt(errors_clipped, errors).float(), mask)
    return loss, {"vf_clipfrac": vf_clipfrac.item()}


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the categorical distribution softmax(logits), per position.

    Args:
        logits: `[B, T, V]` unnormalised scores.

    Returns:
        `[B, T]`: H = logsumexp(z) - sum_v softmax(z)_v * z_v, which equals -sum p log p but
        never evaluates log(0).
    """
    # EXERCISE difficulty=1 minutes=10
    # HINT: H = -sum_v p_v log p_v, but log p_v is -inf where p_v underflows to 0. Rewrite log p_v in terms of the logits.
    # HINT: log p_v = z_v - logsumexp(z): substitute it and simplify until no log of a probability is left.
    probs = torch.softmax(logits, dim=-1)  # [B, T, V]
    # H = logsumexp(z) - sum_v p_v z_v
    return torch.logsumexp(logits, dim=-1) - (probs * logits).sum(dim=-1)  # [B, T]
