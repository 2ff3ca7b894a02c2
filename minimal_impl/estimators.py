# Chapter 06 notes: learning_notes/06_training_engineering/README.md#registries-where-new-algorithms-plug-in
"""Registries for the two places an RL algorithm differs: phase 5 (advantages) and phase 6 (policy loss).

    ADV_ESTIMATORS["grpo"].fn(inputs) -> Advantages         config.adv_estimator
    POLICY_LOSSES["vanilla"](config, impl) -> policy loss   config.policy_loss

A new estimator or loss is one decorated function here (as verl's `register_adv_est` and
`register_policy_loss`); `rl_step` looks it up by name and does not change. Chapter 08's REINFORCE++,
OPO, GSPO, CISPO and GMPO are entries like the others. Every entry calls the
chapter functions through `impl`, so `--impl PACKAGE` trains with the learner's versions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # only for annotations: config.py imports the registries' names from here
    from .batch import StepBatch
    from .config import TrainConfig
    from .impl import Impl
    from .kl import AdaptiveKLController, FixedKLController

PolicyLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict]]


@dataclass
class AdvantageInputs:
    """What an advantage estimator may read (the batch carries the mask, log-probs and values)."""

    scores: torch.Tensor  # [B] the rule reward of each episode
    group_ids: list[int]  # [B] which prompt each episode answers (GRPO/RLOO groups)
    batch: StepBatch
    config: TrainConfig
    impl: Impl
    kl_ctrl: FixedKLController | AdaptiveKLController


@dataclass
class Advantages:
    """An estimator's result: token advantages, the critic's targets if it has one, and metrics."""

    advantages: torch.Tensor  # [B, T]
    returns: torch.Tensor | None = None  # [B, T]
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Estimator:
    """A registered advantage estimator and what the trainer must know about it."""

    fn: Callable[[AdvantageInputs], Advantages]
    group_relative: bool  # compares the episodes of one prompt: rollout_n >= 2, zero-variance groups carry nothing
    needs_critic: bool  # reads V(s_t): the trainer loads and updates a critic


ADV_ESTIMATORS: dict[str, Estimator] = {}
POLICY_LOSSES: dict[str, Callable[[TrainConfig, Impl], PolicyLoss]] = {}


def register_adv_estimator(name: str, *, group_relative: bool = True, needs_critic: bool = False) -> Callable:
    """Decorator: `@register_adv_estimator("grpo")` makes `adv_estimator=grpo` call the function."""

    def add(fn: Callable[[AdvantageInputs], Advantages]) -> Callable[[AdvantageInputs], Advantages]:
        ADV_ESTIMATORS[name] = Estimator(fn, group_relative, needs_critic)
        return fn

    return add


def register_policy_loss(name: str) -> Callable:
    """Decorator: `@register_policy_loss("vanilla")` makes `policy_loss=vanilla` build the loss with it."""

    def add(fn: Callable[[TrainConfig, Impl], PolicyLoss]) -> Callable[[TrainConfig, Impl], PolicyLoss]:
        POLICY_LOSSES[name] = fn
        return fn

    return add


# ------------------------------------------------------------------------------ advantage estimators


@register_adv_estimator("grpo")
def grpo(x: AdvantageInputs) -> Advantages:
    """(r_i - mean_group) / std_group, or without the std (Dr.GRPO), on every token of episode i."""
    seq = x.impl.grpo.grpo_advantages(x.scores, x.group_ids, scale_by_std=x.config.norm_adv_by_std)  # [B]
    return Advantages(x.impl.grpo.spread_over_tokens(seq, x.batch.mask))


@register_adv_estimator("rloo")
def rloo(x: AdvantageInputs) -> Advantages:
    """r_i minus the mean of the other n - 1 rewards of its group, on every token."""
    seq = x.impl.grpo.rloo_advantages(x.scores, x.group_ids)  # [B]
    return Advantages(x.impl.grpo.spread_over_tokens(seq, x.batch.mask))


@register_adv_estimator("gae", group_relative=False, needs_critic=True)
def gae(x: AdvantageInputs) -> Advantages:
    """PPO: GAE over token rewards (the score on the last trained token), whitened over the batch."""
    token_rewards, metrics = outcome_token_rewards(x)  # [B, T]
    mask = x.batch.mask
    advantages, returns = x.impl.gae.compute_gae(
        token_rewards, x.batch.values, mask, gamma=x.config.gamma, lam=x.config.lam
    )
    return Advantages(x.impl.masked.masked_whiten(advantages, mask) * mask, returns, metrics)


@register_adv_estimator("reinforce_pp", group_relative=False)
def reinforce_pp(x: AdvantageInputs) -> Advantages:
    """REINFORCE++ (chapter 08): discounted reward-to-go of the token rewards, whitened over the batch."""
    token_rewards, metrics = outcome_token_rewards(x)  # [B, T]
    advantages = x.impl.reinforce.reinforce_pp_advantages(token_rewards, x.batch.mask, gamma=x.config.gamma)
    return Advantages(advantages, None, metrics)


@register_adv_estimator("reinforce_pp_baseline")
def reinforce_pp_baseline(x: AdvantageInputs) -> Advantages:
    """REINFORCE++ with a group baseline (chapter 08): r - mean(group), then whitened over the batch."""
    return Advantages(x.impl.reinforce.reinforce_pp_baseline_advantages(x.scores, x.group_ids, x.batch.mask))


@register_adv_estimator("opo")
def opo(x: AdvantageInputs) -> Advantages:
    """OPO (chapter 08): the group baseline weighted by response length."""
    return Advantages(x.impl.reinforce.opo_advantages(x.scores, x.group_ids, x.batch.mask))


def outcome_token_rewards(x: AdvantageInputs) -> tuple[torch.Tensor, dict]:
    """Token rewards `[B, T]`: the episode's score on its last trained token, minus beta * KL on every
    token when `use_kl_in_reward` (InstructGPT style; the adaptive controller is updated here).

    Example: mask [[1, 1, 0, 1]], score 1 -> [[0, 0, 0, 1]] (no KL in the reward).
    """
    mask = x.batch.mask
    token_rewards = torch.zeros_like(mask)  # [B, T]
    last = (mask * torch.arange(mask.shape[1], device=mask.device)).argmax(dim=1)  # [B] last trained position
    has = mask.sum(dim=1) > 0  # [B] episodes with at least one trained token
    token_rewards[has, last[has]] = x.scores[has].to(mask.dtype)
    if not x.config.use_kl_in_reward:
        return token_rewards, {}
    token_rewards, current_kl = x.impl.kl.kl_penalty_rewards(
        token_rewards, x.batch.old_logprobs, x.batch.ref_logprobs, mask, x.kl_ctrl.value, x.config.kl_penalty
    )
    x.kl_ctrl.update(current_kl, n_steps=x.scores.shape[0])
    return token_rewards, {"reward/kl_penalty": current_kl, "reward/kl_coef": x.kl_ctrl.value}


# ---------------------------------------------------------------------------------------- policy losses


def clipped(config: TrainConfig, loss: Callable, **extra: object) -> PolicyLoss:
    """`loss` with the configured clip range (and `extra`) bound: `(logprobs, old, advantages, mask) -> ...`."""
    return functools.partial(loss, clip_low=config.clip_ratio_low, clip_high=config.clip_ratio_high, **extra)


@register_policy_loss("vanilla")
def vanilla(config: TrainConfig, impl: Impl) -> PolicyLoss:
    """PPO's clipped surrogate (asymmetric clip, optional dual clip), aggregated by loss_agg_mode."""
    return clipped(config, impl.ppo.ppo_policy_loss, dual_clip=config.clip_ratio_c or None, agg=config.loss_agg_mode)


@register_policy_loss("gspo")
def gspo(config: TrainConfig, impl: Impl) -> PolicyLoss:
    """GSPO (chapter 08): one length-normalised ratio per sequence; set clip_ratio_low/high to ~3e-4/4e-4."""
    return clipped(config, impl.policy_losses.gspo_policy_loss, agg=config.loss_agg_mode)


@register_policy_loss("cispo")
def cispo(config: TrainConfig, impl: Impl) -> PolicyLoss:
    """CISPO (chapter 08): the clipped ratio as a detached weight on log pi, so clipped tokens keep a gradient."""
    return clipped(config, impl.policy_losses.cispo_policy_loss, agg=config.loss_agg_mode)


@register_policy_loss("gmpo")
def gmpo(config: TrainConfig, impl: Impl) -> PolicyLoss:
    """GMPO (chapter 08): the geometric mean of the clipped token ratios; a mean over sequences."""
    return clipped(config, impl.policy_losses.gmpo_policy_loss)
