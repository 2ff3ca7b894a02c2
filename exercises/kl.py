# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#kl-estimators-k1-k2-k3
# Generated from minimal_impl/kl.py by scripts/make_exercises.py; do not edit here: make your own copy with `python scripts/make_exercises.py --out my_solutions` (README.md#exercise-mode).
"""Per-token KL estimators, KL as a reward penalty or a loss term, and the KL coefficient controllers.

We only ever have log-probs of the *sampled* tokens, not full distributions, so KL(pi || pi_ref) is
estimated from samples x ~ pi with log-ratio l = log pi(x) - log pi_ref(x) (Schulman, "Approximating
KL divergence", 2020):
    k1 = l                      unbiased, high variance, can be negative
    k2 = l^2 / 2                biased, low variance, its gradient is the right one
    k3 = (e^{-l} - 1) + l       unbiased, low variance, always >= 0 ("low_var_kl" in verl)
Semantics follow verl's `kl_penalty`, `apply_kl_penalty` (ray_trainer.py), the KL loss of
`workers/utils/losses.py`, and `FixedKLController` / `AdaptiveKLController`.
"""

from __future__ import annotations

import numpy as np
import torch

from .masked import masked_mean
from .ppo import aggregate_loss

KL_KINDS = ("k1", "k2", "k3", "abs")
_ALIASES = {"kl": "k1", "mse": "k2", "low_var_kl": "k3"}


def kl_estimate(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, kind: str = "k3") -> torch.Tensor:
    """Per-token estimate of KL(pi || pi_ref) from the log-probs of tokens sampled from pi.

    Args:
        logprobs: `[B, T]` log pi(x_t).
        ref_logprobs: `[B, T]` log pi_ref(x_t).
        kind: "k1", "k2", "k3" or "abs" (verl's names "kl", "mse", "low_var_kl" are accepted).
            A "+" suffix ("k1+", "k3+") keeps the value of the estimator but takes the gradient
            of k2 (a straight-through trick from verl): k2's gradient is an unbiased estimate of
            the gradient of KL, the gradients of k1 and k3 are not.

    Returns:
        `[B, T]` per-token estimates. k3 clamps the log-ratio to [-20, 20] and the result to
        [-10, 10], as verl does, so a single wild token cannot dominate.
    """
    # Exercise: difficulty ★★☆ (medium), about 15 minutes.
    # Hint 1 of 4: Every estimator is a function of the per-token log-ratio l = logprobs - ref_logprobs; the table
    #   in the notes gives each one.
    # Stuck? The next hint: python scripts/make_exercises.py --hint kl.kl_estimate
    raise NotImplementedError("kl.kl_estimate: exercise not implemented yet")


def kl_penalty_rewards(
    token_scores: torch.Tensor,
    old_logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    mask: torch.Tensor,
    beta: float,
    kind: str = "k1",
) -> tuple[torch.Tensor, float]:
    """KL in the reward (InstructGPT-style PPO): r_t = score_t - beta * KL_t on every valid token.

    Computed once per batch from the rollout policy's log-probs, before advantages, so the KL
    shapes the advantages rather than adding a gradient term.

    Args:
        token_scores: `[B, T]` task reward per token (the score on the last token, 0 elsewhere).
        old_logprobs: `[B, T]` log-probs of the rollout policy.
        ref_logprobs: `[B, T]` log-probs of the frozen reference policy.
        mask: `[B, T]` response mask.
        beta: the KL coefficient (from a controller).
        kind: KL estimator, see `kl_estimate` (verl's default for the reward is "kl" = k1).

    Returns:
        rewards `[B, T]` and the batch KL: the per-sequence masked mean, averaged over sequences,
        which is what verl feeds to the adaptive controller.
    """
    # Exercise: difficulty ★☆☆ (easy), about 10 minutes.
    # Hint 1 of 2: The penalty is subtracted from every valid token's reward, computed from the rollout policy's
    #   log-probs (no gradient needed).
    # Stuck? The next hint: python scripts/make_exercises.py --hint kl.kl_penalty_rewards
    raise NotImplementedError("kl.kl_penalty_rewards: exercise not implemented yet")


def kl_loss(
    logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    mask: torch.Tensor,
    kind: str = "k3",
    agg: str = "token-mean",
) -> torch.Tensor:
    """KL as a loss term (GRPO-style): loss = policy_loss + coef * agg(KL_t).

    Computed from the *current* log-probs (with grad), so it pulls the policy back towards the
    reference directly; the advantages stay pure task reward.

    Args:
        logprobs: `[B, T]` current log-probs (with grad).
        ref_logprobs: `[B, T]` reference log-probs.
        mask: `[B, T]` loss mask.
        kind: KL estimator (GRPO's paper and verl's usual setting: "k3" = "low_var_kl").
        agg: aggregation mode, the same as the policy loss's.
    """
    # Exercise: difficulty ★☆☆ (easy), about 5 minutes.
    # Hint 1 of 1: A per-token estimate, then the same aggregation as the policy loss: both already exist.
    raise NotImplementedError("kl.kl_loss: exercise not implemented yet")


class FixedKLController:
    """A constant KL coefficient beta."""

    def __init__(self, kl_coef: float) -> None:
        self.value = kl_coef

    def update(self, current_kl: float, n_steps: int) -> None:
        """Nothing to adapt."""


class AdaptiveKLController:
    """Adaptive beta (Ziegler et al. 2019, arXiv 1909.08593): steer the measured KL towards a target.

    beta <- beta * (1 + clip(KL / target - 1, -0.2, 0.2) * n_steps / horizon)
    """

    def __init__(self, init_kl_coef: float, target_kl: float, horizon: int) -> None:
        if horizon <= 0:
            raise ValueError(f"horizon must be positive, got {horizon}")
        self.value = init_kl_coef
        self.target = target_kl
        self.horizon = horizon

    def update(self, current_kl: float, n_steps: int) -> None:
        """Raise beta when the KL is above target, lower it when below; at most 20% per horizon.

        Args:
            current_kl: the KL measured on the last batch.
            n_steps: samples in that batch (verl passes the batch size).
        """
        # Exercise: difficulty ★☆☆ (easy), about 5 minutes.
        # Hint 1 of 2: A proportional controller: how far is the measured KL from the target, relative to the
        #   target? Limit that error to +-20%.
        # Stuck? The next hint: python scripts/make_exercises.py --hint kl.AdaptiveKLController.update
        raise NotImplementedError("kl.AdaptiveKLController.update: exercise not implemented yet")
