# Chapter 06 notes: learning_notes/06_training_engineering/README.md#configuration
"""The training configuration: one dataclass, a docstring per field, presets as small YAML files.

    python -m minimal_impl.train --preset tiny_sample_nq total_steps=40 rollout_n=4 adv_estimator=rloo

A preset (`minimal_impl/presets/NAME.yaml`) sets some fields; `key=value` overrides come last. Values are
parsed by the field's type (`true`/`false`, numbers, `null`). An unknown key, a bad value or an
inconsistent combination is an error that says what to fix, before anything runs. Field names follow
verl's where verl has one (`train_batch_size`, `rollout_n`, `ppo_mini_batch_size`, `kl_loss_coef`, ...).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import json
import math
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path

from .estimators import ADV_ESTIMATORS, POLICY_LOSSES
from .rewards import REWARD_FNS

PRESET_DIR = Path(__file__).resolve().parent / "presets"
TASKS = ("sample-nq-search", "sample-gsm8k", "nq-search", "gsm8k")


@dataclass
class TrainConfig:
    """Every knob of a training run (see the chapter 06 notes for what each one does to the curves)."""

    # ---- run
    task: str = "sample-nq-search"
    """sample-nq-search | sample-gsm8k (offline sets of chapter 02) | nq-search | gsm8k (hub data)"""
    model_path: str = ".build/tiny_model"
    """a local directory or hub name; `.build/tiny_model` is built on first use if missing"""
    data_dir: str = "data/prepared"
    """prepared data lives in data_dir/<dataset>/ (prepared on first use)"""
    output_dir: str = "runs"
    """runs are written to output_dir/run_name/"""
    run_name: str = "tiny_sample_nq"
    """name of this run's directory"""
    seed: int = 0
    """seeds data order, sampling and initialisation"""
    device: str = "auto"
    """auto (cuda if available, else cpu) | cpu | cuda"""
    dtype: str = "float32"
    """float32 | bfloat16: bf16 autocast for the matrix products, float32 weights and optimizer (mixed precision)"""
    num_threads: int = 0
    """torch CPU threads; 0 keeps torch's default"""
    impl: str = "minimal_impl"
    """package the algorithms come from: minimal_impl (ours) or your own (`--impl my_solutions`, the module names of `pytest --impl`)"""
    allow_failing_checks: bool = False
    """train even when the checks of `impl` fail (watch a bug break learning); exercises not implemented use ours"""
    allow_config_change: bool = False
    """resume with values that differ from the checkpoint's configuration (each change is logged)"""

    # ---- warm-up (stage 0, optional)
    warmup_sft_steps: int = 0
    """supervised steps on demonstrations before RL (0 = none); see the notes' cold-start section"""
    warmup_search_fraction: float = 0.3
    """share of demonstrations that search before answering; the rest answer from memory"""
    warmup_batch_size: int = 32
    """demonstrations per supervised step"""
    warmup_lr: float = 3e-3
    """learning rate of the warm-up"""

    # ---- rollout
    rollout_backend: str = "hf"
    """hf (Hugging Face generate) | vllm (GPU, colocated; falls back to hf with a message when unavailable)"""
    vllm_gpu_memory_utilization: float = 0.3
    """share of the whole GPU vLLM reserves for its weights and KV cache (rollout_backend=vllm)"""
    train_batch_size: int = 8
    """prompts per RL step"""
    rollout_n: int = 8
    """responses sampled per prompt (the GRPO/RLOO group)"""
    temperature: float = 1.0
    """sampling temperature of the rollout (evaluation is greedy)"""
    top_p: float = 1.0
    """nucleus sampling threshold"""
    max_prompt_length: int = 512
    """prompts longer than this (in tokens) are an error at start-up"""
    max_new_tokens: int = 32
    """tokens per model turn"""
    max_turns: int = 2
    """turns whose search is executed; one more turn follows in which only an answer counts"""
    max_obs_tokens: int = 200
    """tokens per information block (the head is kept)"""
    retriever_topk: int = 2
    """passages per search"""
    retriever_url: str = ""
    """empty: in-process BM25 over the task's corpus; else a retrieval service URL (chapter 05)"""
    mask_tool_output: bool = True
    """False trains on the retrieved tokens too (to see why masking matters)"""

    # ---- reward
    reward_fn: str = "em"
    """em | em_format (Search-R1's format-shaped EM) for search tasks; gsm8k tasks use gsm8k_strict or gsm8k_flexible"""
    format_score: float = 0.0
    """reward for a well-formed but wrong answer (em_format, gsm8k)"""

    # ---- algorithm
    adv_estimator: str = "grpo"
    """grpo | rloo | gae (PPO with a critic): a name in estimators.ADV_ESTIMATORS"""
    policy_loss: str = "vanilla"
    """vanilla (PPO's clipped surrogate) | gspo | cispo | gmpo (chapter 08): a name in estimators.POLICY_LOSSES"""
    rollout_correction: str = "off"
    """off | token | sequence: weight the policy loss by pi_old / pi_rollout (TIS or IcePop, chapter 08)"""
    rollout_is_threshold: str = "2.0"
    """a number C (TIS: weights truncated at C) or low_high such as 0.5_2.0 (IcePop: weights outside masked)"""
    overlong_buffer_len: int = 0
    """DAPO's soft overlong penalty over the last this many model tokens of the budget (0 = off, chapter 08)"""
    overlong_penalty_factor: float = 1.0
    """the penalty at the end of the budget (it grows linearly over the buffer)"""
    norm_adv_by_std: bool = True
    """GRPO divides by the group's std; False is Dr.GRPO"""
    filter_zero_variance_groups: bool = True
    """drop groups whose responses all got the same reward (their advantages are all 0)"""
    ppo_mini_batch_size: int = 4
    """prompts per optimizer step (times rollout_n sequences)"""
    ppo_micro_batch_size: int = 16
    """sequences per forward/backward pass (gradient accumulation); memory only, not the math"""
    ppo_epochs: int = 1
    """passes over the step's batch"""
    clip_ratio_low: float = 0.2
    """PPO clip: ratio >= 1 - clip_ratio_low"""
    clip_ratio_high: float = 0.2
    """PPO clip: ratio <= 1 + clip_ratio_high (DAPO's clip-higher uses 0.28)"""
    clip_ratio_c: float = 0.0
    """dual-clip constant for A < 0 (0 = off; verl uses 3.0)"""
    loss_agg_mode: str = "token-mean"
    """token-mean | seq-mean-token-sum | seq-mean-token-mean | seq-mean-token-sum-norm"""
    entropy_coeff: float = 0.0
    """entropy bonus coefficient (0 = off)"""
    use_kl_loss: bool = True
    """KL to the reference as a loss term (GRPO style)"""
    kl_loss_coef: float = 0.001
    """its coefficient"""
    kl_loss_type: str = "k3"
    """k1 | k2 | k3 | abs (with an optional '+': value of the kind, gradient of k2)"""
    use_kl_in_reward: bool = False
    """KL penalty in the token rewards (InstructGPT/PPO style)"""
    kl_penalty: str = "k1"
    """estimator of the in-reward KL"""
    kl_ctrl: str = "fixed"
    """fixed | adaptive controller of the in-reward KL coefficient"""
    kl_coef: float = 0.001
    """initial in-reward KL coefficient"""
    kl_target: float = 0.1
    """adaptive controller: target KL"""
    kl_horizon: int = 10000
    """adaptive controller: horizon"""
    gamma: float = 1.0
    """GAE discount"""
    lam: float = 1.0
    """GAE lambda"""
    cliprange_value: float = 0.5
    """value clipping range of the critic loss"""

    # ---- optimisation
    actor_lr: float = 2e-3
    """AdamW learning rate of the policy"""
    critic_lr: float = 2e-3
    """AdamW learning rate of the critic (PPO)"""
    weight_decay: float = 0.0
    """AdamW weight decay"""
    lr_warmup_steps: int = 0
    """linear learning-rate warm-up, in optimizer steps"""
    max_grad_norm: float = 1.0
    """gradient clipping by global norm"""
    max_skipped_steps_in_a_row: int = 3
    """stop the run after this many optimizer steps in a row were skipped (non-finite gradient norm)"""
    gradient_checkpointing: bool = False
    """recompute activations in backward (GPU memory saver)"""
    lora_rank: int = 0
    """LoRA rank through peft (0 = full fine-tuning)"""

    # ---- schedule, evaluation, checkpoints
    total_steps: int = 60
    """RL steps"""
    eval_steps: int = 10
    """evaluate every this many steps (and at the end)"""
    eval_max_samples: int = 0
    """test prompts per evaluation (0 = all)"""
    run_baseline_eval: bool = True
    """evaluate the starting model first; False reuses baseline_eval.json if it exists"""
    save_steps: int = 10
    """checkpoint every this many steps (and at the end)"""
    save_total_limit: int = 2
    """keep the newest K checkpoint-N directories (best_model/ is kept apart)"""
    early_stopping_patience: int = 0
    """stop after this many evaluations without a new best accuracy (0 = never)"""
    target_accuracy: float = 0.0
    """stop as soon as an evaluation reaches this accuracy (0 = never)"""
    resume: str = ""
    """'' (start fresh; refuses to overwrite a run with checkpoints) | auto (newest complete checkpoint) | a checkpoint path"""

    # ---- logging
    verbose: bool = False
    """phase banners, group summaries and turn-by-turn advantage tables"""
    log_every: int = 1
    """console summary every this many steps"""
    use_wandb: bool = False
    """also log to Weights & Biases (needs `pip install wandb` and a login)"""
    save_rollouts: bool = False
    """at every evaluation, record a sample of episodes and write the rollout viewer's pages (RUN_DIR/rollouts/)"""
    viewer_groups: int = 2
    """training groups (rollout_n episodes each) the viewer records per evaluated step, with their token tensors"""
    viewer_eval_samples: int = 24
    """evaluation episodes the viewer records per evaluation (the first ones: the same questions every time)"""

    @property
    def is_search_task(self) -> bool:
        return self.task.endswith("nq-search")

    @property
    def max_model_tokens(self) -> int:
        """The most tokens the model can write in one episode (max_turns + 1 turns of max_new_tokens)."""
        return (self.max_turns + 1) * self.max_new_tokens if self.is_search_task else self.max_new_tokens

    @property
    def max_response_tokens(self) -> int:
        """The longest response an episode can have: every turn at max_new_tokens, every observation at
        max_obs_tokens (search tasks: max_turns + 1 turns, max_turns observations; otherwise one turn)."""
        if not self.is_search_task:
            return self.max_new_tokens
        return (self.max_turns + 1) * self.max_new_tokens + self.max_turns * self.max_obs_tokens

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.run_name

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


