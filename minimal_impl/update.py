# Chapter 06 notes: learning_notes/06_training_engineering/README.md#one-step-walked-through
"""Phases 6 and 7: the actor and critic updates, with mini-batches, micro-batch accumulation and one
optimizer step shared by both.

    for epoch in ppo_epochs:
        for mini-batch of whole groups (shuffled):          one optimizer step each
            for micro-batch:                                 memory only: gradients accumulate
                loss(micro) * its share of the mini-batch -> backward
            clip the gradient norm; step unless it is not finite; free the gradients
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import torch

from .batch import StepBatch, critic_values, response_logits
from .config import TrainConfig

if TYPE_CHECKING:
    from .trainer_setup import Run


def minibatches(group_rows: list[list[int]], prompts_per_mini: int, generator: torch.Generator) -> list[list[int]]:
    """Shuffle the groups, then cut them into mini-batches of `prompts_per_mini` prompts (whole groups).

    Example: groups [[0, 1], [2, 3], [4, 5]], 2 per mini-batch, a shuffle (2, 0, 1) -> [[4, 5, 0, 1], [2, 3]].
    """
    order = torch.randperm(len(group_rows), generator=generator).tolist()
    return [
        [r for g in order[i : i + prompts_per_mini] for r in group_rows[g]]
        for i in range(0, len(order), prompts_per_mini)
    ]


def loss_weight(mode: str, micro_mask: torch.Tensor, mini_mask: torch.Tensor) -> float:
    """Share of the mini-batch a micro-batch stands for, so that accumulated gradients equal one big batch's.

    Example: token-mean, a micro-batch with 30 of the mini-batch's 120 trained tokens -> 0.25; the
    seq-mean modes count sequences with at least one trained token instead.
    """
    if mode == "token-mean":
        return (micro_mask.sum() / mini_mask.sum().clamp(min=1)).item()
    return ((micro_mask.sum(-1) > 0).sum() / (mini_mask.sum(-1) > 0).sum().clamp(min=1)).item()


def micro_batches(batch: StepBatch, rows: list[int], config: TrainConfig) -> Iterator[tuple[StepBatch, float]]:
    """The micro-batches of a mini-batch `rows`, each with its share of the mini-batch's loss."""
    mini_mask = batch.mask[rows]  # [m, T]
    for i in range(0, len(rows), config.ppo_micro_batch_size):
        micro = batch.select(rows[i : i + config.ppo_micro_batch_size])
        yield micro, loss_weight(config.loss_agg_mode, micro.mask, mini_mask)


def optimizer_step(
    params: list[torch.nn.Parameter],
    optimizer: torch.optim.Optimizer,
    *,
    max_grad_norm: float,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> float | None:
    """Clip the accumulated gradients, step, free them, advance the schedule: one optimizer step.

    A NaN or infinite gradient norm would poison the weights: the step is skipped (as verl does) and
    None is returned; otherwise the norm before clipping. The schedule advances either way.
    """
    grad_norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm).item()
    finite = math.isfinite(grad_norm)
    if finite:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)  # free the gradients now: the next rollout needs the memory
    if scheduler is not None:
        scheduler.step()
    return grad_norm if finite else None


