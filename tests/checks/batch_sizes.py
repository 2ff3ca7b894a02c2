# Chapter 01 notes: learning_notes/01_quickstart/README.md#batch-size-arithmetic
"""Checks for minimal_impl/batch_sizes.py: the two columns of chapter 01's table, epochs, and sizes that do not divide."""

from __future__ import annotations

from collections.abc import Callable

from ._util import expect_true, fail, run_checks

KEYS = ("sequences", "sequences_per_optimizer_step", "optimizer_steps", "micro_batches_per_optimizer_step",
        "forward_backward_passes")  # fmt: skip


def _expect_counts(case: str, got: object, expected: tuple, inputs: dict) -> None:
    if not isinstance(got, dict) or set(got) != set(KEYS):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        fail(
            case, inputs, dict(zip(KEYS, expected)), got, f"expected a dict with the keys {', '.join(KEYS)}; got {keys}"
        )
    for key, value in zip(KEYS, expected):
        if got[key] != value:
            fail(case, inputs, dict(zip(KEYS, expected)), got, f"{key}: expected {value}, got {got[key]}")


def batch_arithmetic_notes_table(fn: Callable) -> None:
    tiny = {"train_batch_size": 8, "rollout_n": 8, "ppo_mini_batch_size": 4, "ppo_micro_batch_size": 16}
    # 8 x 8 = 64 responses; 8 / 4 = 2 optimizer steps of 4 x 8 = 32 sequences; 32 / 16 = 2 micro-batches
    _expect_counts("tiny CPU run (notes: 8 x 8, 8 / 4, 4 x 8 / 16)", fn(**tiny), (64, 32, 2, 2, 4), tiny)
    search_r1 = {"train_batch_size": 512, "rollout_n": 5, "ppo_mini_batch_size": 256, "ppo_micro_batch_size": 64}
    # 512 x 5 = 2560; 512 / 256 = 2; 256 x 5 / 64 = 20 micro-batches; 2560 / 64 = 40 passes
    _expect_counts(
        "Search-R1 GRPO (notes: 512 x 5, 512 / 256, 256 x 5 / 64)", fn(**search_r1), (2560, 1280, 2, 20, 40), search_r1
    )


def batch_arithmetic_epochs(fn: Callable) -> None:
    sizes = {
        "train_batch_size": 8,
        "rollout_n": 8,
        "ppo_mini_batch_size": 4,
        "ppo_micro_batch_size": 16,
        "ppo_epochs": 3,
    }
    _expect_counts(
        "3 epochs: 3x the optimizer steps and passes, the same sequences", fn(**sizes), (64, 32, 6, 2, 12), sizes
    )


def batch_arithmetic_refuses_sizes_that_do_not_divide(fn: Callable) -> None:
    for case, sizes in (
        ("train_batch_size 10 is not a multiple of ppo_mini_batch_size 4",
         {"train_batch_size": 10, "rollout_n": 8, "ppo_mini_batch_size": 4, "ppo_micro_batch_size": 16}),
        ("ppo_mini_batch_size x rollout_n = 4 x 5 = 20 is not a multiple of ppo_micro_batch_size 8",
         {"train_batch_size": 8, "rollout_n": 5, "ppo_mini_batch_size": 4, "ppo_micro_batch_size": 8}),
        ("rollout_n 0", {"train_batch_size": 8, "rollout_n": 0, "ppo_mini_batch_size": 4, "ppo_micro_batch_size": 8}),
    ):  # fmt: skip
        try:
            got = fn(**sizes)
        except ValueError:
            continue
        expect_true(case, False, f"expected ValueError, got {got!r}", sizes)


BATCH_ARITHMETIC_CHECKS = [
    batch_arithmetic_notes_table,
    batch_arithmetic_epochs,
    batch_arithmetic_refuses_sizes_that_do_not_divide,
]


def check_batch_arithmetic(fn: Callable, verbose: bool = True) -> None:
    run_checks("batch_arithmetic", fn, BATCH_ARITHMETIC_CHECKS, verbose)


# (module, exercise name) -> checks; tests/checks/__init__.py merges these into REGISTRY
EXERCISE_CHECKS = {("batch_sizes", "batch_arithmetic"): BATCH_ARITHMETIC_CHECKS}
