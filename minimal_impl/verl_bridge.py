# Chapter 07 notes: learning_notes/07_scaling/README.md#the-verl-bridge
"""The verl bridge: our presets, data and rewards, trained by verl 0.9.1 (Ray + FSDP + vLLM).

    python -m minimal_impl.verl_bridge --preset qwen2.5-0.5b_gsm8k --dry-run    # print verl's command
    python -m minimal_impl.verl_bridge --preset qwen2.5-0.5b_gsm8k --n-gpus 8   # and run it

`TrainConfig` names its fields as verl does, so the bridge is mostly renaming: `verl_overrides` turns a
config into Hydra `key=value` overrides of verl's `ppo_trainer.yaml`; the parquet files of chapter 02
are already in verl's format; `verl_reward.py` scores responses with our `rewards.py`. What verl's
`main_ppo` does not have, the bridge does not fake, it says so (`untranslated`):

- multi-turn search: verl runs tools through its agent loop (`actor_rollout_ref.rollout.multi_turn.*`,
  `actor_rollout_ref.rollout.agent.default_agent_loop=tool_agent`, a tool class in a tool config file,
  tool calls in the hermes `<tool_call>` format rather than Search-R1's tags). For a search task the
  bridge emits single-turn overrides: the model answers closed-book, no retrieval.
- the warm-up stage (`warmup_sft_steps`): verl starts RL from `model_path`.
- `filter_zero_variance_groups` (verl keeps those groups; their advantages are 0 either way),
  `clip_ratio_c=0` (verl's dual clip is always on, at 3.0 unless set) and `dtype` (verl always trains
  in bf16 mixed precision, like our `dtype=bfloat16`).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shlex
import sys
from pathlib import Path

from .config import ConfigError, TrainConfig, build_config

REWARD_FILE = Path(__file__).resolve().parent / "verl_reward.py"
# our adv_estimator names are values of verl's AdvantageEstimator enum (verl/trainer/ppo/core_algos.py)
ADV_ESTIMATORS = {"grpo": "grpo", "rloo": "rloo", "gae": "gae"}
MULTI_TURN_KEYS = (
    "actor_rollout_ref.rollout.multi_turn.enable=true",
    "actor_rollout_ref.rollout.multi_turn.tool_config_path=<a YAML naming a search tool class>",
    "actor_rollout_ref.rollout.multi_turn.max_assistant_turns=<max_turns + 1>",
    "actor_rollout_ref.rollout.agent.default_agent_loop=tool_agent",
)


def _value(value: object) -> str:
    """A Python value as Hydra's override grammar reads it; odd strings (spaces, commas) are quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = str(value)
    if isinstance(value, str) and not re.fullmatch(r"[\w./:@+~-]+", text):
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return text


def _local_path(path: str) -> str:
    """Absolute path for a local file or directory (Ray workers need not share our cwd); hub names unchanged."""
    if os.path.exists(path) or path.startswith((".", "/", "~")):
        return str(Path(path).expanduser().resolve())
    return path


def data_files(config: TrainConfig) -> tuple[Path, Path]:
    """The train and test parquet files of the config's task (chapter 02's `prepare` writes them)."""
    from .tasks import DATASET_OF

    folder = Path(config.data_dir) / DATASET_OF[config.task]
    return folder / "train.parquet", folder / "test.parquet"


