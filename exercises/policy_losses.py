# Chapter 08 notes: learning_notes/08_beyond_grpo/README.md#gspo-one-ratio-per-sequence
# Generated from minimal_impl/policy_losses.py by scripts/make_exercises.py; do not edit here: make your own copy with `python scripts/make_exercises.py --out my_solutions` (README.md#exercise-mode).
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
    # Exercise: difficulty ★★★ (hard), about 30 minutes.
    # Hint 1 of 4: Per sequence: mean log-ratio = masked_sum(logprobs - old_logprobs, mask, dim=-1) / (token count,
    #   at least 1).
    # Stuck? The next hint: python scripts/make_exercises.py --hint policy_losses.gspo_policy_loss
    raise NotImplementedError("policy_losses.gspo_policy_loss: exercise not implemented yet")


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
    # Exercise: difficulty ★★☆ (medium), about 15 minutes.
    # Hint 1 of 3: ratio = exp(clamp(logprobs - old_logprobs, -20, 20)); weight = clamp(ratio, 1 - clip_low, 1 +
    #   clip_high).detach().
    # Stuck? The next hint: python scripts/make_exercises.py --hint policy_losses.cispo_policy_loss
    raise NotImplementedError("policy_losses.cispo_policy_loss: exercise not implemented yet")


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
    # Exercise: difficulty ★★☆ (medium), about 25 minutes.
    # Hint 1 of 4: l = clamp(logprobs - old_logprobs, -20, 20); l_clip = clamp(l, -clip_low, clip_high); with s =
    #   sign(A): l_min = s * min(s * l, s * l_clip).
    # Stuck? The next hint: python scripts/make_exercises.py --hint policy_losses.gmpo_policy_loss
    raise NotImplementedError("policy_losses.gmpo_policy_loss: exercise not implemented yet")