CHOICES = {
    "task": TASKS,
    "device": ("auto", "cpu", "cuda"),
    "dtype": ("float32", "bfloat16"),
    "rollout_backend": ("hf", "vllm"),
    "reward_fn": REWARD_FNS,
    "adv_estimator": tuple(ADV_ESTIMATORS),
    "policy_loss": tuple(POLICY_LOSSES),
    "rollout_correction": ("off", "token", "sequence"),
    "loss_agg_mode": ("token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm"),
    "kl_ctrl": ("fixed", "adaptive"),
}


class ConfigError(ValueError):
    """A configuration problem, with what to change."""


def field_docs() -> dict[str, str]:
    """Each field's docstring (the string literal under it in the class body)."""
    import inspect

    tree = ast.parse(inspect.getsource(TrainConfig))
    body = tree.body[0].body
    docs = {}
    for node, nxt in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
            docs[node.target.id] = str(nxt.value.value)
    return docs


def _field_type(name: str) -> type:
    hints = typing.get_type_hints(TrainConfig)
    kind = hints[name]
    if isinstance(kind, types.UnionType):
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    return kind


def parse_value(name: str, text: str) -> object:
    """Parse a `key=value` string by the field's type."""
    kind = _field_type(name)
    raw = text.strip()
    if kind is bool:
        if raw.lower() in ("true", "1", "yes", "on"):
            return True
        if raw.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{name}={text!r}: expected true or false")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name}={text!r}: expected an integer") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{name}={text!r}: expected a number") from None
    return raw