def verl_overrides(config: TrainConfig, n_gpus: int = 1) -> list[str]:
    """Hydra overrides of verl's `ppo_trainer` config that train what `config` describes.

    Args:
        config: a validated TrainConfig (`build_config`).
        n_gpus: GPUs on the one node (`trainer.n_gpus_per_node`).

    Returns:
        `key=value` strings for `python -m verl.trainer.main_ppo`. Only keys of verl 0.9.1's schema,
        except `+reward.custom_reward_function.reward_kwargs.*` (the `+` adds a key that verl's
        `get_custom_reward_fn` reads), emitted only when the reward is not the task's default.

    Raises:
        ValueError: n_gpus < 1, or a mini-batch that cannot be split evenly over n_gpus.
    """
    if n_gpus < 1:
        raise ValueError(f"n_gpus must be >= 1, got {n_gpus}")
    mini_sequences = config.ppo_mini_batch_size * config.rollout_n
    if mini_sequences % n_gpus:  # verl splits every mini-batch evenly over the data-parallel ranks
        raise ValueError(f"ppo_mini_batch_size x rollout_n ({mini_sequences}) must be a multiple of n_gpus ({n_gpus})")
    train, test = data_files(config)
    micro = config.ppo_micro_batch_size  # ours is per forward pass on one device: verl's "per GPU"
    o: dict[str, object] = {
        "algorithm.adv_estimator": ADV_ESTIMATORS[config.adv_estimator],
        "algorithm.norm_adv_by_std_in_grpo": config.norm_adv_by_std,
        "algorithm.gamma": config.gamma,
        "algorithm.lam": config.lam,
        "algorithm.use_kl_in_reward": config.use_kl_in_reward,
        "data.train_files": str(train.resolve()),
        "data.val_files": str(test.resolve()),
        "data.train_batch_size": config.train_batch_size,  # prompts per step, as ours
        "data.max_prompt_length": config.max_prompt_length,
        "data.max_response_length": config.max_new_tokens,  # one turn: the whole response
        "data.val_max_samples": config.eval_max_samples or -1,
        "actor_rollout_ref.model.path": _local_path(config.model_path),
        "actor_rollout_ref.model.enable_gradient_checkpointing": config.gradient_checkpointing,
        "actor_rollout_ref.actor.ppo_mini_batch_size": config.ppo_mini_batch_size,  # prompts; verl multiplies by n
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu": micro,
        "actor_rollout_ref.actor.ppo_epochs": config.ppo_epochs,
        "actor_rollout_ref.actor.clip_ratio_low": config.clip_ratio_low,
        "actor_rollout_ref.actor.clip_ratio_high": config.clip_ratio_high,
        "actor_rollout_ref.actor.loss_agg_mode": config.loss_agg_mode,
        "actor_rollout_ref.actor.entropy_coeff": config.entropy_coeff,
        "actor_rollout_ref.actor.use_kl_loss": config.use_kl_loss,
        "actor_rollout_ref.actor.optim.lr": config.actor_lr,
        "actor_rollout_ref.actor.optim.lr_warmup_steps": config.lr_warmup_steps,
        "actor_rollout_ref.actor.optim.weight_decay": config.weight_decay,
        "actor_rollout_ref.actor.optim.clip_grad": config.max_grad_norm,
        "actor_rollout_ref.rollout.name": "vllm",
        "actor_rollout_ref.rollout.tensor_model_parallel_size": 1,  # verl's default 2 needs two GPUs per replica
        "actor_rollout_ref.rollout.n": config.rollout_n,
        "actor_rollout_ref.rollout.temperature": config.temperature,
        "actor_rollout_ref.rollout.top_p": config.top_p,
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu": micro,
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu": micro,
        "critic.enable": config.adv_estimator == "gae",
        "reward.custom_reward_function.path": str(REWARD_FILE),
        "reward.custom_reward_function.name": "compute_score",
        "trainer.nnodes": 1,
        "trainer.n_gpus_per_node": n_gpus,
        "trainer.total_training_steps": config.total_steps,
        "trainer.test_freq": config.eval_steps,
        "trainer.save_freq": config.save_steps,
        "trainer.max_actor_ckpt_to_keep": config.save_total_limit or None,
        "trainer.val_before_train": config.run_baseline_eval,
        "trainer.project_name": "agentic-rl-from-scratch",
        "trainer.experiment_name": config.run_name,
        "trainer.default_local_dir": str(config.run_dir.resolve()),
    }
    if config.resume in ("", "auto"):  # ours starts fresh unless told; verl's default is auto
        o["trainer.resume_mode"] = "auto" if config.resume else "disable"
    else:
        o["trainer.resume_mode"] = "resume_path"
        o["trainer.resume_from_path"] = _local_path(config.resume)
    if config.use_kl_loss:
        o["actor_rollout_ref.actor.kl_loss_coef"] = config.kl_loss_coef
        o["actor_rollout_ref.actor.kl_loss_type"] = config.kl_loss_type  # k1/k2/k3/abs(+) are verl's names too
    if config.use_kl_in_reward:
        o["algorithm.kl_penalty"] = config.kl_penalty
        o["algorithm.kl_ctrl.type"] = config.kl_ctrl
        o["algorithm.kl_ctrl.kl_coef"] = config.kl_coef
        o["algorithm.kl_ctrl.target_kl"] = config.kl_target
        o["algorithm.kl_ctrl.horizon"] = config.kl_horizon
    if config.clip_ratio_c:
        o["actor_rollout_ref.actor.clip_ratio_c"] = config.clip_ratio_c
    if config.lora_rank:
        o["actor_rollout_ref.model.lora_rank"] = config.lora_rank
        o["actor_rollout_ref.model.lora_alpha"] = 2 * config.lora_rank  # as our train.add_lora
        o["actor_rollout_ref.model.target_modules"] = "all-linear"
    if config.adv_estimator == "gae":
        o["critic.model.path"] = _local_path(config.model_path)  # the critic starts from the policy, as ours
        o["critic.model.enable_gradient_checkpointing"] = config.gradient_checkpointing
        o["critic.optim.lr"] = config.critic_lr
        o["critic.ppo_micro_batch_size_per_gpu"] = micro
        o["critic.cliprange_value"] = config.cliprange_value
    default_reward = "em" if config.is_search_task else "gsm8k_strict"  # verl_reward.default_reward_fn
    if config.reward_fn != default_reward or config.format_score:
        o["+reward.custom_reward_function.reward_kwargs.reward_fn"] = config.reward_fn
        o["+reward.custom_reward_function.reward_kwargs.format_score"] = config.format_score
    logger = "[console,wandb]" if config.use_wandb else "[console]"
    return [f"{key}={_value(value)}" for key, value in o.items()] + [f"trainer.logger={logger}"]


