# Chapter 06 notes: learning_notes/06_training_engineering/README.md#what-a-run-holds
"""Everything a run needs before its first RL step, built once by `setup_run` into a `Run`.

In order (the order matters for exact resume: models that initialise weights draw random numbers):
the run directory and the checkpoint to resume from; the task (data, retriever, reward); the tokenizer
and prompts; stage 0, the warm-up (warmup.py); the policy, its reference and the critic; optimizers,
schedule and KL controller; the rollout backend; and last the restored optimizer and random states.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from . import checkpoint as ckpt
from .config import ConfigError, TrainConfig
from .episode import Trajectory
from .estimators import ADV_ESTIMATORS, POLICY_LOSSES, PolicyLoss
from .impl import Impl
from .kl import AdaptiveKLController, FixedKLController
from .rollout import HFRollout, RolloutBackend, eos_token_ids, rollout_batch
from .run_log import banner
from .tasks import Task, load_task
from .tool_calls import ToolProtocol
from .warmup import search_demonstrations, sft, solution_demonstrations

DEFAULT_TINY_MODEL = ".build/tiny_model"
Amp = Callable[[], contextlib.AbstractContextManager]


@dataclass
class TrainingState:
    """The bookkeeping a checkpoint saves next to the weights (training_state.json)."""

    global_step: int = 0
    best_accuracy: float = -1.0
    best_model_path: str | None = None
    evals_without_improvement: int = 0
    kl_coef: float | None = None  # the in-reward KL coefficient (the adaptive controller moves it)
    skipped_in_a_row: int = 0  # optimizer steps skipped one after another (non-finite gradient norm)
    skipped_since_eval: int = 0  # skipped since the last evaluation: such a model is never the best one

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainingState:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass
class Run:
    """What a training run holds between steps."""

    config: TrainConfig
    impl: Impl
    log: Callable[[str], None]
    device: torch.device
    amp: Amp
    task: Task
    tokenizer: object
    pad_id: int
    eval_rows: list[dict]
    policy: torch.nn.Module
    reference: torch.nn.Module | None  # None: no KL, or LoRA (the reference is the policy without adapters)
    critic: torch.nn.Module | None  # PPO only
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    critic_optimizer: torch.optim.Optimizer | None
    kl_ctrl: FixedKLController | AdaptiveKLController
    policy_loss: PolicyLoss
    backend: RolloutBackend
    eos_ids: list[int]
    state: TrainingState
    resumed_from: Path | None
    prompt_ids: Callable[[dict], list[int]]  # a row's chat-formatted prompt ids

    def search(self, queries: list[str]) -> list[list[dict]]:
        return self.task.search_batch(queries, self.config.retriever_topk)

    def rollout(self, prompts: list[list[int]], greedy: bool) -> list[Trajectory]:
        """Phase 1 (and evaluation, greedy): one episode per prompt."""
        c = self.config
        return rollout_batch(
            self.backend,
            prompts,
            tokenizer=self.tokenizer,
            eos_ids=self.eos_ids,
            max_new_tokens=c.max_new_tokens,
            protocol=self.task.protocol,
            search_batch=self.search,
            max_turns=c.max_turns,
            max_obs_tokens=c.max_obs_tokens,
            greedy=greedy,
            tools=self.impl.tool_calls,
            record_logprobs=not greedy and c.rollout_correction != "off",
        )


# --------------------------------------------------------------------------------------------- helpers


def prompt_encoder(tokenizer: object) -> Callable[[dict], list[int]]:
    """`row -> prompt ids`: the chat template with the generation prompt, tokenized once per row."""
    cache: dict[int, list[int]] = {}

    def prompt_ids(row: dict) -> list[int]:
        if id(row) not in cache:
            text = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
            cache[id(row)] = tokenizer.encode(text, add_special_tokens=False)
        return cache[id(row)]

    return prompt_ids


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
    protocol: ToolProtocol | None,
    *,
    amp: Amp,
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


# ------------------------------------------------------------------------------------------ the stages


def resolve_resume(config: TrainConfig, log: Callable[[str], None]) -> Path | None:
    """The checkpoint to resume from (None: a fresh run), after refusing to overwrite a run's checkpoints.

    `resume=auto` takes the newest checkpoint that verifies (checkpoint.find_resumable); a path must verify.
    """
    run_dir = config.run_dir
    if config.resume == "auto":
        found = ckpt.find_resumable(run_dir, log)
        log(f"[resume] found {found}" if found else f"[resume] no checkpoint in {run_dir}: starting fresh")
        return found
    if config.resume:
        problem = ckpt.checkpoint_problem(Path(config.resume))
        if problem:
            raise ConfigError(f"resume={config.resume}: not a usable checkpoint ({problem})")
        return Path(config.resume)
    if ckpt.list_checkpoints(run_dir):
        raise ConfigError(
            f"{run_dir} already has checkpoints: pass --resume auto to continue it, or set run_name=<new name>"
        )
    return None


# keys that may differ from the checkpoint's configuration on resume without changing what trains
RESUME_FREE_KEYS = {
    "save_rollouts",
    "viewer_groups",
    "viewer_eval_samples",
    "run_name",
    "output_dir",  # a run directory that was renamed or moved
    "resume",
    "total_steps",
    "verbose",
    "log_every",
    "use_wandb",
    "save_total_limit",
    "allow_config_change",
    "allow_failing_checks",
    "eval_max_samples",
    "num_threads",
}
# keys that decide which models and weights exist: a checkpoint of one cannot continue as the other
RESUME_FIXED_KEYS = {"task", "model_path", "lora_rank", "warmup_sft_steps", "warmup_search_fraction", "seed"}


def check_resume_config(config: TrainConfig, checkpoint: Path, log: Callable[[str], None]) -> None:
    """Refuse to resume with a configuration that differs from the checkpoint's, unless allowed (then log
    every change). Example: actor_lr=0.1 on a run trained at 0.0005 needs allow_config_change=true."""
    saved = ckpt.read_json(checkpoint / ckpt.CONFIG_FILE) or ckpt.read_json(config.run_dir / "config.json")
    if saved is None:
        log(f"[resume] {checkpoint.name} records no configuration: cannot compare it with this one")
        return
    current = config.to_dict()
    changed = {k: (saved[k], current[k]) for k in current if k in saved and saved[k] != current[k]}
    changed = {k: v for k, v in changed.items() if k not in RESUME_FREE_KEYS}
    if not changed:
        return
    listing = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in sorted(changed.items()))
    fixed = sorted(set(changed) & RESUME_FIXED_KEYS)
    if fixed:
        raise ConfigError(
            f"cannot resume {checkpoint} with a different {', '.join(fixed)} ({listing}): start a new run"
        )
    if not config.allow_config_change:
        raise ConfigError(
            f"resuming {checkpoint} with a configuration that differs from the one it was trained with ({listing}). "
            "Use the same values, or pass --allow-config-change to continue with the new ones (the run is then "
            "no longer the continuation of one configuration)."
        )
    for key, (old, new) in sorted(changed.items()):
        log(f"[resume] config change: {key} {old!r} -> {new!r}")


def warmup_stage(
    config: TrainConfig,
    task: Task,
    tokenizer: object,
    *,
    prompt_ids: Callable[[dict], list[int]],
    impl: Impl,
    device: torch.device,
    log: Callable[[str], None],
) -> Path:
    """Stage 0: supervised warm-up into run_dir/warmup (reused if there); returns the model RL starts from."""
    c = config
    if not c.warmup_sft_steps:
        return Path(c.model_path)
    out = c.run_dir / "warmup"
    if out.exists():
        problem = ckpt.verify(out)
        if problem is None:
            log(f"[warm-up] reusing {out}")
            return out
        aside = out.with_name(f"warmup.unusable-{os.getpid()}")
        os.replace(out, aside)
        log(f"[warm-up] {out} does not verify ({problem}): kept as {aside.name}, warming up again")
    log(banner(f"stage 0: supervised warm-up, {c.warmup_sft_steps} steps"))
    model = load_causal_lm(c.model_path, c, device)
    eos = eos_token_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    decision = None
    if task.protocol is not None:
        search = lambda queries: task.search_batch(queries, c.retriever_topk)  # noqa: E731
        demos = search_demonstrations(task.train_rows, prompt_ids, tokenizer, search, c.max_obs_tokens, impl.tool_calls)
        first = [
            tokenizer.encode(tag, add_special_tokens=False)[0]
            for tag in (task.protocol.search_open, task.protocol.answer_open)
        ]
        decision = (first[0], first[1], c.warmup_search_fraction)  # the first token: P(<search>) vs P(<answer>)
    else:
        demos = solution_demonstrations(task.train_rows, prompt_ids, tokenizer, eos[0], impl.tool_calls)
    losses = sft(
        model,
        demos,
        pad_id=pad_id,
        steps=c.warmup_sft_steps,
        batch_size=c.warmup_batch_size,
        lr=c.warmup_lr,
        seed=c.seed,
        log=log,
        decision=decision,
    )
    metadata = {"steps": c.warmup_sft_steps, "final_loss": losses[-1], "losses": losses}
    ckpt.save_model_dir(c.run_dir, "warmup", model, tokenizer, metadata)
    seed_everything(c.seed)  # RL starts from the same random state whether or not the warm-up was reused
    return out


def build_models(config: TrainConfig, rl_start: Path, resume_from: Path | None, device: torch.device) -> tuple:
    """The policy (full or LoRA, from the checkpoint when resuming), the frozen reference, the critic."""
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
    critic = None
    if ADV_ESTIMATORS[config.adv_estimator].needs_critic:
        critic = load_critic(resume_from / "critic" if resume_from else rl_start, config, device)
    return policy, reference, critic


def apply_new_learning_rates(
    config: TrainConfig,
    optimizer: torch.optim.Optimizer,
    scheduler: object,
    critic_optimizer: torch.optim.Optimizer | None,
) -> None:
    """A restored optimizer carries the old learning rate and weight decay: set the configured ones (equal
    unless allow_config_change let them differ), keeping the schedule's position."""
    scheduler.base_lrs = [config.actor_lr for _ in scheduler.base_lrs]
    factor = min(1.0, scheduler.last_epoch / max(config.lr_warmup_steps, 1)) if config.lr_warmup_steps else 1.0
    for group in optimizer.param_groups:
        group["lr"], group["weight_decay"] = config.actor_lr * factor, config.weight_decay
    for group in critic_optimizer.param_groups if critic_optimizer is not None else []:
        group["lr"], group["weight_decay"] = config.critic_lr, config.weight_decay