def _check_key(key: str) -> None:
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    if key not in names:
        close = difflib.get_close_matches(key, names, n=3)
        hint = (
            f"; did you mean {', '.join(close)}?"
            if close
            else "; `python -m minimal_impl.train --help-config` lists them"
        )
        raise ConfigError(f"unknown config key {key!r}{hint}")


def load_preset(name: str) -> dict:
    """The fields a preset sets: `minimal_impl/presets/<name>.yaml` or a path to a YAML file."""
    import yaml

    path = Path(name)
    if path.suffix not in (".yaml", ".yml") and "/" not in name:  # a name ("qwen2.5-0.5b_gsm8k"), not a path
        path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        available = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
        raise ConfigError(f"no preset {name!r}; available: {', '.join(available)}")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"preset {path} is not valid YAML: {err}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"preset {path} must be a mapping of config keys to values")
    for key in values:
        _check_key(key)
    return values


def build_config(preset: str | None = None, overrides: list[str] | None = None, **kwargs: object) -> TrainConfig:
    """Defaults, then the preset, then `key=value` overrides, then keyword arguments; validated."""
    values: dict = {}
    if preset:
        values.update(load_preset(preset))
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key=value")
        key, _, text = item.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        _check_key(key)
        values[key] = parse_value(key, text)
    for key, value in kwargs.items():
        _check_key(key)
        values[key] = value
    for key, value in values.items():  # YAML gives ints for floats ("lr: 1") and strings for odd values
        kind = _field_type(key)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            values[key] = float(value)
        elif not isinstance(values[key], kind) or (kind is int and isinstance(values[key], bool)):
            raise ConfigError(f"{key}: expected {kind.__name__}, got {type(value).__name__} {value!r}")
    config = TrainConfig(**values)
    validate(config)
    return config


