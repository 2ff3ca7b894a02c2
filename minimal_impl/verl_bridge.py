# Chapter 07 notes: learning_notes/07_scaling/README.md#the-verl-bridge
"""The verl bridge: our presets, data, rewards and search tool, trained by verl 0.9.1 (Ray + FSDP + vLLM).

    python -m minimal_impl.verl_bridge --preset qwen2.5-0.5b_gsm8k --dry-run      # print verl's command
    python -m minimal_impl.verl_bridge --preset qwen2.5-0.5b_nq_search --dry-run  # the search agent, multi-turn
    python -m minimal_impl.verl_bridge --preset qwen2.5-0.5b_gsm8k --n-gpus 8     # and run it

`TrainConfig` names its fields as verl does, so the bridge is mostly renaming: `verl_overrides` turns a
config into Hydra `key=value` overrides of verl's `ppo_trainer.yaml`; the parquet files of chapter 02
are already in verl's format; `verl_reward.py` scores responses with our `rewards.py`.

A search task runs multi-turn through verl's agent loop: `agent_loop_files` writes the two YAML files
verl reads (the tool config naming `verl_search_tool.SearchTool`, and the agent-loop config naming
`verl_agent_loop.SearchR1AgentLoop`), and the overrides switch `actor_rollout_ref.rollout.multi_turn` on
with our tag parser (`format=search_r1`) and our turn and length budgets. `--agent-loop tool_agent`
uses verl's stock `ToolAgentLoop` instead, with the differences the notes list (chat-template-wrapped
tool responses, no stop at `</search>`, character truncation).

What verl's `main_ppo` does not have, the bridge does not fake, it says so (`untranslated`): the warm-up
stage (`warmup_sft_steps`: verl starts RL from `model_path`), `filter_zero_variance_groups` (verl keeps
those groups; their advantages are 0 either way), `clip_ratio_c=0` (verl's dual clip is always on, at 3.0
unless set) and `dtype` (verl always trains in bf16 mixed precision, like our `dtype=bfloat16`).
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
ROOT = REWARD_FILE.parent.parent  # the repository: verl's Ray workers import minimal_impl from here (PYTHONPATH)

# the names verl's agent loop looks up; verl_search_tool.py and verl_agent_loop.py register under them
TOOL_NAME = "search"  # the function name of the tool call, the key of verl's tool registry
TOOL_CLASS = "minimal_impl.verl_search_tool.SearchTool"
PARSER_NAME = "search_r1"  # actor_rollout_ref.rollout.multi_turn.format
AGENT_LOOP_NAME = "search_r1_agent"  # actor_rollout_ref.rollout.agent.default_agent_loop
AGENT_LOOP_CLASS = "minimal_impl.verl_agent_loop.SearchR1AgentLoop"
AGENT_LOOPS = {"search_r1": AGENT_LOOP_NAME, "tool_agent": "tool_agent"}  # --agent-loop -> verl's registry name
EPISODE_KEY = "search_r1_episode"  # SearchR1AgentLoop's extra_fields entry, which verl hands to compute_score
CHARS_PER_TOKEN = 4  # stock tool_agent truncates tool text in characters: an English-text guess, not a measurement
TOOL_DESCRIPTION = "Search the corpus and return the top passages"


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


def agent_dir(config: TrainConfig) -> Path:
    """Where the YAML files of verl's agent loop go for a run: `<run_dir>/verl/` (absolute, for Ray workers)."""
    return (config.run_dir / "verl").resolve()


