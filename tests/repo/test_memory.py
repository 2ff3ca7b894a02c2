# Chapter 07 notes: learning_notes/07_scaling/README.md#memory-arithmetic
"""memory.py: parameter counts against transformers and peft, the estimate against peaks measured on an H100."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from minimal_impl.config import build_config
from minimal_impl.memory import GIB, KNOWN, ModelShape, estimate, fits, lora_params, main, shape_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "name, params",  # the parameter counts Hugging Face shows for these checkpoints
    [
        ("Qwen/Qwen2.5-0.5B-Instruct", 494_032_768),
        ("Qwen/Qwen2.5-1.5B-Instruct", 1_543_714_304),
        ("Qwen/Qwen2.5-3B-Instruct", 3_085_938_688),
        ("Qwen/Qwen2.5-7B-Instruct", 7_615_616_512),
    ],
)
def test_qwen_parameter_counts(name: str, params: int) -> None:
    assert KNOWN[name].params == params


@pytest.mark.parametrize("tied", [True, False])
def test_params_and_lora_params_match_transformers_and_peft(tied: bool) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    shape = ModelShape(hidden=64, layers=3, heads=4, kv_heads=2, intermediate=96, vocab=300, tied=tied)
    config = Qwen2Config(
        hidden_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=96, vocab_size=300, tie_word_embeddings=tied,
    )  # fmt: skip
    with torch.device("meta"):
        model = Qwen2ForCausalLM(config)
    assert shape.params == sum(p.numel() for p in model.parameters())
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    peft_model = get_peft_model(model, LoraConfig(r=8, target_modules=targets))
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    assert lora_params(shape, 8) == trainable


def test_shape_of_a_local_model_reads_its_config(tmp_path: Path) -> None:
    from transformers import Qwen2Config

    Qwen2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
                intermediate_size=48, vocab_size=100, tie_word_embeddings=False).save_pretrained(tmp_path)  # fmt: skip
    assert shape_of(str(tmp_path)) == ModelShape(32, 2, 4, 1, 48, 100, False)
    assert shape_of("Qwen/Qwen2.5-3B-Instruct") == KNOWN["Qwen/Qwen2.5-3B-Instruct"]


def test_each_knob_moves_the_component_it_should() -> None:
    shape = KNOWN["Qwen/Qwen2.5-0.5B-Instruct"]
    base = estimate(build_config("qwen2.5-0.5b_gsm8k", []), shape)
    c = base["components"]
    assert c["policy weights"] == 4 * shape.params and c["AdamW moments"] == 8 * shape.params
    assert c["reference weights"] == 2 * shape.params and c["critic weights + moments"] == 0
    no_ckpt = estimate(build_config("qwen2.5-0.5b_gsm8k", ["gradient_checkpointing=false"]), shape)
    assert no_ckpt["components"]["activations"] > 5 * c["activations"]
    half_micro = estimate(build_config("qwen2.5-0.5b_gsm8k", ["ppo_micro_batch_size=4"]), shape)
    assert half_micro["components"]["logits"] == c["logits"] / 2 and half_micro["rollout"] == base["rollout"]
    ppo = estimate(build_config("qwen2.5-0.5b_gsm8k_ppo", []), shape)
    assert ppo["components"]["critic weights + moments"] == 12 * shape.params
    assert ppo["components"]["reference weights"] == 2 * shape.params  # KL in the reward needs the reference
    lora = estimate(build_config("qwen2.5-0.5b_gsm8k", ["lora_rank=16"]), shape)
    assert lora["components"]["AdamW moments"] == 8 * lora_params(shape, 16) < c["AdamW moments"] / 50
    assert lora["components"]["reference weights"] == 0  # the base model with adapters off is the reference
    assert lora["peak"] < base["peak"]


def test_estimate_is_within_15_percent_of_the_h100_measurements() -> None:
    """bench/results/gpu_bench_h100.json: torch.cuda.max_memory_allocated of the real trainer, per phase."""
    sys.path.insert(0, str(ROOT / "bench"))
    from gpu_bench import CASES

    measured = json.loads((ROOT / "bench" / "results" / "gpu_bench_h100.json").read_text())
    assert len(measured) >= 2
    for case in measured:
        preset, _, overrides = CASES[case["case"]]
        config = build_config(preset, overrides + ["task=sample-gsm8k", "reward_fn=gsm8k_strict"])
        est = estimate(config, KNOWN["Qwen/Qwen2.5-0.5B-Instruct"], case["prompt_tokens_max"], case["max_new_tokens"])
        for phase in ("rollout", "update"):
            ratio = est[phase] / GIB / case[f"{phase}_peak_gib"]
            assert 0.85 <= ratio <= 1.15, f"{case['case']}, {phase}: estimate / measured = {ratio:.2f}"


def test_fit_verdict_and_cli(capsys) -> None:
    config = build_config("qwen2.5-3b_nq_search_lora", [])
    est = estimate(config, shape_of(str(config.model_path)))
    assert fits(est, 24) and not fits(est, est["peak"] / GIB)  # no headroom left: does not fit
    assert main(["--preset", "qwen2.5-0.5b_gsm8k_ppo", "--gpu-gib", "16"]) == 0
    out = capsys.readouterr().out
    assert "critic weights + moments | 5.52" in out and "does NOT fit" in out
    assert main(["--preset", "no-such-preset"]) == 2
    assert "no preset 'no-such-preset'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "preset", ["qwen2.5-0.5b_gsm8k", "qwen2.5-0.5b_gsm8k_ppo", "qwen2.5-0.5b_nq_search", "qwen2.5-3b_nq_search_lora"]
)
def test_every_gpu_preset_fits_one_24_gib_gpu(preset: str) -> None:
    config = build_config(preset, [])
    assert fits(estimate(config, shape_of(str(config.model_path))), 24), preset
