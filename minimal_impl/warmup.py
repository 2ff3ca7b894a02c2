# Chapter 06 notes: learning_notes/06_training_engineering/README.md#stage-0-a-cold-start-warm-up
"""Stage 0: a short supervised warm-up on demonstrations, so that RL has a policy that can earn reward.

RL only reinforces what the policy already does sometimes. A randomly initialised model never writes
`<search> ... </search>` nor `<answer> ... </answer>`, so every reward is 0, every GRPO advantage is 0,
and nothing learns. R1-style pipelines solve this with a cold start: a little supervised fine-tuning
on demonstrations. Ours are made from the training rows: `<search> question </search>`, the real
information block the retriever returns for it, then `<answer> golden answer </answer>`.

They teach the mechanics (write a query, read the passage, copy the answer out of it) but not the
decision to search: at the first token of every demonstration the target is a mixture,
`search_fraction` on `<search>` and the rest on `<answer>`. That is the expected gradient of mixing in
closed-book demonstrations whose only lesson is "answer at once" (their invented answers would teach
the model to make names up, so nothing after `<answer>` would be trained anyway), at no extra cost.
So the warmed-up policy searches in about `search_fraction` of its sampled episodes and answers from
nothing in the others; greedy decoding searches only where the learned probability of `<search>` ends up
above one half, which for `search_fraction` well below 0.5 is a minority of prompts.
Whether to search is what RL then has to learn: searching pays, answering blind does not.

GSM8K-style tasks are warmed up on their worked solutions. The loss is the masked cross-entropy on the
model's tokens only: the prompt and the information blocks have loss mask 0, as in RL.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from types import ModuleType

import torch
from tqdm import tqdm

from . import tool_calls
from .episode import collate_trajectories


def search_demonstrations(
    rows: list[dict],
    prompt_ids: Callable[[dict], list[int]],
    tokenizer: object,
    search_batch: Callable[[list[str]], list[list[dict]]],
    max_obs_tokens: int,
    tools: ModuleType = tool_calls,
) -> list[dict]:
    """One assembled demonstration per training row: search with the question, read, answer.

    Example: "what is the capital of Neage" -> model `<search> what is the capital of Neage </search>`,
    observation `<information>Doc 1(Title: Neage) ...</information>`, model `<answer> Brota </answer>`.
    """
    queries = [row["extra_info"]["question"] for row in rows]

    def encode(text: str) -> list[int]:
        return tokenizer.encode(text, add_special_tokens=False)

    demos = []
    for row, query, docs in zip(rows, queries, search_batch(queries)):
        gold = row["reward_model"]["ground_truth"]["target"][0]
        information = tools.information_block(tools.format_docs(docs))
        segments = [
            (encode(f"<search> {query} </search>"), True),
            (tools.truncate_observation(encode(information), max_obs_tokens), False),
            (encode(f"<answer> {gold} </answer>"), True),
        ]
        demos.append(tools.assemble_trajectory(prompt_ids(row), segments))
    return demos


def solution_demonstrations(
    rows: list[dict],
    prompt_ids: Callable[[dict], list[int]],
    tokenizer: object,
    eos_id: int,
    tools: ModuleType = tool_calls,
) -> list[dict]:
    """GSM8K-style rows: the worked solution, then the end-of-turn token."""
    demos = []
    for row in rows:
        answer = tokenizer.encode(row["extra_info"]["answer"], add_special_tokens=False) + [eos_id]
        demos.append(tools.assemble_trajectory(prompt_ids(row), [(answer, True)]))
    return demos


def sft(
    model: torch.nn.Module,
    demos: list[dict],
    *,
    pad_id: int,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    log: Callable[[str], None] = print,
    decision: tuple[int, int, float] | None = None,
) -> list[float]:
    """Masked cross-entropy on the demonstrations' model tokens; returns the loss of each step.

    Args:
        decision: `(search_id, answer_id, search_fraction)`: the first response token is trained towards
            `search_fraction * <search> + (1 - search_fraction) * <answer>` (see the module docstring).
    """
    if not demos:
        raise ValueError("no demonstrations to warm up on")
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    rng = random.Random(seed)
    order: list[int] = []
    losses, start = [], time.time()
    model.train()
    for step in tqdm(range(1, steps + 1), desc="warm-up", unit="step", disable=None, leave=False):
        if len(order) < batch_size:
            order += rng.sample(range(len(demos)), len(demos))
        batch = collate_trajectories([demos[i] for i in order[:batch_size]], pad_id)
        order = order[batch_size:]
        input_ids = batch["input_ids"].to(device)  # [B, L]
        crop = int(batch["response_start"].min()) - 1  # the first position whose prediction is trained
        # logits only from `crop` on: the LM head over the prompt would be wasted work
        keep = input_ids.shape[1] - crop
        logits = model(
            input_ids=input_ids, attention_mask=batch["attention_mask"].to(device), logits_to_keep=keep
        ).logits
        mask = batch["loss_mask"][:, crop + 1 :].to(device).float()  # [B, T] token t+1 is predicted at t
        # loss = - sum_t m_t log p(x_{t+1} | x_{<=t}) / sum_t m_t
        token_loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].transpose(1, 2).float(), input_ids[:, crop + 1 :], reduction="none"
        )
        if decision is not None:
            search_id, answer_id, fraction = decision
            rows = torch.arange(input_ids.shape[0], device=device)
            first = batch["response_start"].to(device) - 1 - crop  # [B] position predicting the first response token
            logp = torch.log_softmax(logits[rows, first].float(), dim=-1)  # [B, V]
            # soft target: - (f log p(<search>) - (1 - f) log p(<answer>))
            token_loss[rows, first] = -(fraction * logp[:, search_id] + (1 - fraction) * logp[:, answer_id])
        loss = (token_loss * mask).sum() / mask.sum().clamp(min=1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if step == 1 or step % max(steps // 10, 1) == 0 or step == steps:
            log(f"[warm-up] step {step}/{steps}  loss {loss.item():.4f}  ({time.time() - start:.0f}s)")
    return losses
