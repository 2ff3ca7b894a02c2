# Chapter 06 notes: learning_notes/06_training_engineering/README.md#one-step-walked-through
"""The training loop: agent RL with GRPO, RLOO or PPO, composed from the chapters' pieces.

    python -m minimal_impl.train --preset tiny_sample_nq                 # the CPU run of run_first_training.sh
    python -m minimal_impl.train --preset tiny_sample_nq --resume auto   # continue a killed run
    python -m minimal_impl.train --preset tiny_sample_nq adv_estimator=gae total_steps=20 verbose=true

One RL step, in the order `train()` runs it (chapter 01's diagram):

    1 rollout       rollout.py      rollout_n episodes per prompt, tool calls answered by BM25 (ch. 05)
    2 reward        tasks.py        rule rewards (ch. 04) on what the model wrote
    3 log-probs     here            old (sampling policy) and reference log-probs, no grad
    4 values        here            critic V(s_t) (PPO only)
    5 advantages    grpo.py, gae.py group-relative (GRPO/RLOO) or GAE + whitening (ch. 03)
    6 actor update  ppo.py, kl.py   clipped loss + KL loss, mini-batches, micro-batch accumulation, AdamW
    7 critic update ppo.py          clipped value loss (PPO only)

Around it: stage 0 (warm-up, warmup.py), a baseline evaluation, evaluations every eval_steps with early
stopping, atomic checkpoints with exact resume (checkpoint.py), and logs (run_log.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from . import checkpoint as ckpt
from .config import ConfigError, TrainConfig, build_config, describe
from .evaluate import episode_stats, evaluate
from .gae import compute_gae
from .grpo import grpo_advantages, rloo_advantages, spread_over_tokens
from .kl import AdaptiveKLController, FixedKLController, kl_estimate, kl_loss, kl_penalty_rewards
from .masked import masked_mean, masked_whiten
from .ppo import aggregate_loss, entropy_from_logits, ppo_policy_loss, value_loss
from .rollout import HFRollout, RolloutBackend, eos_token_ids, rollout_batch
from .run_log import RunLogger, banner, group_summary, token_table, turn_advantage_table
from .tasks import load_task
from .tool_calls import Trajectory, collate_trajectories
from .warmup import search_demonstrations, sft, solution_demonstrations

DEFAULT_TINY_MODEL = ".build/tiny_model"


# --------------------------------------------------------------------------------------------- set-up


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gib(device: torch.device) -> float:
    """Peak memory allocated by torch since the last reset, GiB (0 on a CPU)."""
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but no CUDA device is available; use device=cpu or auto")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def amp_context(config: TrainConfig, device: torch.device) -> contextlib.AbstractContextManager:
    """Mixed precision: with dtype=bfloat16, matrix products run in bf16 under autocast while the weights
    that train (and AdamW's moments) stay float32. Pure bf16 weights would round away updates smaller
    than ~0.4% of a weight, which at RL learning rates (1e-6) is every update."""
    if config.dtype == "bfloat16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def load_causal_lm(
    path: str | Path, config: TrainConfig, device: torch.device, frozen: bool = False
) -> torch.nn.Module:
    """`AutoModelForCausalLM.from_pretrained` on the run's device: float32 if it trains, bf16 if frozen under bf16."""
    from transformers import AutoModelForCausalLM
    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()
    dtype = torch.bfloat16 if frozen and config.dtype == "bfloat16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype).to(device)
    if frozen:
        model.eval().requires_grad_(False)
    elif config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False  # the cache is for generation; generate() turns it back on
    return model


def add_lora(model: torch.nn.Module, rank: int) -> torch.nn.Module:
    """Wrap the policy with LoRA adapters on every linear layer of the attention and MLP (peft)."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise ConfigError("lora_rank > 0 needs peft: pip install peft") from None
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    return get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=targets, lora_dropout=0.0))


def load_critic(path: str | Path, config: TrainConfig, device: torch.device) -> torch.nn.Module:
    """The critic: the policy's architecture with a scalar head per token (verl uses the same class)."""
    from transformers import AutoModelForTokenClassification

    critic = AutoModelForTokenClassification.from_pretrained(str(path), num_labels=1, dtype=torch.float32).to(device)
    if config.gradient_checkpointing:
        critic.gradient_checkpointing_enable()
    return critic


def make_backend(
    config: TrainConfig,
    policy: torch.nn.Module,
    tokenizer: object,
    protocol: object,
    amp: Callable[[], contextlib.AbstractContextManager],
    log: Callable[[str], None],
) -> RolloutBackend:
    """The rollout backend: vLLM when asked for and possible, else Hugging Face generate (with a message)."""
    if config.rollout_backend == "vllm":
        from .rollout_vllm import VLLMRollout, vllm_unavailable_reason

        reason = vllm_unavailable_reason()
        if reason is None:
            return VLLMRollout(policy, tokenizer, protocol, config)
        log(f"[rollout] rollout_backend=vllm is not possible here ({reason}): using Hugging Face generate instead")
    return HFRollout(policy, tokenizer, protocol, config.temperature, config.top_p, amp=amp)


def prompt_row_order(num_rows: int, seed: int, step: int, batch: int) -> list[int]:
    """Rows of step `step` (1-based): consecutive slices of a fresh permutation per epoch.

    A pure function of (seed, step), so a resumed run draws exactly the prompts it would have drawn.
    """
    out = []
    for g in range((step - 1) * batch, step * batch):
        epoch, position = divmod(g, num_rows)
        out.append(int(np.random.default_rng([seed, epoch]).permutation(num_rows)[position]))
    return out


# ------------------------------------------------------------------------------------ forward passes


def token_logprobs(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    start: int,
    temperature: float,
    with_entropy: bool = False,
    entropy_grad: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log pi(x_{t+1} | x_{<=t}) for the positions from `start` on: `[b, L - 1 - start]`, and the entropy.

    The entropy is computed without a graph unless `entropy_grad` (an entropy bonus in the loss): with a
    150k-token vocabulary its softmax is the size of the logits, and keeping it for backward would double them.
    """
    # the LM head runs only on the positions we need (logits_to_keep): the prompt's logits are never used
    keep = input_ids.shape[1] - start
    output = model(input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=keep)
    logits = output.logits[:, :-1].float()  # [b, T, V]
    if temperature != 1.0:
        logits = logits / temperature  # the distribution the rollout sampled from
    # log p(x) = z_x - logsumexp(z)
    logprobs = logits.gather(-1, input_ids[:, start + 1 :].unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, -1)
    entropy = None
    if with_entropy:
        with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
            entropy = entropy_from_logits(logits)  # [b, T]
    return logprobs, entropy


@torch.no_grad()
def batched_logprobs(
    model: torch.nn.Module,
    batch: dict,
    start: int,
    micro: int,
    temperature: float,
    amp: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> torch.Tensor:
    """Phase 3: log-probs of the whole batch in micro-batches, without gradients: `[B, T]`."""
    out = []
    for i in range(0, batch["input_ids"].shape[0], micro):
        with amp():
            lp, _ = token_logprobs(
                model, batch["input_ids"][i : i + micro], batch["attention_mask"][i : i + micro], start, temperature
            )
        out.append(lp)
    return torch.cat(out)


def critic_values(
    critic: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, start: int
) -> torch.Tensor:
    """V(s_t) for every predicted position: the head at position t scores the state before token t+1: `[b, T]`."""
    return critic(input_ids=input_ids, attention_mask=attention_mask).logits[:, start:-1, 0].float()


# ------------------------------------------------------------------------------------------ the step


def build_batch(trajs: list[Trajectory], pad_id: int, mask_tool_output: bool, device: torch.device) -> dict:
    """Collate episodes to `[B, L]` and crop the predicted positions to the response region `[B, T]`."""
    batch = collate_trajectories([t.assemble() for t in trajs], pad_id)
    start = int(batch["response_start"].min()) - 1  # logits at `start` predict the first response token
    loss_mask = batch["loss_mask"]
    if not mask_tool_output:  # the ablation: train on every response token, retrieved ones included
        positions = torch.arange(loss_mask.shape[1]).unsqueeze(0)
        loss_mask = ((positions >= batch["response_start"].unsqueeze(1)) & batch["attention_mask"].bool()).long()
    turn_ids = torch.zeros_like(batch["loss_mask"])  # [B, L] model-turn number of each position
    for row, traj in enumerate(trajs):
        pos, turn = len(traj.prompt_ids), 0
        for ids, generated in traj.segments:
            turn += generated
            if generated:
                turn_ids[row, pos : pos + len(ids)] = turn
            pos += len(ids)
    return {
        "input_ids": batch["input_ids"].to(device),
        "attention_mask": batch["attention_mask"].to(device),
        "mask": loss_mask[:, start + 1 :].float().to(device),  # [B, T] 1 = trained on
        "turn_ids": turn_ids[:, start + 1 :],
        "start": start,
    }


def compute_advantages(
    config: TrainConfig,
    scores: torch.Tensor,
    group_ids: list[int],
    mask: torch.Tensor,
    values: torch.Tensor | None,
    old_lp: torch.Tensor,
    ref_lp: torch.Tensor | None,
    kl_ctrl: FixedKLController | AdaptiveKLController,
) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
    """Phase 5: token advantages `[B, T]` (and GAE returns), from chapter 03's functions."""
    info: dict = {}
    if config.adv_estimator in ("grpo", "rloo"):
        if config.adv_estimator == "grpo":
            seq_adv = grpo_advantages(scores, group_ids, scale_by_std=config.norm_adv_by_std)  # [B]
        else:
            seq_adv = rloo_advantages(scores, group_ids)  # [B]
        return spread_over_tokens(seq_adv, mask), None, info
    # PPO: the score sits on the last trained token; optionally minus beta * KL on every token
    token_rewards = torch.zeros_like(mask)  # [B, T]
    last = (mask * torch.arange(mask.shape[1], device=mask.device)).argmax(dim=1)  # [B] last trained position
    has = mask.sum(dim=1) > 0
    token_rewards[has, last[has]] = scores[has].to(mask.dtype)
    if config.use_kl_in_reward:
        token_rewards, current_kl = kl_penalty_rewards(
            token_rewards, old_lp, ref_lp, mask, kl_ctrl.value, config.kl_penalty
        )
        kl_ctrl.update(current_kl, n_steps=scores.shape[0])
        info = {"reward/kl_penalty": current_kl, "reward/kl_coef": kl_ctrl.value}
    advantages, returns = compute_gae(token_rewards, values, mask, gamma=config.gamma, lam=config.lam)
    return masked_whiten(advantages, mask) * mask, returns, info


def loss_weight(mode: str, micro_mask: torch.Tensor, mini_mask: torch.Tensor) -> float:
    """Share of the mini-batch a micro-batch stands for, so that accumulated gradients equal one big batch's."""
    if mode == "token-mean":
        return (micro_mask.sum() / mini_mask.sum().clamp(min=1)).item()
    return ((micro_mask.sum(-1) > 0).sum() / (mini_mask.sum(-1) > 0).sum().clamp(min=1)).item()


def minibatches(group_rows: list[list[int]], prompts_per_mini: int, generator: torch.Generator) -> list[list[int]]:
    """Shuffle the groups, then cut them into mini-batches of `prompts_per_mini` prompts (whole groups)."""
    order = torch.randperm(len(group_rows), generator=generator).tolist()
    return [
        [r for g in order[i : i + prompts_per_mini] for r in group_rows[g]]
        for i in range(0, len(order), prompts_per_mini)
    ]


def micro_batches(
    config: TrainConfig, rows: list[int], mask: torch.Tensor
) -> Iterator[tuple[list[int], torch.Tensor, float]]:
    """The micro-batches of a mini-batch: their rows, their mask `[b, T]`, their share of the mini-batch's loss."""
    mini_mask = mask[rows]  # [m, T]
    for i in range(0, len(rows), config.ppo_micro_batch_size):
        idx = rows[i : i + config.ppo_micro_batch_size]
        yield idx, mask[idx], loss_weight(config.loss_agg_mode, mask[idx], mini_mask)


def update_actor(
    config: TrainConfig,
    policy: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: object,
    batch: dict,
    data: dict,
    group_rows: list[list[int]],
    generator: torch.Generator,
    amp: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> dict:
    """Phase 6: ppo_epochs x mini-batches of clipped-loss steps, micro-batches accumulated."""
    sums: dict[str, float] = {}
    steps = skipped = 0
    params = [p for p in policy.parameters() if p.requires_grad]
    policy.train()
    for _ in range(config.ppo_epochs):
        for rows in minibatches(group_rows, config.ppo_mini_batch_size, generator):
            optimizer.zero_grad(set_to_none=True)
            for idx, mask, weight in micro_batches(config, rows, data["mask"]):
                # the entropy is logged every step: cheap next to the forward pass
                with amp():
                    lp, entropy = token_logprobs(
                        policy, batch["input_ids"][idx], batch["attention_mask"][idx], batch["start"], config.temperature,
                        with_entropy=True, entropy_grad=bool(config.entropy_coeff),
                    )  # fmt: skip
                pg_loss, stats = ppo_policy_loss(
                    lp, data["old_lp"][idx], data["advantages"][idx], mask,
                    clip_low=config.clip_ratio_low, clip_high=config.clip_ratio_high,
                    dual_clip=config.clip_ratio_c or None, agg=config.loss_agg_mode,
                )  # fmt: skip
                loss = pg_loss
                if config.use_kl_loss:
                    kl_term = kl_loss(lp, data["ref_lp"][idx], mask, config.kl_loss_type, config.loss_agg_mode)
                    loss = loss + config.kl_loss_coef * kl_term
                    stats["kl_loss"] = kl_term.item()
                entropy_term = aggregate_loss(entropy, mask, config.loss_agg_mode)
                if config.entropy_coeff:
                    loss = loss - config.entropy_coeff * entropy_term
                (loss * weight).backward()
                stats.update(pg_loss=pg_loss.item(), entropy=entropy_term.item())
                for key, value in stats.items():
                    sums[key] = sums.get(key, 0.0) + value * weight
            grad_norm = torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm).item()
            if math.isfinite(grad_norm):
                optimizer.step()
            else:  # a NaN/inf gradient would poison the weights: skip the step, as verl does
                skipped += 1
            optimizer.zero_grad(set_to_none=True)  # free the gradients now: the next rollout needs the memory
            scheduler.step()
            sums["grad_norm"] = sums.get("grad_norm", 0.0) + (grad_norm if math.isfinite(grad_norm) else 0.0)
            steps += 1
    metrics = {f"actor/{k}": v / max(steps, 1) for k, v in sums.items()}
    metrics.update(
        {"actor/optimizer_steps": steps, "actor/skipped_steps": skipped, "actor/lr": scheduler.get_last_lr()[0]}
    )
    return metrics


def update_critic(
    config: TrainConfig,
    critic: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: dict,
    data: dict,
    group_rows: list[list[int]],
    generator: torch.Generator,
    amp: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> dict:
    """Phase 7: clipped value loss on the GAE returns, same mini/micro-batch scheme."""
    sums, steps = {"vf_loss": 0.0, "vf_clipfrac": 0.0, "grad_norm": 0.0}, 0
    critic.train()
    for _ in range(config.ppo_epochs):
        for rows in minibatches(group_rows, config.ppo_mini_batch_size, generator):
            optimizer.zero_grad(set_to_none=True)
            for idx, mask, weight in micro_batches(config, rows, data["mask"]):
                with amp():
                    values = critic_values(
                        critic, batch["input_ids"][idx], batch["attention_mask"][idx], batch["start"]
                    )
                loss, stats = value_loss(values, data["values"][idx], data["returns"][idx], mask, config.cliprange_value, config.loss_agg_mode)  # fmt: skip
                (loss * weight).backward()
                sums["vf_loss"] += loss.item() * weight
                sums["vf_clipfrac"] += stats["vf_clipfrac"] * weight
            sums["grad_norm"] += torch.nn.utils.clip_grad_norm_(critic.parameters(), config.max_grad_norm).item()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            steps += 1
    return {f"critic/{k}": v / max(steps, 1) for k, v in sums.items()}


# -------------------------------------------------------------------------------------------- train


def train(config: TrainConfig, log: Callable[[str], None] = print) -> dict:
    """Run (or resume) a training run; returns the summary also written to summary.json."""
    t_start = time.time()
    run_dir = config.run_dir
    device = resolve_device(config.device)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    seed_everything(config.seed)

    # ---- resume or start fresh
    resume_from = None
    if config.resume == "auto":
        resume_from = ckpt.find_latest(run_dir)
        log(
            f"[resume] {'found ' + str(resume_from) if resume_from else 'no complete checkpoint in ' + str(run_dir) + ': starting fresh'}"
        )
    elif config.resume:
        resume_from = Path(config.resume)
        if not ckpt.is_complete(resume_from):
            raise ConfigError(
                f"resume={config.resume}: not a complete checkpoint directory (no valid training_state.json)"
            )
    elif ckpt.list_checkpoints(run_dir):
        raise ConfigError(
            f"{run_dir} already has checkpoints: pass --resume auto to continue it, or set run_name=<new name>"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    removed = ckpt.remove_partial(run_dir)
    if removed:
        log(f"[resume] removed leftovers of an interrupted save: {', '.join(removed)}")
    (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")

    # ---- task, tokenizer, prompts
    task = load_task(config.task, config.data_dir, config.reward_fn, config.format_score, config.retriever_url)
    if config.model_path == DEFAULT_TINY_MODEL and not Path(config.model_path).is_dir():
        from .tiny_model import build

        log(f"[model] building the tiny model into {config.model_path}")
        build(config.model_path)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(config.model_path)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    prompt_cache: dict[int, list[int]] = {}

    def prompt_ids(row: dict) -> list[int]:
        key = id(row)
        if key not in prompt_cache:
            text = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
            prompt_cache[key] = tokenizer.encode(text, add_special_tokens=False)
        return prompt_cache[key]

    too_long = [r for r in task.train_rows + task.test_rows if len(prompt_ids(r)) > config.max_prompt_length]
    if too_long:
        raise ConfigError(
            f"{len(too_long)} prompts are longer than max_prompt_length={config.max_prompt_length} tokens: raise it"
        )
    eval_rows = task.test_rows[: config.eval_max_samples] if config.eval_max_samples else task.test_rows

    # ---- stage 0: warm-up (skipped when resuming from an RL checkpoint)
    rl_start = Path(config.model_path)
    if config.warmup_sft_steps:
        rl_start = run_dir / "warmup"
        if (rl_start / "metadata.json").is_file():
            log(f"[warm-up] reusing {rl_start}")
        else:
            log(banner(f"stage 0: supervised warm-up, {config.warmup_sft_steps} steps"))
            model = load_causal_lm(config.model_path, config, device)
            eos = eos_token_ids(model, tokenizer)
            decision = None
            if task.protocol is not None:
                search_fn = lambda q: task.search_batch(q, config.retriever_topk)  # noqa: E731
                demos = search_demonstrations(task.train_rows, prompt_ids, tokenizer, search_fn, config.max_obs_tokens)
                tags = (task.protocol.search_open, task.protocol.answer_open)
                first = [tokenizer.encode(tag, add_special_tokens=False)[0] for tag in tags]
                decision = (first[0], first[1], config.warmup_search_fraction)
            else:
                demos = solution_demonstrations(task.train_rows, prompt_ids, tokenizer, eos[0])
            losses = sft(
                model,
                demos,
                pad_id,
                config.warmup_sft_steps,
                config.warmup_batch_size,
                config.warmup_lr,
                config.seed,
                log,
                decision,
            )
            ckpt.save_model_dir(
                run_dir,
                "warmup",
                model,
                tokenizer,
                {"steps": config.warmup_sft_steps, "final_loss": losses[-1], "losses": losses},
            )
            del model
            seed_everything(config.seed)  # RL starts from the same random state whether or not the warm-up was reused

    # ---- models
    amp = lambda: amp_context(config, device)  # noqa: E731
    # with LoRA the base weights never change: keep them in bf16 (under bf16) and train float32 adapters
    policy = load_causal_lm(rl_start, config, device, frozen=bool(config.lora_rank))
    if config.lora_rank:
        policy = add_lora(policy, config.lora_rank)
        if config.gradient_checkpointing:
            policy.gradient_checkpointing_enable()
            policy.enable_input_require_grads()
        if resume_from:
            from peft import set_peft_model_state_dict
            from safetensors.torch import load_file

            set_peft_model_state_dict(policy, load_file(str(resume_from / "adapter_model.safetensors")))
    elif resume_from:
        policy = load_causal_lm(resume_from, config, device)
    need_ref = config.use_kl_loss or config.use_kl_in_reward
    # the reference is the starting model; with LoRA that is the policy with its adapters switched off
    reference = load_causal_lm(rl_start, config, device, frozen=True) if need_ref and not config.lora_rank else None
    critic = critic_optimizer = None
    if config.adv_estimator == "gae":
        critic = load_critic(resume_from / "critic" if resume_from else rl_start, config, device)
        critic_optimizer = torch.optim.AdamW(critic.parameters(), lr=config.critic_lr, weight_decay=config.weight_decay)
    optimizer = torch.optim.AdamW(
        [p for p in policy.parameters() if p.requires_grad], lr=config.actor_lr, weight_decay=config.weight_decay
    )
    warmup = max(config.lr_warmup_steps, 1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup))
    kl_ctrl = (
        AdaptiveKLController(config.kl_coef, config.kl_target, config.kl_horizon)
        if config.kl_ctrl == "adaptive"
        else FixedKLController(config.kl_coef)
    )
    eos = eos_token_ids(policy, tokenizer)
    backend = make_backend(config, policy, tokenizer, task.protocol, amp, log)

    def rollout(prompts: list[list[int]], greedy: bool) -> list[Trajectory]:
        return rollout_batch(backend, prompts, tokenizer, eos, config.max_new_tokens, task.protocol,
                             lambda q: task.search_batch(q, config.retriever_topk), config.max_turns,
                             config.max_obs_tokens, greedy)  # fmt: skip

    state = {"global_step": 0, "best_accuracy": -1.0, "best_model_path": None, "evals_without_improvement": 0}
    if resume_from:
        state.update(ckpt.load_into(resume_from, optimizer, scheduler, critic_optimizer))
        kl_ctrl.value = state.get("kl_coef", kl_ctrl.value)
        log(
            f"[resume] restored {resume_from}: global_step {state['global_step']}, best_accuracy {state['best_accuracy']:.3f} "
            f"({state['best_model_path']}), evals_without_improvement {state['evals_without_improvement']}; "
            f"optimizer ({len(optimizer.state)} parameter states), scheduler (lr {scheduler.get_last_lr()[0]:.2e}), "
            f"RNG (python, numpy, torch{', cuda' if torch.cuda.is_available() else ''})"
        )
    logger = RunLogger(run_dir, state["global_step"], config.use_wandb, config.to_dict())
    (run_dir / "eval_logs").mkdir(exist_ok=True)

    # ---- baseline evaluation of the model RL starts from
    baseline_path = run_dir / "baseline_eval.json"
    if baseline_path.is_file() and (resume_from or not config.run_baseline_eval):
        baseline = json.loads(baseline_path.read_text("utf-8"))
        log(f"[eval] reusing {baseline_path}: accuracy {baseline['accuracy']:.3f}")
        if not resume_from:  # a fresh metrics.jsonl starts with the baseline, as when it is computed
            logger.log(0, {f"eval/{k}": v for k, v in baseline.items() if isinstance(v, (int, float)) and k != "step"})
    else:
        baseline = evaluate(task, eval_rows, rollout, prompt_ids, tokenizer, step=0)
        ckpt.write_json_atomic(baseline_path, baseline)
        logger.log(0, {f"eval/{k}": v for k, v in baseline.items() if isinstance(v, (int, float)) and k != "step"})
        log(f"[eval] baseline (step 0): accuracy {baseline['accuracy']:.3f}, search rate {baseline['search_rate']:.2f}")

    # ---- the RL loop
    stop_reason, step_metrics, last_saved = "total_steps reached", {}, state["global_step"]
    interrupted = False

    def on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous_handler = signal.signal(signal.SIGTERM, on_sigterm)
    progress = tqdm(
        total=config.total_steps,
        initial=state["global_step"],
        desc="RL steps",
        unit="step",
        dynamic_ncols=True,
        disable=None,
    )
    try:
        for step in range(state["global_step"] + 1, config.total_steps + 1):
            t_step = time.time()
            rows = [
                task.train_rows[i]
                for i in prompt_row_order(len(task.train_rows), config.seed, step, config.train_batch_size)
            ]
            episode_rows = [row for row in rows for _ in range(config.rollout_n)]
            group_ids = [g for g in range(len(rows)) for _ in range(config.rollout_n)]

            # 1 rollout
            if config.verbose:
                tqdm.write(banner(f"step {step}: phase 1 rollout ({len(episode_rows)} episodes)"))
            reset_peak_memory(device)
            trajs = rollout([prompt_ids(r) for r in episode_rows], False)
            t_rollout = time.time() - t_step
            rollout_peak = peak_memory_gib(device)
            if hasattr(backend, "release_memory"):  # vLLM: its KV cache is idle until the next rollout
                backend.release_memory()
            # 2 reward
            rewards = [task.score(t, r, tokenizer) for t, r in zip(trajs, episode_rows)]
            scores = torch.tensor(rewards, device=device)  # [B]
            batch = build_batch(trajs, pad_id, config.mask_tool_output, device)
            mask = batch["mask"]  # [B, T]
            # 3 log-probs of the sampling policy and the reference
            t_update = time.time()
            reset_peak_memory(device)
            micro = config.ppo_micro_batch_size
            old_lp = batched_logprobs(policy, batch, batch["start"], micro, config.temperature, amp)  # [B, T]
            ref_lp = None
            if reference is not None:
                ref_lp = batched_logprobs(reference, batch, batch["start"], micro, config.temperature, amp)  # [B, T]
            elif need_ref:  # LoRA: the reference is the base model, i.e. the policy without its adapters
                with policy.disable_adapter():
                    ref_lp = batched_logprobs(policy, batch, batch["start"], micro, config.temperature, amp)  # [B, T]
            # 4 values
            values = None
            if critic is not None:
                with torch.no_grad(), amp():
                    values = torch.cat([critic_values(critic, batch["input_ids"][i : i + micro], batch["attention_mask"][i : i + micro], batch["start"])
                                        for i in range(0, len(trajs), micro)])  # [B, T]  # fmt: skip
            # 5 advantages
            if config.verbose:
                tqdm.write(banner(f"step {step}: phase 5 advantages ({config.adv_estimator})"))
            advantages, returns, adv_info = compute_advantages(
                config, scores, group_ids, mask, values, old_lp, ref_lp, kl_ctrl
            )
            group_rows = [[g * config.rollout_n + k for k in range(config.rollout_n)] for g in range(len(rows))]
            flat = [r for rows_ in group_rows for r in rows_]
            zero_var = [g for g, rs in enumerate(group_rows) if len({rewards[r] for r in rs}) == 1]
            kept = [rs for g, rs in enumerate(group_rows) if not (config.filter_zero_variance_groups and config.adv_estimator != "gae" and g in zero_var)]  # fmt: skip
            data = {
                "mask": mask,
                "old_lp": old_lp,
                "ref_lp": ref_lp,
                "advantages": advantages,
                "values": values,
                "returns": returns,
            }
            # 6 actor update, 7 critic update
            if config.verbose:
                tqdm.write(banner(f"step {step}: phase 6 backpropagation ({len(kept)} of {len(group_rows)} groups)"))
            generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
            update_metrics = (
                update_actor(config, policy, optimizer, scheduler, batch, data, kept, generator, amp)
                if kept
                else {"actor/optimizer_steps": 0}
            )
            if critic is not None:
                update_metrics.update(
                    update_critic(config, critic, critic_optimizer, batch, data, kept or group_rows, generator, amp)
                )
            if hasattr(backend, "sync_weights"):  # vLLM samples from its own copy of the weights
                backend.sync_weights(policy)
            t_update = time.time() - t_update

            # ---- metrics of the step
            stats = episode_stats(task, trajs, episode_rows, rewards, tokenizer)
            trained_tokens = int(mask[flat].sum().item())
            step_metrics = {
                "reward/mean": stats["avg_reward"], "reward/std": stats["std_reward"], "accuracy": stats["accuracy"],
                "search/rate": stats["search_rate"], "search/per_rollout": stats["avg_search_attempts"],
                "search/found_correct_doc": stats["found_correct_doc"] / len(trajs), "search/repeated": stats["repeated_searches"],
                "response/model_tokens": stats["avg_response_tokens"], "response/turns": stats["avg_turns"],
                "response/answered": stats["attempted_answer"] / len(trajs),
                "groups/total": len(group_rows), "groups/kept": len(kept), "groups/filtered_zero_variance": len(zero_var) if config.filter_zero_variance_groups else 0,
                "rollouts/answered": sum(t.finish_reason == "answer" for t in trajs), "rollouts/eos": sum(t.finish_reason == "eos" for t in trajs),
                "rollouts/max_turns": sum(t.finish_reason == "max_turns" for t in trajs),
                "rollouts/finished_early": sum(t.finish_reason != "max_turns" and t.num_turns <= config.max_turns for t in trajs),
                "tokens/total": int(batch["attention_mask"].sum().item()), "tokens/trainable": trained_tokens,
                "timing/rollout": t_rollout, "timing/update": t_update, **adv_info, **update_metrics,
            }  # fmt: skip
            if ref_lp is not None:  # KL(pi_old || pi_ref) on the sampled tokens, k3
                step_metrics["kl/ref"] = masked_mean(kl_estimate(old_lp, ref_lp, "k3"), mask).item()
            if critic is not None:
                step_metrics["critic/values_mean"] = masked_mean(values, mask).item()
            step_metrics["timing/step"] = time.time() - t_step
            if (
                device.type == "cuda"
            ):  # torch.cuda.max_memory_allocated per phase (chapter 07 compares it with memory.py)
                step_metrics["memory/rollout_peak_gib"] = rollout_peak
                step_metrics["memory/update_peak_gib"] = peak_memory_gib(device)
            if config.verbose:
                tqdm.write(group_summary(step_metrics))
                for g in [g for g in range(len(group_rows)) if group_rows[g] in kept][:2]:
                    idx = group_rows[g]
                    tqdm.write(
                        f"  turn-by-turn advantages, group {g} ({rows[g]['extra_info'].get('question', '')[:60]!r})"
                    )
                    tqdm.write(
                        turn_advantage_table(
                            advantages[idx].cpu(), mask[idx].cpu(), batch["turn_ids"][idx], [rewards[r] for r in idx]
                        )
                    )
                if kept:  # the tensors of one rollout, token by token (chapter 06: one step walked through)
                    r = kept[0][0]
                    tqdm.write(f"  tensors of rollout {r} (reward {rewards[r]:.0f}), first trained tokens:")
                    tqdm.write(token_table(tokenizer, batch, r, old_lp, ref_lp, advantages, values))
            logger.log(step, step_metrics)
            progress.update(1)
            if step % config.log_every == 0:
                progress.set_postfix_str(
                    f"reward {step_metrics['reward/mean']:.2f} search {step_metrics['search/rate']:.2f} "
                    f"kl {step_metrics.get('kl/ref', 0):.4f} ent {step_metrics.get('actor/entropy', 0):.2f}"
                )
                tqdm.write(
                    f"step {step:4d}/{config.total_steps} | reward {step_metrics['reward/mean']:.3f} | acc {step_metrics['accuracy']:.3f} | "
                    f"search {step_metrics['search/rate']:.2f} | kl {step_metrics.get('kl/ref', 0):.4f} | "
                    f"ent {step_metrics.get('actor/entropy', 0):.3f} | len {step_metrics['response/model_tokens']:.1f} | "
                    f"clip {step_metrics.get('actor/clipfrac', 0):.3f} | {step_metrics['timing/step']:.1f}s"
                )
            state["global_step"] = step

            # ---- evaluation, best model, early stopping
            stop = False
            if step % config.eval_steps == 0 or step == config.total_steps:
                result = evaluate(task, eval_rows, rollout, prompt_ids, tokenizer, step)
                ckpt.write_json_atomic(run_dir / "eval_logs" / f"eval_step_{step:04d}.json", result)
                logger.log(
                    step, {f"eval/{k}": v for k, v in result.items() if isinstance(v, (int, float)) and k != "step"}
                )
                improved = result["accuracy"] > state["best_accuracy"]
                if improved:
                    state["best_accuracy"], state["evals_without_improvement"] = result["accuracy"], 0
                    best = ckpt.save_model_dir(run_dir, "best_model", policy, tokenizer, {"step": step, "accuracy": result["accuracy"], "eval": f"eval_logs/eval_step_{step:04d}.json"})  # fmt: skip
                    state["best_model_path"] = str(best)
                else:
                    state["evals_without_improvement"] += 1
                tqdm.write(
                    f"[eval] step {step}: accuracy {result['accuracy']:.3f} (baseline {baseline['accuracy']:.3f}, best {state['best_accuracy']:.3f}), "
                    f"search rate {result['search_rate']:.2f}, found_correct_doc {result['found_correct_doc']}/{result['total_samples']}"
                    + (" -> best_model/" if improved else "")
                )
                if config.target_accuracy and result["accuracy"] >= config.target_accuracy:
                    stop, stop_reason = True, f"target accuracy {config.target_accuracy} reached"
                elif (
                    config.early_stopping_patience
                    and state["evals_without_improvement"] >= config.early_stopping_patience
                ):
                    stop, stop_reason = (
                        True,
                        f"early stopping: {config.early_stopping_patience} evaluations without improvement",
                    )

            # ---- checkpoint
            if step % config.save_steps == 0 or step == config.total_steps or stop:
                state["kl_coef"] = kl_ctrl.value
                path = ckpt.save_checkpoint(
                    run_dir,
                    step,
                    policy,
                    tokenizer,
                    optimizer,
                    scheduler,
                    state,
                    step_metrics,
                    critic,
                    critic_optimizer,
                )
                last_saved = step
                removed = ckpt.rotate(run_dir, config.save_total_limit)
                tqdm.write(f"[checkpoint] {path}" + (f" (removed {', '.join(removed)})" if removed else ""))
            if stop:
                break
    except KeyboardInterrupt:
        interrupted, stop_reason = True, "interrupted"
        if state["global_step"] > last_saved:
            state["kl_coef"] = kl_ctrl.value
            path = ckpt.save_checkpoint(run_dir, state["global_step"], policy, tokenizer, optimizer, scheduler, state, step_metrics, critic, critic_optimizer)  # fmt: skip
            tqdm.write(f"[checkpoint] interrupted: saved {path}")
    finally:
        progress.close()
        logger.close()
        signal.signal(signal.SIGTERM, previous_handler)

    if not interrupted:
        ckpt.save_model_dir(
            run_dir, "final", policy, tokenizer, {"step": state["global_step"], "stop_reason": stop_reason}
        )
    summary = {
        "run_dir": str(run_dir),
        "steps": state["global_step"],
        "baseline_accuracy": baseline["accuracy"],
        "best_accuracy": state["best_accuracy"],
        "best_model_path": state["best_model_path"],
        "target_accuracy": config.target_accuracy or None,
        "target_reached": bool(config.target_accuracy and state["best_accuracy"] >= config.target_accuracy),
        "stop_reason": stop_reason,
        "total_time_s": round(time.time() - t_start, 1),
    }
    ckpt.write_json_atomic(run_dir / "summary.json", summary)
    log(banner("summary"))
    for key, value in summary.items():
        log(f"  {key:18s} {value}")
    if interrupted:
        log(f"  resume with: python -m minimal_impl.train --preset <preset> run_name={config.run_name} --resume auto")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", help="a preset name (minimal_impl/presets/) or a YAML path")
    parser.add_argument("--resume", help="auto (newest complete checkpoint of the run) or a checkpoint path")
    parser.add_argument("--help-config", action="store_true", help="list every config key with its default and meaning")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, applied after the preset")
    args = parser.parse_args(argv)
    if args.help_config:
        print(describe())
        return 0
    try:
        config = build_config(args.preset, args.overrides + ([f"resume={args.resume}"] if args.resume else []))
        summary = train(config)
    except (ConfigError, RuntimeError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 130 if summary["stop_reason"] == "interrupted" else 0


if __name__ == "__main__":
    sys.exit(main())
