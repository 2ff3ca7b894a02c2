# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#ppo-the-clipped-surrogate
# Generated from minimal_impl/ppo.py by scripts/make_exercises.py; do not edit here: make your own copy with `python scripts/make_exercises.py --out my_solutions` (README.md#exercise-mode).
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
    # Exercise: difficulty ★★☆ (medium), about 20 minutes.
    # Hint 1 of 4: Start with token-mean: every valid token weighs the same, so it is a masked sum over a count of
    #   valid tokens. What must an all-zero mask give?
    # Stuck? The next hint: python scripts/make_exercises.py --hint ppo.aggregate_loss
    raise NotImplementedError("ppo.aggregate_loss: exercise not implemented yet")


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
    # Exercise: difficulty ★★☆ (medium), about 25 minutes.
    # Hint 1 of 4: Write PPO's objective per token, min(r * A, clip(r) * A), then turn it into a loss to minimise:
    #   what happens to a min when you negate both terms?
    # Stuck? The next hint: python scripts/make_exercises.py --hint ppo.ppo_policy_loss
    raise NotImplementedError("ppo.ppo_policy_loss: exercise not implemented yet")


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
    # Exercise: difficulty ★☆☆ (easy), about 10 minutes.
    # Hint 1 of 2: Like the policy clip: the new prediction may move at most `clip` away from old_values, and the
    #   loss takes the worse (larger) of the clipped and unclipped squared errors.
    # Stuck? The next hint: python scripts/make_exercises.py --hint ppo.value_loss
    raise NotImplementedError("ppo.value_loss: exercise not implemented yet")


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the categorical distribution softmax(logits), per position.

    Args:
        logits: `[B, T, V]` unnormalised scores.

    Returns:
        `[B, T]`: H = logsumexp(z) - sum_v softmax(z)_v * z_v, which equals -sum p log p but
        never evaluates log(0).
    """
    # Exercise: difficulty ★☆☆ (easy), about 10 minutes.
    # Hint 1 of 2: H = -sum_v p_v log p_v, but log p_v is -inf where p_v underflows to 0. Rewrite log p_v in terms
    #   of the logits.
    # Stuck? The next hint: python scripts/make_exercises.py --hint ppo.entropy_from_logits
    raise NotImplementedError("ppo.entropy_from_logits: exercise not implemented yet")