def untranslated(config: TrainConfig) -> list[str]:
    """What of `config` verl's `main_ppo` will not do, one line each (printed before the command)."""
    notes = []
    if config.is_search_task:
        notes.append(
            f"task {config.task} is multi-turn search in our trainer; these overrides train it single-turn "
            "(closed-book, no retrieval). verl runs tools through its agent loop: "
            + " ".join(MULTI_TURN_KEYS)
            + " (tool calls in the hermes format, not Search-R1's tags). The bridge does not write that config."
        )
    if config.warmup_sft_steps:
        notes.append(
            f"warmup_sft_steps={config.warmup_sft_steps}: verl has no warm-up stage and starts RL from model_path; "
            "warm up with our trainer first and point model_path=<its checkpoint> here."
        )
    return notes


def command(overrides: list[str]) -> list[str]:
    """The verl command line (argv) for these overrides."""
    return [sys.executable, "-m", "verl.trainer.main_ppo", *overrides]


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", help="a preset name (minimal_impl/presets/) or a YAML path")
    parser.add_argument("--resume", help="auto (newest verl checkpoint of the run) or a checkpoint path")
    parser.add_argument("--dry-run", action="store_true", help="print verl's command, do not run it")
    parser.add_argument("--n-gpus", type=int, default=None, help="GPUs to use (default: every visible GPU)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides of our config, applied after the preset")
    args = parser.parse_args(argv)
    try:
        config = build_config(args.preset, args.overrides + ([f"resume={args.resume}"] if args.resume else []))
        n_gpus = args.n_gpus or max(_gpu_count(), 1)
        overrides = verl_overrides(config, n_gpus)
    except (ConfigError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    train, _ = data_files(config)
    if not train.is_file():
        from . import data
        from .tasks import DATASET_OF

        try:
            data.prepare(DATASET_OF[config.task], train.parent)
            print(f"prepared {DATASET_OF[config.task]} into {train.parent}")
        except RuntimeError as err:  # a hub dataset while offline
            if not args.dry_run:
                print(f"error: {err}", file=sys.stderr)
                return 2
            print(f"note: data not prepared ({err})")

    for note in untranslated(config):
        print(f"note: {note}")
    argv_verl = command(overrides)
    print(shlex.join(argv_verl[:3]), *(shlex.quote(part) for part in argv_verl[3:]), sep=" \\\n    ")
    if args.dry_run:
        return 0

    missing = [name for name in ("verl", "hydra", "ray") if importlib.util.find_spec(name) is None]
    if missing:
        hint = "install verl with its GPU stack: pip install 'verl[vllm]==0.9.1'"
        print(f"error: {', '.join(missing)} not importable; {hint}", file=sys.stderr)
        return 2
    if _gpu_count() < n_gpus:
        found = _gpu_count()
        print(f"error: verl needs {n_gpus} CUDA GPU(s), found {found} (--dry-run prints the command)", file=sys.stderr)
        return 2
    sys.stdout.flush()
    os.execv(argv_verl[0], argv_verl)  # verl takes over this process: its logs, its exit code, Ctrl-C
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