def tool_schema() -> dict:
    """The OpenAI function schema of the search tool (verl's `OpenAIFunctionToolSchema` validates it).

    Our prompts explain the tags, so `search_r1_agent` never shows this schema to the model; verl's stock
    `tool_agent` renders it into the prompt through the chat template (Qwen2.5: a `<tools>` system block).
    """
    query = {"type": "string", "description": "what to look up"}
    parameters = {"type": "object", "properties": {"query": query}, "required": ["query"]}
    return {
        "type": "function",
        "function": {"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "parameters": parameters},
    }


def tool_config(config: TrainConfig) -> dict:
    """verl's tool config (`multi_turn.tool_config_path`): `SearchTool` over the retriever our trainer uses.

    `retriever_url` set: the retrieval service (chapter 05); else in-process BM25 over the task's corpus.

    Raises:
        ValueError: a task without a corpus file (NQ with wiki-18) and no `retriever_url`.
    """
    from .tasks import DATASET_OF

    if not config.retriever_url and config.task == "nq-search":
        raise ValueError("task nq-search searches wiki-18 through a retrieval service: set retriever_url (chapter 05)")
    corpus = Path(config.data_dir) / DATASET_OF[config.task] / "corpus.jsonl"  # chapter 02's prepare writes it
    settings = {"type": "native", "retriever_url": config.retriever_url}
    settings.update(corpus_path="" if config.retriever_url else str(corpus.resolve()), topk=config.retriever_topk)
    return {"tools": [{"class_name": TOOL_CLASS, "config": settings, "tool_schema": tool_schema()}]}


def agent_loop_config(config: TrainConfig) -> list[dict]:
    """verl's agent-loop config (`agent.agent_loop_config_path`): the name, the class, and its keyword
    arguments (hydra passes every other key to `SearchR1AgentLoop.__init__`)."""
    entry = {"name": AGENT_LOOP_NAME, "_target_": AGENT_LOOP_CLASS}
    entry.update(max_new_tokens=config.max_new_tokens, max_obs_tokens=config.max_obs_tokens)
    return [entry]


def agent_loop_files(config: TrainConfig, agent_loop: str = "search_r1") -> dict[Path, str]:
    """The YAML files a search task needs, path -> text (empty for a single-turn task); `main` writes them."""
    if agent_loop not in AGENT_LOOPS:
        raise ValueError(f"agent_loop={agent_loop!r}: expected one of {', '.join(AGENT_LOOPS)}")
    if not config.is_search_task:
        return {}
    import yaml

    def dump(value: object) -> str:
        return yaml.safe_dump(value, sort_keys=False, width=1000)  # one line per value, keys in our order

    files = {agent_dir(config) / "search_tool.yaml": dump(tool_config(config))}
    if agent_loop == "search_r1":
        files[agent_dir(config) / "agent_loop.yaml"] = dump(agent_loop_config(config))
    return files


def multi_turn_overrides(config: TrainConfig, agent_loop: str = "search_r1") -> dict[str, object]:
    """The `actor_rollout_ref.rollout.multi_turn` / `.agent` settings of a search task (notes: the mapping)."""
    files = list(agent_loop_files(config, agent_loop))
    mt = "actor_rollout_ref.rollout.multi_turn."
    o: dict[str, object] = {
        mt + "enable": True,
        mt + "tool_config_path": str(files[0]),
        mt + "format": PARSER_NAME,
        mt + "max_assistant_turns": config.max_turns + 1,  # our max_turns searching turns + the answer-only one
        mt + "max_user_turns": config.max_turns,  # observations: information blocks and invalid-action messages
        mt + "max_parallel_calls": 1,  # a turn holds one action
        "actor_rollout_ref.rollout.agent.default_agent_loop": AGENT_LOOPS[agent_loop],
    }
    if agent_loop == "search_r1":
        o["actor_rollout_ref.rollout.agent.agent_loop_config_path"] = str(files[1])
    else:  # stock ToolAgentLoop cuts tool text in characters, keeping the head with right
        o[mt + "max_tool_response_length"] = config.max_obs_tokens * CHARS_PER_TOKEN
        o[mt + "tool_response_truncate_side"] = "right"
    return o


def verl_overrides(config: TrainConfig, n_gpus: int = 1, agent_loop: str = "search_r1") -> list[str]:
    """Hydra overrides of verl's `ppo_trainer` config that train what `config` describes.

    Args:
        config: a validated TrainConfig (`build_config`).
        n_gpus: GPUs on the one node (`trainer.n_gpus_per_node`).
        agent_loop: search tasks only: "search_r1" (our `SearchR1AgentLoop`, the episode our trainer
            builds) or "tool_agent" (verl's stock `ToolAgentLoop`).

    Returns:
        `key=value` strings for `python -m verl.trainer.main_ppo`. Only keys of verl 0.9.1's schema,
        except `+reward.custom_reward_function.reward_kwargs.*` (the `+` adds a key that verl's
        `get_custom_reward_fn` reads), emitted only when the reward is not the task's default.

    Raises:
        ValueError: n_gpus < 1, a mini-batch that cannot be split evenly over n_gpus, an unknown
            agent_loop, or NQ search without a retrieval service.
    """
    if n_gpus < 1:
        raise ValueError(f"n_gpus must be >= 1, got {n_gpus}")
    if agent_loop not in AGENT_LOOPS:
        raise ValueError(f"agent_loop={agent_loop!r}: expected one of {', '.join(AGENT_LOOPS)}")
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
        "data.max_response_length": config.max_response_tokens,  # verl's budget is the whole episode
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
    if config.is_search_task:
        o.update(multi_turn_overrides(config, agent_loop))
    default_reward = "em" if config.is_search_task else "gsm8k_strict"  # verl_reward.default_reward_fn
    if config.reward_fn != default_reward or config.format_score:
        o["+reward.custom_reward_function.reward_kwargs.reward_fn"] = config.reward_fn
        o["+reward.custom_reward_function.reward_kwargs.format_score"] = config.format_score
    logger = "[console,wandb]" if config.use_wandb else "[console]"
    return [f"{key}={_value(value)}" for key, value in o.items()] + [f"trainer.logger={logger}"]


def untranslated(config: TrainConfig, agent_loop: str = "search_r1") -> list[str]:
    """What of `config` verl will do differently or not at all, one line each (printed before the command)."""
    notes = []
    if config.is_search_task and agent_loop == "search_r1":
        notes.append(
            f"task {config.task} runs multi-turn through verl's agent loop {AGENT_LOOP_NAME!r} (our "
            "SearchR1AgentLoop): our prompt, tags, turn and observation budgets and loss mask. verl logs "
            "num_turns as 1 + assistant turns + tool turns (ours: model turns) and sends each search to the "
            "retriever alone (ours: one batch per turn; same documents)."
        )
    elif config.is_search_task:
        notes.append(
            f"task {config.task} on verl's stock ToolAgentLoop: tool responses are wrapped in the chat template "
            "(a tool turn, not our raw <information> block), generation stops at </search> only if it is one "
            f"token, the tool text is cut at {config.max_obs_tokens * CHARS_PER_TOKEN} characters "
            f"(max_obs_tokens x {CHARS_PER_TOKEN}, '...(truncated)' appended), an invalid turn ends the episode "
            "(ours: the invalid-action message and another turn), the prompt carries the tool schema when the "
            "chat template renders tools. Curves are not comparable with ours; --agent-loop search_r1 is."
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


def worker_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment verl runs in: the repository root first on PYTHONPATH, so that the Ray workers
    (which inherit it on this node) can import `minimal_impl.verl_search_tool` and `verl_agent_loop`."""
    env = dict(os.environ if environ is None else environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def write_agent_loop_files(config: TrainConfig, agent_loop: str) -> list[Path]:
    """Write `agent_loop_files` (creating `<run_dir>/verl/`), print each file, return the paths."""
    written = []
    for path, text in agent_loop_files(config, agent_loop).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}:\n" + "".join(f"    {line}\n" for line in text.splitlines()), end="")
        written.append(path)
    return written


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", help="a preset name (minimal_impl/presets/) or a YAML path")
    parser.add_argument("--resume", help="auto (newest verl checkpoint of the run) or a checkpoint path")
    parser.add_argument("--dry-run", action="store_true", help="print verl's command, do not run it")
    parser.add_argument("--n-gpus", type=int, default=None, help="GPUs to use (default: every visible GPU)")
    parser.add_argument(
        "--agent-loop",
        choices=sorted(AGENT_LOOPS),
        default="search_r1",
        help="search tasks: search_r1 (our episode on verl's loop, default) or tool_agent (verl's stock loop)",
    )
    parser.add_argument("overrides", nargs="*", help="key=value overrides of our config, applied after the preset")
    args = parser.parse_args(argv)
    try:
        config = build_config(args.preset, args.overrides + ([f"resume={args.resume}"] if args.resume else []))
        n_gpus = args.n_gpus or max(_gpu_count(), 1)
        overrides = verl_overrides(config, n_gpus, args.agent_loop)
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

    for note in untranslated(config, args.agent_loop):
        print(f"note: {note}")
    env_prefix = ""
    if write_agent_loop_files(config, args.agent_loop):  # verl's workers import our tool and loop by name
        env_prefix = f"PYTHONPATH={shlex.quote(worker_env({})['PYTHONPATH'])} "
    argv_verl = command(overrides)
    print(env_prefix + shlex.join(argv_verl[:3]), *(shlex.quote(part) for part in argv_verl[3:]), sep=" \\\n    ")
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
    os.execve(argv_verl[0], argv_verl, worker_env())  # verl takes over this process: its logs, its exit code, Ctrl-C
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
