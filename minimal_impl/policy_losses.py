# Chapter 08 notes: learning_notes/08_beyond_grpo/README.md#gspo-one-ratio-per-sequence
"""Three policy losses that change PPO's importance ratio or its clip: GSPO, CISPO and GMPO.

    GSPO  (Zheng et al. 2025, arXiv 2507.18071): one ratio per sequence, the geometric mean of its
          token ratios, clipped in a very narrow band (3e-4, 4e-4).
    CISPO (MiniMax 2025, arXiv 2506.13585): REINFORCE weighted by a clipped, detached ratio; a clipped
          token keeps its gradient, only the weight on it is bounded.
    GMPO  (Zhao et al. 2025, arXiv 2507.20673): PPO's per-token clip in log space, then the geometric
          mean of the clipped token ratios over each sequence.

Each returns `(loss, stats)` like `ppo.ppo_policy_loss` (stats: `clipfrac`, `clipfrac_lower`,
`approx_kl`) and takes the same `[B, T]` tensors. `is_weights` (from `rollout_correction.rollout_is_weights`)
multiplies the per-token loss before aggregation, as verl does with `rollout_is_weights`.
Semantics follow verl 0.9.1's `compute_policy_loss_gspo`, `compute_policy_loss_cispo` and
`compute_policy_loss_geo_mean` (core_algos.py); the differences are in the chapter's checklist.
"""

from __future__ import annotations

import torch

from .masked import masked_mean, masked_sum
from .ppo import aggregate_loss


def _check_clip(clip_low: float, clip_high: float) -> None:
    if clip_low < 0 or clip_high < 0:
        raise ValueError(f"clip ranges must be >= 0, got clip_low={clip_low}, clip_high={clip_high}")


def gspo_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_low: float = 3e-4,
    clip_high: float = 4e-4,
    agg: str = "seq-mean-token-mean",
    *,
    is_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """GSPO's clipped loss with one importance ratio per sequence.

    s_i = (pi(y_i) / pi_old(y_i)) ^ (1 / |y_i|) = exp(mean_t log r_it) over the valid tokens, then per
    token L = max(-A * s, -A * clip(s, 1 - clip_low, 1 + clip_high)). The value on every token of a
    sequence is s_i; the gradient goes through each token's own log-prob (verl's "GSPO-token" form
    s_it = sg(s_i) * pi_it / sg(pi_it)), which with one advantage per sequence is exactly GSPO's
    gradient -A_i s_i (1/|y_i|) sum_t grad log pi_it.

    Example (clip 0.2, seq-mean-token-mean): A = +1 with token ratios (1.5, 1) gives s = sqrt(1.5) =
    1.22 > 1.2: clipped, loss -1.2, no gradient; A = -1 with ratios (2, 0.5, 1) gives s = 1: loss 1 and
    the same weight on all three tokens, where PPO would have clipped the 0.5 and doubled the 2.

    Args:
        logprobs: `[B, T]` log-probs under the current parameters (with grad).
        old_logprobs: `[B, T]` log-probs under the policy that sampled the rollout.
        advantages: `[B, T]` (normally one value per sequence, spread over its tokens).
        mask: `[B, T]` loss mask; holes (tool output) do not enter s_i.
        clip_low, clip_high: the band [1 - clip_low, 1 + clip_high] of s; the paper uses 3e-4 and
            4e-4, because a mean of log-ratios moves far less than one token's.
        agg: aggregation mode of `ppo.aggregate_loss`; GSPO's paper is "seq-mean-token-mean".
        is_weights: optional `[B, T]` rollout-correction weights multiplying the per-token loss.

    Returns:
        loss and stats: `clipfrac` (share of valid tokens whose sequence was clipped), `clipfrac_lower`
        (always 0: there is no dual clip), `approx_kl` (masked mean of logp_old - logp). log s is
        clamped at 10 from above, as in verl.
    """
    # EXERCISE difficulty=3 minutes=30
    # HINT: Per sequence: mean log-ratio = masked_sum(logprobs - old_logprobs, mask, dim=-1) / (token count, at least 1).
    # HINT: You need a [B, T] tensor whose value on every token is the sequence's mean log-ratio but whose gradient is that of the token's own log-prob: x - x.detach() + y.detach() has the value of y and the gradient of x. Clamp it at max 10 (verl), then exp.
    # HINT: The rest is PPO without dual clip: max(-A * s, -A * clip(s, 1 - clip_low, 1 + clip_high)), multiplied by is_weights when given, then aggregate_loss with agg.
    # HINT: clipfrac = masked_mean(clipped term > unclipped term); approx_kl = masked_mean(old_logprobs - logprobs).
    _check_clip(clip_low, clip_high)
    mask = mask.to(logprobs.dtype)
    log_ratio = logprobs - old_logprobs  # [B, T]
    lengths = mask.sum(dim=-1).clamp(min=1)  # [B]
    # log s_i = (1/|y_i|) sum_t log(pi_it / pi_old_it)
    seq_log_ratio = masked_sum(log_ratio, mask, dim=-1) / lengths  # [B]
    # s_it = sg(s_i) * pi_it / sg(pi_it): value s_i, gradient through log pi_it
    log_s = logprobs - logprobs.detach() + seq_log_ratio.detach().unsqueeze(-1)  # [B, T]
    seq_ratio = torch.exp(torch.clamp(log_s, max=10.0))  # [B, T]
    loss_unclipped = -advantages * seq_ratio  # [B, T]
    loss_clipped = -advantages * torch.clamp(seq_ratio, 1 - clip_low, 1 + clip_high)  # [B, T]
    loss_mat = torch.maximum(loss_unclipped, loss_clipped)  # [B, T]
    if is_weights is not None:
        loss_mat = loss_mat * is_weights
    loss = aggregate_loss(loss_mat, mask, agg)
    stats = {
        "clipfrac": masked_mean(torch.gt(loss_clipped, loss_unclipped).to(mask.dtype), mask).item(),
        "clipfrac_lower": 0.0,
        "approx_kl": masked_mean(-log_ratio, mask).item(),
    }
    return loss, stats


