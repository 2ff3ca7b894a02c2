# Chapter 06 notes: learning_notes/06_training_engineering/README.md#the-actor-loss-of-one-micro-batch
# Generated from minimal_impl/actor_loss.py by scripts/make_exercises.py; do not edit here: make your own copy with `python scripts/make_exercises.py --out my_solutions` (README.md#exercise-mode).
"""The actor loss of one micro-batch: the heart of the PPO/GRPO update, built from chapter 03's pieces.

    logits --> log-probs at the sampling temperature --> clipped policy loss (ppo.py)
           --> + beta * KL(pi || pi_ref) (kl.py) --> - c * entropy (ppo.py), each term aggregated alike

The trainer (`update.py`) runs the model on a micro-batch, hands the logits of the response positions to
`actor_loss`, and backpropagates what it returns. `logprobs_from_logits` also gives phase 3 its old and
reference log-probs, so the ratio pi_theta / pi_old is exactly 1 before the first optimizer step.
With `--impl PACKAGE` both come from the learner's package, and so do the pieces they call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from .kl import kl_loss
from .ppo import aggregate_loss, entropy_from_logits, ppo_policy_loss

PolicyLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict]]


def logprobs_from_logits(logits: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log pi(x_{t+1} | x_{<=t}) of the tokens that were sampled, at the sampling temperature: `[b, T]`.

    Args:
        logits: `[b, T, V]` scores; position t scores the token that follows it, `targets[:, t]`.
        targets: `[b, T]` the token ids that followed (int64).
        temperature: the rollout's sampling temperature; the logits are divided by it first, because
            that is the distribution the tokens were drawn from.

    Returns:
        `[b, T]` float32 log-probabilities (<= 0), computed in float32 even from bf16 logits.

    Example:
        logits [[[0, 0, ln 2]]] (probabilities 0.25, 0.25, 0.5), targets [[2]] -> [[-0.6931]];
        with temperature 2 the logits become [0, 0, 0.3466] and the same target gets -0.8814.
    """
    # Exercise: difficulty ★☆☆ (easy), about 10 minutes.
    # Hint 1 of 3: Work in float32 (`.float()`): a log-softmax in bf16 loses the small differences the ratio is made
    #   of.
    # Stuck? The next hint: python scripts/make_exercises.py --hint actor_loss.logprobs_from_logits
    raise NotImplementedError("actor_loss.logprobs_from_logits: exercise not implemented yet")


def actor_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    ref_logprobs: torch.Tensor | None = None,
    temperature: float = 1.0,
    policy_loss: PolicyLoss | None = None,
    kl_coef: float = 0.0,
    kl_type: str = "k3",
    entropy_coef: float = 0.0,
    agg: str = "token-mean",
) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss the actor minimises on one micro-batch, and what to log about it.

        loss = policy_loss(logp, logp_old, A) + kl_coef * KL(logp, logp_ref) - entropy_coef * H

    Args:
        logits: `[b, T, V]` the policy's scores on the response positions (with grad).
        targets: `[b, T]` the sampled token ids those positions predict.
        old_logprobs: `[b, T]` log-probs under the policy that sampled the rollout (no grad).
        advantages: `[b, T]`.
        mask: `[b, T]` loss mask (1 = a token the policy sampled).
        ref_logprobs: `[b, T]` the reference's log-probs; None means no KL term (and no `kl_loss` stat).
        temperature: the sampling temperature (see `logprobs_from_logits`).
        policy_loss: `(logprobs, old_logprobs, advantages, mask) -> (loss, stats)`, the clipped loss with
            its clip range and aggregation already chosen; None is `ppo_policy_loss` with the defaults
            (clip 0.2) and `agg`.
        kl_coef: beta of the KL term (the term is added, and logged, whenever `ref_logprobs` is given).
        kl_type: the KL estimator (k1, k2, k3, abs, ...; see `kl.kl_estimate`).
        entropy_coef: c of the entropy bonus; the entropy is always logged, in the loss only if c != 0.
        agg: how the KL and entropy terms aggregate tokens (`ppo.aggregate_loss`); use the policy loss's.

    Returns:
        (loss, stats): a 0-dim tensor to backpropagate, and the policy loss's stats plus `pg_loss`,
        `entropy` and, with a reference, `kl_loss` (floats).

    Example (one token, logits [[[0, 0]]], target 0, so logp = -0.6931 = logp_old, advantage 1):
        ratio 1, pg_loss = -1; entropy ln 2 = 0.6931; with entropy_coef 0.1 the loss is -1.0693.
    """
    # Exercise: difficulty ★★★ (hard), about 30 minutes.
    # Hint 1 of 5: Scale the logits by the temperature once (in float32) and use them for both the log-probs and the
    #   entropy.
    # Stuck? The next hint: python scripts/make_exercises.py --hint actor_loss.actor_loss
    raise NotImplementedError("actor_loss.actor_loss: exercise not implemented yet")
