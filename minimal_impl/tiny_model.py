# Chapter 02 notes: learning_notes/02_data/README.md#a-tiny-local-model
"""A tiny Qwen2-architecture model and its tokenizer, built offline, saved and loaded like a hub model.

    python -m minimal_impl.tiny_model --out .build/tiny_model [--seed 0] [--hidden-size 128] [--layers 4]

Real runs start from Qwen2.5-0.5B-Instruct. Offline (and in the tests) we build a model of the same
architecture (`Qwen2ForCausalLM`: RoPE, RMSNorm, SwiGLU, grouped-query attention) with random weights
and a byte-level BPE tokenizer trained on the shipped sample data, with the tool tags as single tokens and
a ChatML chat template. Both are written with `save_pretrained` and come back through
`AutoTokenizer.from_pretrained` / `AutoModelForCausalLM.from_pretrained`, so every later step (data
checks, rollouts, training, checkpoints) runs the exact Hugging Face code path a real checkpoint takes.

The weights are random: the model knows nothing until it is trained (chapter 06 starts with a short
supervised warm-up). The same seed gives bit-identical weights and the same tokenizer.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .data import GSM8K_INSTRUCTION, SAMPLE_SEARCH_INSTRUCTION, search_prompt
from .sample_data import SAMPLE_DIR, read_jsonl
from .tiny_tokenizer import CHAT_TOKENS, DEMO_TEXTS, build_tokenizer
from .tool_calls import INVALID_ACTION_MESSAGE, format_docs, information_block


@dataclass
class TinyModelConfig:
    """Size of the tiny model (the defaults give 0.5M parameters, 2 MB on disk: small enough that the warm-up and
    the RL run of chapter 06 fit in a few minutes on two CPU cores)."""

    vocab_size: int = 2048
    """upper bound of the BPE vocabulary (bytes, merges, chat tokens and tool tags included)"""
    hidden_size: int = 96
    """width of the residual stream"""
    num_layers: int = 3
    """transformer blocks"""
    num_heads: int = 4
    """attention heads (head size = hidden_size / num_heads)"""
    num_kv_heads: int = 2
    """key/value heads: fewer than num_heads is grouped-query attention, as in Qwen2.5"""
    intermediate_size: int = 256
    """width of the SwiGLU MLP"""
    max_position_embeddings: int = 1024
    """longest sequence the RoPE tables are sized for"""
    seed: int = 0
    """seeds the weight initialisation"""


def training_texts(sample_dir: Path = SAMPLE_DIR) -> list[str]:
    """What the tokenizer learns its merges from: the shipped data, rendered the way the model will see it."""
    corpus = read_jsonl(sample_dir / "corpus.jsonl")
    nq = read_jsonl(sample_dir / "nq_train.jsonl")
    gsm = read_jsonl(sample_dir / "gsm8k_train.jsonl")
    texts = list(DEMO_TEXTS) + [INVALID_ACTION_MESSAGE]
    texts += [doc["contents"] for doc in corpus]
    texts += [information_block(format_docs(corpus[i : i + 3])) for i in range(0, len(corpus), 3)]
    for row in nq:
        texts += [search_prompt(row["question"]), search_prompt(row["question"], SAMPLE_SEARCH_INSTRUCTION)]
        texts += [f"<search> {row['question']} </search>", f"<answer> {row['golden_answers'][0]} </answer>"]
    for row in gsm:
        texts += [f"{row['question']} {GSM8K_INSTRUCTION}", row["answer"]]
    return texts


def build(out: str | Path, config: TinyModelConfig | None = None, sample_dir: Path = SAMPLE_DIR) -> Path:
    """Train the tokenizer, initialise the model, save both to `out`; returns `out`.

    Raises:
        ValueError: a size that does not fit together (e.g. hidden_size not divisible by num_heads).
    """
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM
    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()  # "Writing model shards" for one 4 MB file is noise
    config = config or TinyModelConfig()
    if config.hidden_size % config.num_heads or config.num_heads % config.num_kv_heads:
        raise ValueError(
            f"hidden_size ({config.hidden_size}) must be divisible by num_heads ({config.num_heads}), "
            f"and num_heads by num_kv_heads ({config.num_kv_heads})"
        )
    out = Path(out)
    tokenizer = build_tokenizer(training_texts(sample_dir), vocab_size=config.vocab_size)
    eos_id = tokenizer.convert_tokens_to_ids(CHAT_TOKENS[0])  # <|endoftext|>
    im_end_id = tokenizer.convert_tokens_to_ids(CHAT_TOKENS[2])  # <|im_end|>
    model_config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_kv_heads,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=config.max_position_embeddings,
        tie_word_embeddings=True,  # as Qwen2.5-0.5B: the output layer reuses the embedding matrix
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
    )
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(config.seed)
    try:
        model = Qwen2ForCausalLM(model_config)
    finally:
        torch.random.set_rng_state(generator_state)  # building a model must not disturb the caller's RNG
    # like Qwen2.5-Instruct: a chat turn ends with <|im_end|>, a document with <|endoftext|>
    model.generation_config = GenerationConfig(
        eos_token_id=[im_end_id, eos_id], pad_token_id=eos_id, bos_token_id=eos_id, do_sample=True
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    (out / "tiny_model_config.json").write_text(json.dumps(asdict(config), indent=2) + "\n", encoding="utf-8")
    return out


def load(path: str | Path) -> tuple:
    """`AutoTokenizer` and `AutoModelForCausalLM` `from_pretrained(path)`: the code path of a hub checkpoint."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()
    if not Path(path).is_dir():
        raise FileNotFoundError(
            f"no model directory at {path} (build one: python -m minimal_impl.tiny_model --out {path})"
        )
    return AutoTokenizer.from_pretrained(str(path)), AutoModelForCausalLM.from_pretrained(str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the tiny Qwen2-architecture model and its tokenizer.")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    defaults = TinyModelConfig()
    for field in ("vocab_size", "hidden_size", "num_layers", "num_heads", "num_kv_heads", "intermediate_size", "seed"):
        parser.add_argument("--" + field.replace("_", "-"), type=int, default=getattr(defaults, field))
    args = parser.parse_args(argv)
    config = TinyModelConfig(**{k: v for k, v in vars(args).items() if k != "out"})
    try:
        out = build(args.out, config)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    tokenizer, model = load(out)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"wrote {out}: Qwen2ForCausalLM, {n_params / 1e6:.2f}M parameters, vocabulary {len(tokenizer)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