def cispo_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_low: float,
    clip_high: float,
    agg: str = "token-mean",
    *,
    is_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """CISPO: L = -sg(clip(r, 1 - clip_low, 1 + clip_high)) * A * log pi, per token.

    The clipped ratio is a constant weight (stop-gradient), so every token's gradient is
    -clip(r) * A * grad log pi: a token whose ratio left the band still pulls, with a bounded weight,
    where PPO's clip would have set its gradient to exactly 0.

    Example (clip 0.2, token-mean over 6 tokens, A = +1 on ratios 1.5, 0.5, 1.1 and A = -1 on 0.5,
    1.5, 4.0): d loss / d logp = (-1.2, -0.8, -1.1, 0.8, 1.2, 1.2) / 6, where PPO gives
    (0, -0.5, -1.1, 0, 1.5, 4.0) / 6.

    Args:
        logprobs: `[B, T]` log-probs under the current parameters (with grad).
        old_logprobs: `[B, T]` log-probs under the rollout policy.
        advantages: `[B, T]`.
        mask: `[B, T]` loss mask.
        clip_low, clip_high: the band of the weight. MiniMax-M1 sets no lower bound in practice
            (clip_low = 1.0 makes the lower bound 0) and tunes clip_high.
        agg: aggregation mode of `ppo.aggregate_loss`.
        is_weights: optional `[B, T]` rollout-correction weights multiplying the per-token loss.

    Returns:
        loss and stats: `clipfrac` (share of valid tokens whose ratio was changed by the clip, on
        either side), `clipfrac_lower` (always 0), `approx_kl`. The loss *value* contains log pi
        itself, as in the paper and verl: only its gradient is meaningful, do not compare its value
        with PPO's. The log-ratio is clamped to [-20, 20] before exp.
    """
    # EXERCISE difficulty=2 minutes=15
    # HINT: ratio = exp(clamp(logprobs - old_logprobs, -20, 20)); weight = clamp(ratio, 1 - clip_low, 1 + clip_high).detach().
    # HINT: Per-token loss: -weight * A * logprobs (times is_weights when given); aggregate with agg.
    # HINT: clipfrac = masked_mean(ratio != weight); approx_kl from the clamped log-ratio, as in ppo_policy_loss.
    _check_clip(clip_low, clip_high)
    mask = mask.to(logprobs.dtype)
    log_ratio = torch.clamp(logprobs - old_logprobs, min=-20.0, max=20.0)  # [B, T]
    ratio = torch.exp(log_ratio)  # [B, T]
    # w = sg(clip(r, 1 - eps_low, 1 + eps_high)): a weight, not a path for the gradient
    weight = torch.clamp(ratio, 1 - clip_low, 1 + clip_high).detach()  # [B, T]
    # L = -w * A * log pi, so grad L = -w * A * grad log pi for every token
    loss_mat = -weight * advantages * logprobs  # [B, T]
    if is_weights is not None:
        loss_mat = loss_mat * is_weights
    loss = aggregate_loss(loss_mat, mask, agg)
    stats = {
        "clipfrac": masked_mean(torch.ne(ratio, weight).to(mask.dtype), mask).item(),
        "clipfrac_lower": 0.0,
        "approx_kl": masked_mean(-log_ratio, mask).item(),
    }
    return loss, stats