# Every numeric field's domain: (lowest, highest, lowest allowed?, highest allowed?). Floats must be finite.
DOMAINS = {
    **{name: (1, None, True, True) for name in (
        "train_batch_size", "rollout_n", "ppo_mini_batch_size", "ppo_micro_batch_size", "ppo_epochs", "max_new_tokens",
        "max_prompt_length", "retriever_topk", "total_steps", "eval_steps", "save_steps", "warmup_batch_size",
        "log_every", "kl_horizon", "max_skipped_steps_in_a_row", "viewer_groups", "viewer_eval_samples")},
    **{name: (0, None, True, True) for name in (
        "max_turns", "max_obs_tokens", "warmup_sft_steps", "save_total_limit", "lr_warmup_steps", "lora_rank",
        "eval_max_samples", "early_stopping_patience", "num_threads", "weight_decay", "entropy_coeff",
        "kl_loss_coef", "kl_coef", "format_score", "clip_ratio_c", "overlong_buffer_len", "overlong_penalty_factor")},
    **{name: (0, None, False, True) for name in (
        "actor_lr", "critic_lr", "warmup_lr", "max_grad_norm", "temperature", "kl_target", "cliprange_value",
        "clip_ratio_high")},
    **{name: (0, 1, True, True) for name in ("warmup_search_fraction", "gamma", "lam", "target_accuracy")},
    "seed": (0, 2**32 - 1, True, True),  # numpy's seeds
    "clip_ratio_low": (0, 1, False, True),  # 1 - clip_ratio_low >= 0 (CISPO uses 1: no lower bound)
    "top_p": (0, 1, False, True),
    "vllm_gpu_memory_utilization": (0, 1, False, False),
}  # fmt: skip
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def kl_kinds() -> tuple[str, ...]:
    """Every accepted KL estimator name: k1, k2, k3, abs, verl's aliases, each optionally with '+'."""
    from .kl import _ALIASES, KL_KINDS

    names = (*KL_KINDS, *_ALIASES)
    return (*names, *(name + "+" for name in names))


