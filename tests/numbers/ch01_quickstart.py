# Chapter 01 notes: learning_notes/01_quickstart/README.md#batch-size-arithmetic
"""Every worked number of chapter 01: the batch-size arithmetic of the tiny preset and of Search-R1's GRPO script."""

from __future__ import annotations

from minimal_impl.config import build_config
from scripts.check_numbers import Computed, Given

NOTE = "learning_notes/01_quickstart/README.md"
COMPLETE = True

# Search-R1's train_grpo.sh: data.train_batch_size=512, rollout n=5, ppo_mini_batch_size=256,
# ppo_micro_batch_size=64 (summed over its 8 GPUs)
SEARCH_R1 = {"train_batch_size": 512, "rollout_n": 5, "ppo_mini_batch_size": 256, "ppo_micro_batch_size": 64}


def _tiny() -> dict[str, int]:
    cfg = build_config("tiny_sample_nq")
    return {k: int(getattr(cfg, k)) for k in SEARCH_R1}


def _responses(c: dict[str, int]) -> list[int]:
    return [c["train_batch_size"], c["rollout_n"], c["train_batch_size"] * c["rollout_n"]]


def _steps(c: dict[str, int]) -> list[float]:
    return [c["train_batch_size"] / c["ppo_mini_batch_size"]] * 2


def _micro(c: dict[str, int]) -> list[float]:
    return [c["ppo_mini_batch_size"], c["rollout_n"] / c["ppo_micro_batch_size"],
            c["ppo_mini_batch_size"] * c["rollout_n"] / c["ppo_micro_batch_size"]]  # fmt: skip


NUMBERS = [
    Computed(
        "| prompts × rollouts | 8 × 8 = 64 responses | 512 × 5 = 2,560 responses |",
        lambda: _responses(_tiny()) + _responses(SEARCH_R1),
    ),
    Computed(
        "| optimizer steps per RL step | 8 / 4 = 2 | 512 / 256 = 2 |",
        lambda: _steps(_tiny()) + _steps(SEARCH_R1),
    ),
    # "4 × 8 / 16" reads as 4 and the fraction 8 / 16: the values follow that reading
    Computed(
        "| micro-batches per optimizer step | 4 × 8 / 16 = 2 | 256 × 5 / 64 = 20 (over 8 GPUs) |",
        lambda: _micro(_tiny()) + _micro(SEARCH_R1) + [8],
    ),
    Computed(
        "so four micro-batches of 4 give the same\ngradient as one of 16",
        lambda: [_tiny()["ppo_micro_batch_size"] / 4, _tiny()["ppo_micro_batch_size"]],
    ),
    Given(
        "generating 1,024 tokens (16 sequences of 64)",
        "the batch the notebook generates (notebooks/01_quickstart.py, section 4)",
    ),
]