def run_updates(
    batch: StepBatch,
    micro_loss: Callable[[StepBatch], tuple[torch.Tensor, dict]],
    *,
    params: list[torch.nn.Parameter],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    group_rows: list[list[int]],
    generator: torch.Generator,
    config: TrainConfig,
) -> tuple[dict, list[bool]]:
    """ppo_epochs x mini-batches of optimizer steps; `micro_loss(micro)` gives a micro-batch's loss and stats.

    Returns the stats averaged over optimizer steps (each micro-batch weighted by its share of its
    mini-batch), `grad_norm` (the mean over the steps taken; NaN if every step was skipped),
    `optimizer_steps` and `skipped_steps`; and whether each optimizer step was skipped, in order.
    """
    sums: dict[str, float] = {}
    norms: list[float] = []
    skips: list[bool] = []
    for _ in range(config.ppo_epochs):
        for rows in minibatches(group_rows, config.ppo_mini_batch_size, generator):
            optimizer.zero_grad(set_to_none=True)
            for micro, weight in micro_batches(batch, rows, config):
                loss, stats = micro_loss(micro)
                (loss * weight).backward()  # accumulated: the sum over micro-batches is the mini-batch's loss
                for key, value in stats.items():
                    sums[key] = sums.get(key, 0.0) + value * weight
            grad_norm = optimizer_step(params, optimizer, max_grad_norm=config.max_grad_norm, scheduler=scheduler)
            skips.append(grad_norm is None)
            norms += [] if grad_norm is None else [grad_norm]
    steps = len(skips)
    metrics = {k: v / max(steps, 1) for k, v in sums.items()}
    metrics["grad_norm"] = sum(norms) / len(norms) if norms else float("nan")
    return {**metrics, "optimizer_steps": steps, "skipped_steps": sum(skips)}, skips


def update_actor(
    run: Run, batch: StepBatch, *, group_rows: list[list[int]], generator: torch.Generator
) -> tuple[dict, list[bool]]:
    """Phase 6: optimizer steps on the actor loss of chapter 06 (`impl.actor_loss.actor_loss`), whose
    clipped policy loss is the registered one (`run.policy_loss`); metrics prefixed `actor/`, and which
    optimizer steps were skipped."""
    c = run.config

    def micro_loss(micro: StepBatch) -> tuple[torch.Tensor, dict]:
        with run.amp():
            logits = response_logits(run.policy, micro)  # [b, T, V]
        policy_loss = run.policy_loss  # chapter 08: the rollout-correction weights multiply it, token by token
        if micro.is_weights is not None:
            policy_loss = functools.partial(policy_loss, is_weights=micro.is_weights)
        return run.impl.actor_loss.actor_loss(
            logits,
            micro.targets,
            micro.old_logprobs,
            micro.advantages,
            micro.mask,
            ref_logprobs=micro.ref_logprobs if c.use_kl_loss else None,
            temperature=c.temperature,
            policy_loss=policy_loss,
            kl_coef=c.kl_loss_coef,
            kl_type=c.kl_loss_type,
            entropy_coef=c.entropy_coeff,
            agg=c.loss_agg_mode,
        )

    run.policy.train()
    params = [p for p in run.policy.parameters() if p.requires_grad]
    stats, skips = run_updates(
        batch,
        micro_loss,
        params=params,
        optimizer=run.optimizer,
        scheduler=run.scheduler,
        group_rows=group_rows,
        generator=generator,
        config=c,
    )
    return {**{f"actor/{k}": v for k, v in stats.items()}, "actor/lr": run.scheduler.get_last_lr()[0]}, skips


def update_critic(
    run: Run, batch: StepBatch, *, group_rows: list[list[int]], generator: torch.Generator
) -> tuple[dict, list[bool]]:
    """Phase 7: the clipped value loss on the GAE returns, with the actor's mini/micro-batch scheme."""
    c = run.config

    def micro_loss(micro: StepBatch) -> tuple[torch.Tensor, dict]:
        with run.amp():
            values = critic_values(run.critic, micro)  # [b, T]
        loss, stats = run.impl.ppo.value_loss(
            values, micro.values, micro.returns, micro.mask, c.cliprange_value, c.loss_agg_mode
        )
        return loss, {"vf_loss": loss.item(), "vf_clipfrac": stats["vf_clipfrac"]}

    run.critic.train()
    stats, skips = run_updates(
        batch,
        micro_loss,
        params=list(run.critic.parameters()),
        optimizer=run.critic_optimizer,
        scheduler=None,
        group_rows=group_rows,
        generator=generator,
        config=c,
    )
    return {f"critic/{k}": v for k, v in stats.items()}, skips