def gmpo_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_low: float = 0.4,
    clip_high: float = 0.4,
    *,
    is_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """GMPO: maximise A_i * (prod_t clipped r_it) ^ (1/|o_i|), the geometric mean of the token ratios.

    Per token, the log-ratio l = log r is clipped pessimistically as in PPO but in log space: for
    A > 0, min(l, clip(l, -clip_low, clip_high)); for A < 0, max(l, clip(l, ...)). The sequence ratio
    is exp(mean of the clipped l) and the loss is -A_i times it, averaged over the B sequences.
    A geometric mean is far less sensitive to one extreme token than GRPO's arithmetic mean of ratios.

    Example (clip 0.4, two sequences): A = +1 with log-ratios (0.6, -0.2): 0.6 is clipped to 0.4,
    s = exp(0.1) = 1.1052; A = -1 with (-0.6, 0.2, 0.1): -0.6 is clipped to -0.4, s = exp(-0.1/3) =
    0.9672; loss = (-1.1052 + 0.9672) / 2 = -0.0690. The clipped tokens get no gradient, the others
    -A s / (|o| B).

    Args:
        logprobs: `[B, T]` log-probs under the current parameters (with grad).
        old_logprobs: `[B, T]` log-probs under the rollout policy.
        advantages: `[B, T]`; the sequence advantage is its masked mean (GMPO supports one
            advantage per sequence).
        mask: `[B, T]` loss mask; holes do not enter the mean.
        clip_low, clip_high: the clip range of the *log*-ratio, [-clip_low, clip_high]; the paper's
            (0.4, 0.4) is the ratio range (e^-0.4, e^0.4) = (0.67, 1.49), wider than PPO's.
        is_weights: optional `[B, T]` rollout-correction weights; verl reduces them to one weight per
            sequence by their geometric mean (log of weight + 1e-10), and so do we.

    Returns:
        loss (the mean over all B rows, empty rows included, as in verl: there is no aggregation
        mode) and stats: `clipfrac` / `clipfrac_lower` (verl's definitions: share of valid tokens whose
        log-ratio lies outside [-clip_low, clip_high] with A > 0 / A < 0, whether or not the
        pessimistic min kept the clipped value), `approx_kl`. The log-ratio is clamped to [-20, 20]
        first (verl does not clamp, and overflows to inf beyond that).
    """
    # EXERCISE difficulty=2 minutes=25
    # HINT: l = clamp(logprobs - old_logprobs, -20, 20); l_clip = clamp(l, -clip_low, clip_high); with s = sign(A): l_min = s * min(s * l, s * l_clip).
    # HINT: Per sequence with n = mask.sum(-1): ratio = exp(masked_sum(l_min) / (n + 1e-8)), advantage = masked_sum(A) / (n + 1e-8); loss_i = -advantage * ratio.
    # HINT: With is_weights: multiply loss_i by exp(masked_sum(log(w + 1e-10)) / (n + 1e-8)). The loss is the mean of loss_i over all B rows (0 for B = 0).
    # HINT: clipped = (l != l_clip): clipfrac = masked_mean(clipped & (A > 0)), clipfrac_lower = masked_mean(clipped & (A < 0)).
    _check_clip(clip_low, clip_high)
    mask = mask.to(logprobs.dtype)
    raw_log_ratio = logprobs - old_logprobs  # [B, T]
    log_ratio = torch.clamp(raw_log_ratio, min=-20.0, max=20.0)  # [B, T]
    log_ratio_clip = torch.clamp(log_ratio, -clip_low, clip_high)  # [B, T]
    sign = torch.sign(advantages)  # [B, T]
    # pessimistic per-token clip in log space: min(l, clip(l)) for A > 0, max(l, clip(l)) for A < 0
    log_ratio_min = sign * torch.min(sign * log_ratio, sign * log_ratio_clip)  # [B, T]
    lengths = mask.sum(dim=-1)  # [B]
    # s_i = exp((1/|o_i|) sum_t l_it) = (prod_t r_it) ^ (1/|o_i|)
    seq_ratio = torch.exp(masked_sum(log_ratio_min, mask, dim=-1) / (lengths + 1e-8))  # [B]
    seq_advantage = masked_sum(advantages, mask, dim=-1) / (lengths + 1e-8)  # [B]
    # L_i = -A_i * s_i
    seq_loss = -seq_advantage * seq_ratio  # [B]
    if is_weights is not None:
        # one weight per sequence: the geometric mean of its token weights
        seq_loss = seq_loss * torch.exp(masked_sum(torch.log(is_weights + 1e-10), mask, dim=-1) / (lengths + 1e-8))
    loss = seq_loss.sum() / max(seq_loss.shape[0], 1)
    clipped = torch.ne(log_ratio, log_ratio_clip)  # [B, T]
    stats = {
        "clipfrac": masked_mean((clipped & (advantages > 0)).to(mask.dtype), mask).item(),
        "clipfrac_lower": masked_mean((clipped & (advantages < 0)).to(mask.dtype), mask).item(),
        "approx_kl": masked_mean(-raw_log_ratio, mask).item(),
    }
    return loss, stats