def setup_run(config: TrainConfig, *, impl: Impl, log: Callable[[str], None]) -> Run:
    """Everything before the first RL step, in the order that keeps resume exact (module docstring)."""
    device = resolve_device(config.device)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    seed_everything(config.seed)
    run_dir = config.run_dir
    resume_from = resolve_resume(config, log)
    if resume_from:
        check_resume_config(config, resume_from, log)
    removed = ckpt.remove_partial(run_dir)
    if removed:
        log(f"[resume] removed leftovers of an interrupted save: {', '.join(removed)}")
    (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2), encoding="utf-8")

    task = load_task(
        config.task,
        config.data_dir,
        config.reward_fn,
        format_score=config.format_score,
        retriever_url=config.retriever_url,
        rewards_module=impl.rewards,
        bm25_module=impl.bm25,
        prepare_if_missing=config.data_dir == TrainConfig.data_dir,  # the default place only: never someone's data
        log=log,
    )
    if config.model_path == DEFAULT_TINY_MODEL and not Path(config.model_path).is_dir():
        from .tiny_model import build

        log(f"[model] building the tiny model into {config.model_path}")
        build(config.model_path)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(config.model_path)
    prompt_ids = prompt_encoder(tokenizer)
    too_long = [r for r in task.train_rows + task.test_rows if len(prompt_ids(r)) > config.max_prompt_length]
    if too_long:
        raise ConfigError(
            f"{len(too_long)} prompts are longer than max_prompt_length={config.max_prompt_length} tokens: raise it"
        )
    rl_start = warmup_stage(config, task, tokenizer, prompt_ids=prompt_ids, impl=impl, device=device, log=log)

    amp = lambda: amp_context(config, device)  # noqa: E731
    policy, reference, critic = build_models(config, rl_start, resume_from, device)
    critic_optimizer = None
    if critic is not None:
        critic_optimizer = torch.optim.AdamW(critic.parameters(), lr=config.critic_lr, weight_decay=config.weight_decay)
    trainable = [p for p in policy.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.actor_lr, weight_decay=config.weight_decay)
    warmup = max(config.lr_warmup_steps, 1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup))
    kl_ctrl = (
        AdaptiveKLController(config.kl_coef, config.kl_target, config.kl_horizon)
        if config.kl_ctrl == "adaptive"
        else FixedKLController(config.kl_coef)
    )
    eos_ids = eos_token_ids(policy, tokenizer)
    backend = make_backend(config, policy, tokenizer, task.protocol, amp=amp, log=log)
    state = TrainingState()
    if resume_from:
        state = TrainingState.from_dict(ckpt.load_into(resume_from, optimizer, scheduler, critic_optimizer))
        apply_new_learning_rates(config, optimizer, scheduler, critic_optimizer)
        kl_ctrl.value = state.kl_coef if state.kl_coef is not None else kl_ctrl.value
        log(
            f"[resume] restored {resume_from}: global_step {state.global_step}, best_accuracy "
            f"{state.best_accuracy:.3f} ({state.best_model_path}), evals_without_improvement "
            f"{state.evals_without_improvement}; optimizer ({len(optimizer.state)} parameter states), scheduler "
            f"(lr {scheduler.get_last_lr()[0]:.2e}), RNG (python, numpy, torch{', cuda' if torch.cuda.is_available() else ''})"
        )
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    eval_rows = task.test_rows[: config.eval_max_samples] if config.eval_max_samples else task.test_rows
    return Run(
        config=config,
        impl=impl,
        log=log,
        device=device,
        amp=amp,
        task=task,
        tokenizer=tokenizer,
        pad_id=pad_id,
        eval_rows=eval_rows,
        policy=policy,
        reference=reference,
        critic=critic,
        optimizer=optimizer,
        scheduler=scheduler,
        critic_optimizer=critic_optimizer,
        kl_ctrl=kl_ctrl,
        policy_loss=POLICY_LOSSES[config.policy_loss](config, impl),
        backend=backend,
        eos_ids=eos_ids,
        state=state,
        resumed_from=resume_from,
        prompt_ids=prompt_ids,
    )
