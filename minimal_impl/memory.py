# Chapter 07 notes: learning_notes/07_scaling/README.md#memory-arithmetic
"""How much GPU memory a training preset needs, component by component, before you rent the GPU.

    python -m minimal_impl.memory --preset qwen2.5-0.5b_gsm8k           # the table for a preset
    python -m minimal_impl.memory --preset qwen2.5-3b_nq_search_lora --gpu-gib 24

The trainer keeps float32 master weights and AdamW moments for what it trains and computes under bf16
autocast (mixed precision); the frozen reference is stored in bf16. The memory of one step is the largest
of its two phases (chapter 01):

  persistent   policy weights (4 B/param; LoRA: bf16 base 2 B/param + float32 adapters)
               + AdamW moments m, v (8 B per trained param) + reference (2 B/param, bf16)
               + critic weights and moments (PPO: 12 B/param)
  rollout      + autocast's bf16 copy of the float32 weights it multiplies (2 B/param)
               + KV cache: layers x kv_dim x sequences x tokens x (K 4 B + V 2 B): under autocast the
                 rotary embedding multiplies bf16 keys by float32 cos/sin, so cached keys are float32
               + sampling workspace: float32 logits of the last position, their processed copy,
                 softmax, and top-p's sorted values and int64 indices: 24 B x sequences x vocab
  update       + autocast's bf16 weight copy again (kept while autocast is on)
               + gradients (4 B per trained param)
               + activations of one micro-batch: per token and layer, the float32 residual stream saved
                 at both norms (8 h B) and the bf16 inputs of every matmul and of attention
                 (2 (5 h + 2 kv_dim + 4 I) B); with gradient checkpointing only each layer's input
                 (4 h B) plus one layer's full set during recomputation
               + logits of one micro-batch's response positions: float32 [b, T, V], kept for backward,
                 plus the same again as gradient and as the transient of logsumexp

Measured peaks (`torch.cuda.max_memory_allocated`, logged as `memory/*_peak_gib`) exclude the CUDA
context (~0.5 GiB) that `nvidia-smi` shows on top. Chapter 07 compares the two on a GPU.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

GIB = 2**30


@dataclass(frozen=True)
class ModelShape:
    """The numbers of a decoder-only transformer that decide its memory."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    tied: bool = True

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def params(self) -> int:
        """Parameter count of a Qwen2 model (q/k/v biases, RMSNorm weights, optionally tied embeddings)."""
        h, kv, inter = self.hidden, self.kv_dim, self.intermediate
        # attention: q (h x h + h), k and v (h x kv + kv each), o (h x h); MLP: gate, up, down (3 h I); 2 norms
        per_layer = (h * h + h) + 2 * (h * kv + kv) + h * h + 3 * h * inter + 2 * h
        embeddings = self.vocab * h * (1 if self.tied else 2)
        return self.layers * per_layer + embeddings + h


# config.json of the Qwen2.5 instruct checkpoints (the shapes only; weights are not needed to plan)
KNOWN = {
    "Qwen/Qwen2.5-0.5B-Instruct": ModelShape(896, 24, 14, 2, 4864, 151936, True),
    "Qwen/Qwen2.5-1.5B-Instruct": ModelShape(1536, 28, 12, 2, 8960, 151936, True),
    "Qwen/Qwen2.5-3B-Instruct": ModelShape(2048, 36, 16, 2, 11008, 151936, True),
    "Qwen/Qwen2.5-7B-Instruct": ModelShape(3584, 28, 28, 4, 18944, 152064, False),
}


def shape_of(model_path: str) -> ModelShape:
    """The shape of a known hub model, or read from a local directory's config.json."""
    for name, shape in KNOWN.items():
        if model_path.rstrip("/").endswith(name.split("/")[-1]):
            return shape
    from transformers import AutoConfig

    c = AutoConfig.from_pretrained(model_path)
    return ModelShape(
        c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads,
        c.intermediate_size, c.vocab_size, bool(getattr(c, "tie_word_embeddings", False)),
    )  # fmt: skip


def lora_params(shape: ModelShape, rank: int) -> int:
    """Adapter parameters of LoRA on every attention and MLP projection: r x (d_in + d_out) each.

    LoRA replaces the update of a `d_out x d_in` weight by `B A` with `A: r x d_in`, `B: d_out x r`. The
    projections of one Qwen2 layer: q and o (h -> h), k and v (h -> kv_dim), gate and up (h -> I), down (I -> h).
    Embeddings, norms and biases get no adapter.

    Example: Qwen2.5-0.5B (h 896, kv_dim 128, I 4864, 24 layers), rank 8 -> 4,399,104, the count peft
    prints for `LoraConfig(r=8, target_modules=[q, k, v, o, gate, up, down _proj])`.
    """
    # EXERCISE difficulty=1 minutes=10
    # HINT: One adapter on a d_in -> d_out projection has how many parameters? Write it for one projection first.
    # HINT: List the seven projections of a layer with their d_in and d_out (kv_dim is kv_heads x head_dim).
    h, kv, inter = shape.hidden, shape.kv_dim, shape.intermediate
    per_layer = rank * ((h + h) + 2 * (h + kv) + (h + h) + 2 * (h + inter) + (inter + h))  # sum of r (d_in + d_out)
    return shape.layers * per_layer