def check_domains(c: TrainConfig) -> None:
    """Every field against its domain: finite floats, bounds (DOMAINS), enums, a plain run_name."""
    for f in dataclasses.fields(c):
        value = getattr(c, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{f.name}={value}: must be a finite number")
        if f.name in DOMAINS:
            low, high, low_ok, high_ok = DOMAINS[f.name]
            too_low = value < low or (value == low and not low_ok)
            too_high = high is not None and (value > high or (value == high and not high_ok))
            if too_low or too_high:
                bound = f"{'>=' if low_ok else '>'} {low}" + (
                    f" and {'<=' if high_ok else '<'} {high}" if high is not None else ""
                )
                raise ConfigError(f"{f.name}={value!r}: must be {bound}")
    for name, choices in {**CHOICES, "kl_loss_type": kl_kinds(), "kl_penalty": kl_kinds()}.items():
        if getattr(c, name) not in choices:
            raise ConfigError(f"{name}={getattr(c, name)!r}: expected one of {', '.join(choices)}")
    if not RUN_NAME.match(c.run_name) or c.run_name in (".", ".."):
        raise ConfigError(
            f"run_name={c.run_name!r}: must be a plain name (letters, digits, '.', '_', '-'; no '/' and not '..'): "
            "the run directory is output_dir/run_name"
        )
    if not all(part.isidentifier() for part in c.impl.split(".")):
        raise ConfigError(f"impl={c.impl!r}: must be an importable package name such as my_solutions")


def validate(c: TrainConfig) -> None:
    """Raise ConfigError on a value outside its domain, or values that cannot work together."""
    check_domains(c)
    if c.train_batch_size % c.ppo_mini_batch_size:
        raise ConfigError(
            f"train_batch_size ({c.train_batch_size}) must be a multiple of ppo_mini_batch_size ({c.ppo_mini_batch_size})"
        )
    if (c.ppo_mini_batch_size * c.rollout_n) % c.ppo_micro_batch_size:
        raise ConfigError(
            f"ppo_mini_batch_size x rollout_n ({c.ppo_mini_batch_size * c.rollout_n}) must be a multiple of "
            f"ppo_micro_batch_size ({c.ppo_micro_batch_size})"
        )
    if ADV_ESTIMATORS[c.adv_estimator].group_relative and c.rollout_n < 2:
        raise ConfigError(f"{c.adv_estimator} compares responses within a group: rollout_n must be >= 2")
    if c.is_search_task and c.reward_fn.startswith("gsm8k"):
        raise ConfigError(f"reward_fn={c.reward_fn} is for GSM8K; a search task uses em or em_format")
    if not c.is_search_task and c.reward_fn in ("em", "em_format"):
        raise ConfigError(f"task {c.task} is GSM8K-style: set reward_fn=gsm8k_strict (or gsm8k_flexible)")
    if c.clip_ratio_c and c.clip_ratio_c <= 1:
        raise ConfigError(f"clip_ratio_c (dual clip) must be 0 (off) or > 1, got {c.clip_ratio_c}")
    if c.policy_loss == "gmpo" and not c.loss_agg_mode.startswith("seq-mean"):
        raise ConfigError("policy_loss=gmpo averages over sequences: set loss_agg_mode=seq-mean-token-mean")
    if c.rollout_correction != "off":
        from .rollout_correction import parse_is_threshold

        try:
            parse_is_threshold(
                float(c.rollout_is_threshold) if "_" not in c.rollout_is_threshold else c.rollout_is_threshold
            )
        except ValueError as err:
            raise ConfigError(f"rollout_is_threshold={c.rollout_is_threshold!r}: {err}") from None
    if c.overlong_buffer_len >= c.max_model_tokens:
        raise ConfigError(
            f"overlong_buffer_len ({c.overlong_buffer_len}) must be smaller than the model-token budget ({c.max_model_tokens})"
        )
    if c.use_kl_loss and c.use_kl_in_reward:
        raise ConfigError("choose one KL placement: use_kl_loss (GRPO style) or use_kl_in_reward (PPO style)")


def describe() -> str:
    """Every field with its default and docstring (for --help-config)."""
    docs = field_docs()
    lines = []
    for f in dataclasses.fields(TrainConfig):
        lines.append(f"{f.name} = {json.dumps(f.default)}\n    {docs.get(f.name, '')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m minimal_impl.config --preset P [key=value ...] --get task run_dir ...`: print the values
    (one per line), or the configuration error and exit 2 (run_first_training.sh uses it)."""
    import argparse
    import sys

    from .tasks import DATASET_OF

    parser = argparse.ArgumentParser(description="Print fields of a configuration (preset + overrides).")
    parser.add_argument("--preset")
    parser.add_argument("--get", nargs="+", required=True, help="fields, or 'run_dir' / 'dataset'")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)
    try:
        config = build_config(args.preset, args.overrides)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    extra = {"run_dir": str(config.run_dir), "dataset": DATASET_OF[config.task]}
    for name in args.get:
        if name not in extra:
            _check_key(name)
        print(extra.get(name, getattr(config, name, None)))
    return 0


__all__ = ["TrainConfig", "ConfigError", "build_config", "load_preset", "describe", "field_docs"]

if __name__ == "__main__":
    raise SystemExit(main())
