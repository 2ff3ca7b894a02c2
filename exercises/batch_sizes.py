# Chapter 01 notes: learning_notes/01_quickstart/README.md#batch-size-arithmetic
# Generated from minimal_impl/batch_sizes.py by scripts/make_exercises.py; do not edit here: make your own copy with `python scripts/make_exercises.py --out my_solutions` (README.md#exercise-mode).
"""The batch-size arithmetic of one RL step, in verl's names (the trainer's config uses the same).

`train_batch_size` prompts are each sampled `rollout_n` times; the actor takes one optimizer step per
`ppo_mini_batch_size` prompts (times `rollout_n` sequences), accumulating gradients over micro-batches of
`ppo_micro_batch_size` sequences, for `ppo_epochs` passes over the batch. `config.validate` refuses the
same non-dividing sizes when a training run is configured.
"""

from __future__ import annotations


def batch_arithmetic(
    train_batch_size: int,
    rollout_n: int,
    ppo_mini_batch_size: int,
    ppo_micro_batch_size: int,
    ppo_epochs: int = 1,
) -> dict[str, int]:
    """What one RL step does with these sizes.

    Args:
        train_batch_size: prompts per RL step.
        rollout_n: responses sampled per prompt (the GRPO group size).
        ppo_mini_batch_size: prompts per optimizer step.
        ppo_micro_batch_size: sequences per forward/backward pass.
        ppo_epochs: passes over the batch per RL step.

    Returns:
        A dict of five counts: `sequences` (responses generated per RL step), `sequences_per_optimizer_step`,
        `optimizer_steps` (per RL step, all epochs), `micro_batches_per_optimizer_step` (gradient
        accumulation) and `forward_backward_passes` (per RL step, all epochs).

    Raises:
        ValueError: a size below 1, `train_batch_size` not a multiple of `ppo_mini_batch_size`, or
            `ppo_mini_batch_size x rollout_n` not a multiple of `ppo_micro_batch_size`.

    Example: `batch_arithmetic(8, 8, 4, 16)` -> 64 sequences, 32 per optimizer step, 2 optimizer steps,
    2 micro-batches per optimizer step, 4 forward/backward passes.
    """
    # Exercise: difficulty ★☆☆ (easy), about 10 minutes.
    # Hint 1 of 2: Count in sequences: a mini-batch of prompts holds how many responses?
    # Stuck? The next hint: python scripts/make_exercises.py --hint batch_sizes.batch_arithmetic
    raise NotImplementedError("batch_sizes.batch_arithmetic: exercise not implemented yet")