def estimate(
    config: object,
    shape: ModelShape,
    prompt_tokens: int | None = None,
    response_tokens: int | None = None,
) -> dict:
    """Bytes of every component and the peak of each phase, for a TrainConfig.

    Args:
        config: a TrainConfig (batch sizes, lengths, dtype, LoRA, KL, estimator, checkpointing).
        shape: the model's shape.
        prompt_tokens: prompt length to plan for (default: config.max_prompt_length).
        response_tokens: response length (default: all turns and observations at their limits).
    """
    from .estimators import ADV_ESTIMATORS

    p = shape.params
    bf16 = config.dtype == "bfloat16"
    critic = ADV_ESTIMATORS[config.adv_estimator].needs_critic
    if prompt_tokens is None:
        prompt_tokens = config.max_prompt_length
    if response_tokens is None:
        response_tokens = config.max_response_tokens
    seq = prompt_tokens + response_tokens
    trained = lora_params(shape, config.lora_rank) if config.lora_rank else p
    c: dict[str, float] = {}
    # persistent
    c["policy weights"] = (
        (2 * p + 4 * trained) if config.lora_rank and bf16 else 4 * (p + (trained if config.lora_rank else 0))
    )
    c["AdamW moments"] = 8 * trained
    needs_ref = (config.use_kl_loss or config.use_kl_in_reward) and not config.lora_rank
    c["reference weights"] = (2 if bf16 else 4) * p if needs_ref else 0
    c["critic weights + moments"] = 12 * p if critic else 0
    persistent = sum(c.values())
    # rollout
    sequences = config.train_batch_size * config.rollout_n
    c["autocast bf16 weight copy"] = 2 * trained if bf16 and not config.lora_rank else 0
    # K float32 (rotary promotes it) + V bf16 under autocast; both float32 without it
    kv_bytes = (4 + 2) if bf16 else (4 + 4)
    c["KV cache"] = shape.layers * shape.kv_dim * kv_bytes * sequences * seq
    c["sampling workspace"] = 24 * sequences * shape.vocab
    rollout = persistent + c["autocast bf16 weight copy"] + c["KV cache"] + c["sampling workspace"]
    # update
    micro_tokens = config.ppo_micro_batch_size * seq
    act = 2 if bf16 else 4
    per_token_layer = 8 * shape.hidden + act * (5 * shape.hidden + 2 * shape.kv_dim + 4 * shape.intermediate)
    if config.gradient_checkpointing:
        c["activations"] = micro_tokens * (shape.layers * 4 * shape.hidden + per_token_layer)
    else:
        c["activations"] = micro_tokens * shape.layers * per_token_layer
    # float32 logits of the response positions, kept for backward; their gradient; logsumexp's transient
    c["logits"] = 3 * 4 * config.ppo_micro_batch_size * response_tokens * shape.vocab
    c["gradients"] = 4 * trained + (4 * p if critic else 0)
    update = persistent + c["autocast bf16 weight copy"] + c["gradients"] + c["activations"] + c["logits"]
    return {
        "params": p,
        "trained_params": trained,
        "sequence_tokens": seq,
        "components": c,
        "rollout": rollout,
        "update": update,
        "peak": max(rollout, update),
    }


# Keep this share of the GPU free: the CUDA context (~0.5 GiB), the allocator's fragmentation, and the
# estimate's own error (measured within 11% on an H100, chapter 07).
HEADROOM = 0.15


def fits(est: dict, gpu_gib: float) -> bool:
    """Whether the estimated peak leaves HEADROOM of a GPU with `gpu_gib` GiB free."""
    return est["peak"] / GIB <= (1 - HEADROOM) * gpu_gib


def fit_verdict(est: dict, gpu_gib: float) -> str:
    verdict = "fits" if fits(est, gpu_gib) else "does NOT fit"
    return (f"peak {est['peak'] / GIB:.1f} GiB on a {gpu_gib:.0f} GiB GPU: {verdict} "
            f"(keeping {HEADROOM:.0%} for the CUDA context, fragmentation and the estimate's error)")  # fmt: skip


def format_table(est: dict, gpu_gib: float | None = None) -> str:
    lines = [f"model: {est['params'] / 1e6:.0f}M parameters, {est['trained_params'] / 1e6:.1f}M trained; "
             f"sequences of up to {est['sequence_tokens']} tokens", "", "| component | GiB |", "| --- | --- |"]  # fmt: skip
    lines += [f"| {name} | {value / GIB:.2f} |" for name, value in est["components"].items()]
    lines += [
        f"| **rollout phase** | **{est['rollout'] / GIB:.2f}** |",
        f"| **update phase** | **{est['update'] / GIB:.2f}** |",
    ]
    if gpu_gib:
        lines += ["", fit_verdict(est, gpu_gib)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from minimal_impl.config import ConfigError, build_config  # absolute: also from a learner's copy

    parser = argparse.ArgumentParser(description="Estimate the GPU memory of a training preset.")
    parser.add_argument("--preset", required=True)
    parser.add_argument("--gpu-gib", type=float, default=None, help="GPU memory to check the estimate against")
    parser.add_argument("--prompt-tokens", type=int, default=None, help="plan for this prompt length")
    parser.add_argument("overrides", nargs="*", help="key=value overrides")
    args = parser.parse_args(argv)
    try:
        config = build_config(args.preset, args.overrides)
        shape = shape_of(config.model_path)
    except (ConfigError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"preset {args.preset} ({config.model_path})")
    print(format_table(estimate(config, shape, args.prompt_tokens), args.gpu_gib))
    return 0


if __name__ == "__main__":
    sys.exit(main())
