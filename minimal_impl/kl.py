# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#kl-estimators-k1-k2-k3
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
    # EXERCISE difficulty=2 minutes=15
    # HINT: Every estimator is a function of the per-token log-ratio l = logprobs - ref_logprobs; the table in the notes gives each one.
    # HINT: k3 is written with rho = pi_ref / pi = exp(-l): k3 = rho - 1 - log rho. Clamp the exponent's argument to [-20, 20] and the result to [-10, 10], as verl does.
    # HINT: Accept verl's names (kl, mse, low_var_kl) and raise ValueError for an unknown kind.
    # HINT: A '+' suffix keeps the value of the base estimator but takes the gradient of k2: add to a detached value a term whose value is 0 and whose gradient is k2's.
    straight_through = kind.endswith("+")
    base = kind[:-1] if straight_through else kind
    base = _ALIASES.get(base, base)
    if base not in KL_KINDS:
        raise ValueError(f"unknown KL estimator {kind!r}; expected one of {KL_KINDS} (optionally with '+')")
    log_ratio = logprobs - ref_logprobs  # [B, T]  l = log pi - log pi_ref
    if base == "k1":
        value = log_ratio
    elif base == "abs":
        value = log_ratio.abs()
    elif base == "k2":
        # k2 = l^2 / 2
        value = 0.5 * log_ratio.square()
    else:
        # k3 = pi_ref/pi - log(pi_ref/pi) - 1, with d = log pi_ref - log pi
        d = torch.clamp(ref_logprobs - logprobs, min=-20, max=20)  # [B, T]
        value = torch.clamp(torch.exp(d) - d - 1, min=-10, max=10)
    if not straight_through or base == "k2":
        return value
    k2 = 0.5 * log_ratio.square()
    # forward: the chosen estimator; backward: the gradient of k2
    return k2 - k2.detach() + value.detach()


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
    # EXERCISE difficulty=1 minutes=10
    # HINT: The penalty is subtracted from every valid token's reward, computed from the rollout policy's log-probs (no gradient needed).
    # HINT: The reported KL is one masked mean per sequence, then the mean over sequences, returned as a Python float.
    kld = kl_estimate(old_logprobs, ref_logprobs, kind) * mask  # [B, T]
    # r_t = s_t - beta * KL_t
    rewards = token_scores - beta * kld  # [B, T]
    current_kl = masked_mean(kld, mask, dim=-1).mean()  # mean over sequences of per-sequence means
    return rewards, current_kl.item()


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
    # EXERCISE difficulty=1 minutes=5
    # HINT: A per-token estimate, then the same aggregation as the policy loss: both already exist.
    return aggregate_loss(kl_estimate(logprobs, ref_logprobs, kind), mask, agg)


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
        # EXERCISE difficulty=1 minutes=5
        # HINT: A proportional controller: how far is the measured KL from the target, relative to the target? Limit that error to +-20%.
        # HINT: The update is multiplicative, and scaled by the batch's share of the horizon (n_steps / horizon).
        proportional_error = float(np.clip(current_kl / self.target - 1, -0.2, 0.2))
        self.value *= 1 + proportional_error * n_steps / self.horizon
