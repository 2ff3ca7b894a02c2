# Chapter 07 notes: learning_notes/07_scaling/README.md#memory-arithmetic
"""Checks for minimal_impl/memory.py's `lora_params`: a shape counted by hand and Qwen2.5-0.5B as peft counts it."""

from __future__ import annotations

from collections.abc import Callable

from ._util import expect_close, run_checks

# tests/repo/test_memory.py checks the same formula against peft on a small Qwen2 model


def lora_params_hand_worked(fn: Callable) -> None:
    from minimal_impl.memory import ModelShape

    shape = ModelShape(hidden=8, layers=2, heads=2, kv_heads=1, intermediate=16, vocab=10)  # head_dim 4, kv_dim 4
    inputs = {"shape": shape, "rank": 2}
    # r (d_in + d_out): q 8+8, k 8+4, v 8+4, o 8+8, gate 8+16, up 8+16, down 16+8 = 128 per layer; x 2 x 2 layers
    expect_close("hidden 8, kv_dim 4, I 16, 2 layers, r = 2: 2 x 128 x 2", fn(shape, 2), 512, inputs, atol=0, rtol=0)


def lora_params_qwen_half_billion(fn: Callable) -> None:
    from minimal_impl.memory import KNOWN

    shape = KNOWN["Qwen/Qwen2.5-0.5B-Instruct"]
    inputs = {"shape": shape, "rank": 8}
    # peft: "trainable params: 4,399,104 || all params: 498,431,872" for r = 8 on the seven projections
    expect_close("Qwen2.5-0.5B, r = 8 (peft's count)", fn(shape, 8), 4_399_104, inputs, atol=0, rtol=0)
    expect_close(
        "linear in the rank: r = 64 is 8x r = 8", fn(shape, 64), 8 * 4_399_104, {**inputs, "rank": 64}, atol=0, rtol=0
    )


LORA_PARAMS_CHECKS = [lora_params_hand_worked, lora_params_qwen_half_billion]


def check_lora_params(fn: Callable, verbose: bool = True) -> None:
    run_checks("lora_params", fn, LORA_PARAMS_CHECKS, verbose)


# (module, exercise name) -> checks; tests/checks/__init__.py merges these into REGISTRY
EXERCISE_CHECKS = {("memory", "lora_params"): LORA_PARAMS_CHECKS}
