# Chapter 06 notes: learning_notes/06_training_engineering/README.md#checkpoints-and-resume
"""What the trainer tests share: the tiny configuration and a comparison of two runs' logs."""

from __future__ import annotations

import json
from pathlib import Path


def tiny_overrides(model_dir: Path, root: Path, run_name: str, **extra: object) -> dict:
    values = dict(
        model_path=str(model_dir),
        data_dir=str(root / "data"),
        output_dir=str(root / "runs"),
        run_name=run_name,
        warmup_sft_steps=3,
        warmup_batch_size=8,
        train_batch_size=2,
        rollout_n=2,
        ppo_mini_batch_size=1,
        ppo_micro_batch_size=2,
        max_new_tokens=8,
        max_obs_tokens=40,
        total_steps=4,
        eval_steps=2,
        save_steps=1,
        save_total_limit=2,
        eval_max_samples=4,
        num_threads=1,
        filter_zero_variance_groups=False,
        save_rollouts=True,  # the viewer records at every evaluation: exact resume must hold with it on
    )
    values.update(extra)
    return values


def comparable(run_dir: Path) -> list[dict]:
    """metrics.jsonl without wall-clock fields."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [{k: v for k, v in row.items() if not k.startswith("timing/") and k != "eval/eval_time"} for row in rows]
