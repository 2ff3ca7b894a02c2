# Chapter 06 notes: learning_notes/06_training_engineering/README.md#one-step-walked-through
"""One RL step's tensors in one typed carrier, and the forward passes that fill it (phases 3 and 4).

Shapes: B episodes; L = prompt + response positions (right-padded); T = the predicted positions from the
first response token on. Position `start` of the logits predicts the first response token, so the
tensors the losses use are `[B, T]` with T = L - 1 - start: the prompt's predictions are never computed.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType

import torch

from . import tool_calls
from .episode import Trajectory, collate_trajectories

Amp = Callable[[], contextlib.AbstractContextManager]


@dataclass
class StepBatch:
    """The tensors of one RL step; phases 3-5 fill the optional ones."""

    input_ids: torch.Tensor  # [B, L] prompt + response ids, right-padded
    attention_mask: torch.Tensor  # [B, L] 1 on real tokens (observations included)
    start: int  # logits at this position predict the first response token
    mask: torch.Tensor  # [B, T] loss mask: 1 = a token the policy sampled
    turn_ids: torch.Tensor  # [B, T] model-turn number (1, 2, ...) of each predicted token, 0 elsewhere
    old_logprobs: torch.Tensor | None = None  # [B, T] phase 3: the sampling policy
    ref_logprobs: torch.Tensor | None = None  # [B, T] phase 3: the reference (KL)
    values: torch.Tensor | None = None  # [B, T] phase 4: V(s_t) of the critic (PPO)
    advantages: torch.Tensor | None = None  # [B, T] phase 5
    returns: torch.Tensor | None = None  # [B, T] phase 5: the critic's targets (GAE)
    rollout_logprobs: torch.Tensor | None = None  # [B, T] the sampler's own log-probs (chapter 08), 0 off the mask
    is_weights: torch.Tensor | None = None  # [B, T] rollout-correction weights of the policy loss (chapter 08)

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    @property
    def targets(self) -> torch.Tensor:
        """`[B, T]` the token each predicted position should produce."""
        return self.input_ids[:, self.start + 1 :]

    def select(self, rows: Sequence[int]) -> StepBatch:
        """The same step restricted to some episodes (a mini- or micro-batch); `start` is shared.

        Example: batch.select([0, 2]).mask is batch.mask[[0, 2]], shape [2, T].
        """
        rows = list(rows)
        return StepBatch(
            **{
                f.name: value[rows] if isinstance(value, torch.Tensor) else value
                for f in dataclasses.fields(self)
                for value in [getattr(self, f.name)]
            }
        )


def build_step_batch(
    trajs: list[Trajectory],
    *,
    pad_id: int,
    mask_tool_output: bool,
    device: torch.device,
    tools: ModuleType = tool_calls,
) -> StepBatch:
    """Collate episodes to `[B, L]` and crop the predicted positions to the response region `[B, T]`.

    Example: prompt [5, 6, 7], segments ([10, 11], model), ([20, 21, 22], observation), ([12], model)
    -> start 2, mask [[1, 1, 0, 0, 0, 1]], turn_ids [[1, 1, 0, 0, 0, 2]] (mask_tool_output=False: all 1).
    """
    batch = collate_trajectories([t.assemble(tools) for t in trajs], pad_id)
    start = int(batch["response_start"].min()) - 1  # logits at `start` predict the first response token
    loss_mask = batch["loss_mask"]  # [B, L]
    if not mask_tool_output:  # the ablation: train on every response token, retrieved ones included
        positions = torch.arange(loss_mask.shape[1]).unsqueeze(0)  # [1, L]
        loss_mask = ((positions >= batch["response_start"].unsqueeze(1)) & batch["attention_mask"].bool()).long()
    turn_ids = torch.zeros_like(batch["loss_mask"])  # [B, L]
    recorded = all(len(t.turn_logprobs) == t.num_turns for t in trajs) and any(t.turn_logprobs for t in trajs)
    rollout_logprobs = torch.zeros(turn_ids.shape) if recorded else None  # [B, L]
    for row, traj in enumerate(trajs):
        pos, turn = len(traj.prompt_ids), 0
        for ids, generated in traj.segments:
            turn += generated
            if generated:
                turn_ids[row, pos : pos + len(ids)] = turn
                if recorded:
                    rollout_logprobs[row, pos : pos + len(ids)] = torch.tensor(traj.turn_logprobs[turn - 1])
            pos += len(ids)
    return StepBatch(
        input_ids=batch["input_ids"].to(device),
        attention_mask=batch["attention_mask"].to(device),
        start=start,
        mask=loss_mask[:, start + 1 :].float().to(device),
        turn_ids=turn_ids[:, start + 1 :],
        rollout_logprobs=None if rollout_logprobs is None else rollout_logprobs[:, start + 1 :].to(device),
    )


def response_logits(model: torch.nn.Module, batch: StepBatch) -> torch.Tensor:
    """The model's scores on the predicted positions only: `[b, T, V]` (the LM head skips the prompt)."""
    keep = batch.input_ids.shape[1] - batch.start  # logits_to_keep: the last `keep` positions
    output = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, logits_to_keep=keep)
    return output.logits[:, :-1]  # the last position predicts nothing we sampled


@torch.no_grad()
def batched_logprobs(
    model: torch.nn.Module,
    batch: StepBatch,
    *,
    micro: int,
    temperature: float,
    actor_loss: ModuleType,
    amp: Amp = contextlib.nullcontext,
) -> torch.Tensor:
    """Phase 3: log-probs of the batch's sampled tokens under `model`, micro-batch by micro-batch: `[B, T]`."""
    out = []
    for i in range(0, len(batch), micro):
        micro_batch = batch.select(range(i, min(i + micro, len(batch))))
        with amp():
            logits = response_logits(model, micro_batch)  # [b, T, V]
            out.append(actor_loss.logprobs_from_logits(logits, micro_batch.targets, temperature))  # [b, T]
    return torch.cat(out)


def critic_values(critic: torch.nn.Module, batch: StepBatch) -> torch.Tensor:
    """V(s_t) for every predicted position: the head at position t scores the state before token t+1: `[b, T]`."""
    return critic(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, batch.start : -1, 0].float()


@torch.no_grad()
def batched_values(critic: torch.nn.Module, batch: StepBatch, *, micro: int, amp: Amp) -> torch.Tensor:
    """Phase 4: the critic's values of the whole batch, without gradients: `[B, T]`."""
    out = []
    for i in range(0, len(batch), micro):
        with amp():
            out.append(critic_values(critic, batch.select(range(i, min(i + micro, len(batch))))))
    return torch.cat(out)
