# Chapter 02 notes: learning_notes/02_data/README.md#a-tiny-local-model
"""The tiny model: a real Qwen2 checkpoint on disk that round-trips through from_pretrained, generates,
and is bit-identical when built twice with one seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from minimal_impl import tiny_model
from minimal_impl.sample_data import SAMPLE_DIR
from minimal_impl.tiny_tokenizer import TOOL_TAGS


def test_round_trip_and_generate(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    assert type(model).__name__ == "Qwen2ForCausalLM" and model.config.model_type == "qwen2"
    assert model.config.vocab_size == len(tokenizer) <= 2048
    assert model.config.num_key_value_heads < model.config.num_attention_heads  # grouped-query attention
    for tag in TOOL_TAGS:  # tags are single tokens: a rollout can stop on them exactly
        assert len(tokenizer.encode(tag, add_special_tokens=False)) == 1
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert model.generation_config.eos_token_id == [im_end, tokenizer.eos_token_id]
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "what is the capital of Zozai?"}], add_generation_prompt=True, tokenize=False
    )
    assert prompt.endswith("<|im_start|>assistant\n")
    inputs = tokenizer(prompt, return_tensors="pt")
    torch.manual_seed(0)
    out = model.generate(**inputs, max_new_tokens=12, do_sample=True, pad_token_id=tokenizer.pad_token_id)
    assert out.shape[0] == 1 and inputs.input_ids.shape[1] < out.shape[1] <= inputs.input_ids.shape[1] + 12
    assert isinstance(tokenizer.decode(out[0]), str)
    # the tokenizer is trained on the shipped data: its invented names take a few tokens, not one per letter
    names = [json.loads(line)["contents"].split("\n")[0] for line in (SAMPLE_DIR / "corpus.jsonl").open()]
    lengths = [len(tokenizer.encode(" " + name, add_special_tokens=False)) for name in names]
    assert sum(lengths) / len(lengths) < 4.5, f"{sum(lengths) / len(lengths):.2f} tokens per name"


def test_same_seed_same_weights_other_seed_other_weights(tiny_model_dir: Path, tmp_path: Path) -> None:
    again = tiny_model.build(tmp_path / "again")
    other = tiny_model.build(tmp_path / "other", tiny_model.TinyModelConfig(seed=1))
    first, second, third = (load_file(str(d / "model.safetensors")) for d in (tiny_model_dir, again, other))
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert any(not torch.equal(first[k], third[k]) for k in first)
    assert (tiny_model_dir / "tokenizer.json").read_bytes() == (again / "tokenizer.json").read_bytes()


def test_building_does_not_disturb_the_callers_rng(tmp_path: Path) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny_model.build(
        tmp_path / "m", tiny_model.TinyModelConfig(num_layers=1, hidden_size=32, num_heads=2, num_kv_heads=1)
    )
    assert torch.equal(torch.rand(3), expected)


def test_bad_sizes_and_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(ValueError, match="divisible"):
        tiny_model.build(tmp_path / "bad", tiny_model.TinyModelConfig(hidden_size=130, num_heads=4))
    with pytest.raises(FileNotFoundError, match="python -m minimal_impl.tiny_model"):
        tiny_model.load(tmp_path / "missing")
    assert tiny_model.main(["--out", str(tmp_path / "cli"), "--num-heads", "3"]) == 2
    assert "divisible" in capsys.readouterr().err
