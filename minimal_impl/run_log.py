# Chapter 06 notes: learning_notes/06_training_engineering/README.md#what-each-metric-means
"""Where a run's numbers go: metrics.jsonl and TensorBoard always, Weights & Biases on request, the console.

`metrics.jsonl` has one JSON object per step; on resume, lines after the restored step are dropped
(and TensorBoard purges them), so a resumed run's logs read as if it had never stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .batch import StepBatch
from .evaluate import episode_stats
from .kl import kl_estimate
from .masked import masked_mean

if TYPE_CHECKING:
    from .trainer_setup import Run


class RunLogger:
    """Step metrics to JSONL, TensorBoard and (optionally) W&B."""

    def __init__(
        self,
        run_dir: Path,
        resume_step: int = 0,
        use_wandb: bool = False,
        config: dict | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.path = run_dir / "metrics.jsonl"
        if resume_step and self.path.exists():  # forget what was logged after the checkpoint we resume from
            kept, dropped = read_metrics(self.path, up_to_step=resume_step)
            if dropped:
                log(f"[log] metrics.jsonl: dropped {dropped} torn or unreadable line(s)")
            tmp = self.path.with_name(f".{self.path.name}.tmp")  # a crash mid-write keeps the old file
            tmp.write_text("".join(json.dumps(row) + "\n" for row in kept), encoding="utf-8")
            tmp.replace(self.path)
        elif not resume_step:
            self.path.write_text("", encoding="utf-8")
        self.writer = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(
                str(run_dir / "tensorboard"), purge_step=resume_step + 1 if resume_step else None
            )
        except ImportError:  # tensorboard is in requirements.txt; without it the JSONL still has everything
            log("[log] tensorboard is not installed: metrics go to metrics.jsonl only")
        self.wandb = None
        if use_wandb:
            import wandb

            self.wandb = wandb.init(project="agentic-rl-from-scratch", name=run_dir.name, config=config, resume="allow")

    def log(self, step: int, metrics: dict) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"step": step, **metrics}) + "\n")
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if self.writer is not None:
                    self.writer.add_scalar(key, value, step)
        if self.wandb is not None:
            self.wandb.log({k: v for k, v in metrics.items() if isinstance(v, (int, float))}, step=step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.wandb is not None:
            self.wandb.finish()


def read_jsonl(path: Path, accept: Callable[[object], bool]) -> tuple[list[dict], int]:
    """The objects of a JSONL file that `accept` takes, and how many lines were torn, unreadable or refused.

    A run killed while appending leaves a half-written last line: it is skipped and counted, not fatal.
    """
    rows, dropped = [], 0
    for line in path.read_text("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            dropped += 1
            continue
        if accept(row):
            rows.append(row)
        else:
            dropped += 1
    return rows, dropped


def read_metrics(path: Path, up_to_step: int | None = None) -> tuple[list[dict], int]:
    """The rows of a metrics.jsonl (up to a step), and how many lines were torn or unreadable.

    Example: lines '{"step": 1}', '{"step": 2}', '{"ste' -> ([{"step": 1}, {"step": 2}], 1).
    """
    rows, dropped = read_jsonl(path, lambda row: isinstance(row, dict) and isinstance(row.get("step"), int))
    return [row for row in rows if up_to_step is None or row["step"] <= up_to_step], dropped


def banner(title: str, width: int = 100) -> str:
    return f"── {title} " + "─" * max(width - len(title) - 4, 0)


def group_summary(stats: dict) -> str:
    """The verbose-mode summary of a step's groups, tokens and times."""
    ratio = stats["tokens/trainable"] / max(stats["tokens/total"], 1)
    return "\n".join(
        [
            f"  groups: {stats['groups/total']} total, {stats['groups/kept']} kept, "
            f"{stats['groups/filtered_zero_variance']} filtered (zero reward variance)",
            f"  rollouts: {stats['rollouts/answered']} answered, {stats['rollouts/eos']} ended without an action, "
            f"{stats['rollouts/max_turns']} hit max_turns ({stats['rollouts/finished_early']} finished before the last turn)",
            f"  time: rollout {stats['timing/rollout']:.2f}s, training {stats['timing/update']:.2f}s",
            f"  tokens: {stats['tokens/total']} total, {stats['tokens/trainable']} trainable ({ratio:.1%})",
        ]
    )


def turn_advantage_table(
    advantages: torch.Tensor, mask: torch.Tensor, turn_ids: torch.Tensor, rewards: list[float]
) -> str:
    """Rollouts by turns: the mean advantage over each turn's trained tokens (one group).

    Args:
        advantages: `[n, T]` token advantages of the group's rollouts.
        mask: `[n, T]` loss mask.
        turn_ids: `[n, T]` model-turn number (1, 2, ...) of each position, 0 elsewhere.
        rewards: the n rewards.
    """
    num_turns = int(turn_ids.max().item()) if turn_ids.numel() else 0
    header = "  rollout | reward | " + " | ".join(f"turn {k:2d}" for k in range(1, num_turns + 1))
    lines = [header, "  " + "-" * (len(header) - 2)]
    for r in range(advantages.shape[0]):
        cells = []
        for k in range(1, num_turns + 1):
            sel = (turn_ids[r] == k) & mask[r].bool()
            cells.append(f"{advantages[r][sel].mean().item():+7.3f}" if sel.any() else "      ·")
        lines.append(f"  {r + 1:7d} | {rewards[r]:6.2f} | " + " | ".join(cells))
    return "\n".join(lines)


def token_table(tokenizer: object, batch: StepBatch, row: int, max_rows: int = 12) -> str:
    """One rollout's first trained positions: token, loss mask, old and reference log-probs, advantage (and V)."""
    ids = batch.targets[row].tolist()  # the token each position predicts
    mask = batch.mask[row].tolist()
    old_lp, ref_lp, advantages, values = batch.old_logprobs, batch.ref_logprobs, batch.advantages, batch.values
    lines = [
        "  pos | token            | mask | old logp |  ref logp | advantage"
        + (" |  value" if values is not None else "")
    ]
    shown = 0
    for t, (token_id, m) in enumerate(zip(ids, mask)):
        if not m:
            continue
        text = repr(tokenizer.decode([token_id], skip_special_tokens=False))[1:-1][:16]
        ref = f"{ref_lp[row, t].item():9.4f}" if ref_lp is not None else "        -"
        line = f"  {t:3d} | {text:16s} | {int(m):4d} | {old_lp[row, t].item():8.4f} | {ref} | {advantages[row, t].item():+9.4f}"
        if values is not None:
            line += f" | {values[row, t].item():+6.3f}"
        lines.append(line)
        shown += 1
        if shown == max_rows:
            break
    return "\n".join(lines)


def step_metrics(
    run: Run,
    trajs: list,
    episode_rows: list[dict],
    rewards: list[float],
    batch: StepBatch,
    *,
    groups: tuple[int, int, int],
) -> dict:
    """The numbers of one step's rollouts and batch, under the names of the notes' metric table.

    `groups` is (total, kept for the update, filtered for zero reward variance).
    """
    task, tokenizer, max_turns = run.task, run.tokenizer, run.config.max_turns
    groups_total, groups_kept, groups_filtered = groups
    stats = episode_stats(task, trajs, episode_rows, rewards, tokenizer)
    n = len(trajs)
    metrics = {
        "reward/mean": stats["avg_reward"],
        "reward/std": stats["std_reward"],
        "accuracy": stats["accuracy"],
        "search/rate": stats["search_rate"],
        "search/per_rollout": stats["avg_search_attempts"],
        "search/found_correct_doc": stats["found_correct_doc"] / n,
        "search/repeated": stats["repeated_searches"],
        "response/model_tokens": stats["avg_response_tokens"],
        "response/turns": stats["avg_turns"],
        "response/answered": stats["attempted_answer"] / n,
        "groups/total": groups_total,
        "groups/kept": groups_kept,
        "groups/filtered_zero_variance": groups_filtered,
        "rollouts/answered": sum(t.finish_reason == "answer" for t in trajs),
        "rollouts/eos": sum(t.finish_reason == "eos" for t in trajs),
        "rollouts/max_turns": sum(t.finish_reason == "max_turns" for t in trajs),
        "rollouts/finished_early": sum(t.finish_reason != "max_turns" and t.num_turns <= max_turns for t in trajs),
        "tokens/total": int(batch.attention_mask.sum().item()),
        "tokens/trainable": int(batch.mask.sum().item()),
    }
    if batch.ref_logprobs is not None:  # KL(pi_old || pi_ref) on the sampled tokens, k3 (our estimator: a measurement)
        metrics["kl/ref"] = masked_mean(kl_estimate(batch.old_logprobs, batch.ref_logprobs, "k3"), batch.mask).item()
    if batch.values is not None:
        metrics["critic/values_mean"] = masked_mean(batch.values, batch.mask).item()
    return metrics


def step_details(
    tokenizer: object,
    batch: StepBatch,
    metrics: dict,
    *,
    kept: list[list[int]],
    rows: list[dict],
    rewards: list[float],
) -> str:
    """verbose=true: the group summary, two groups' turn-by-turn advantages and one rollout's tensors."""
    lines = [group_summary(metrics)]
    for idx in kept[:2]:
        g = idx[0] // len(idx)  # groups are consecutive rows of equal size
        question = rows[g]["extra_info"].get("question", "")[:60]
        lines.append(f"  turn-by-turn advantages, group {g} ({question!r})")
        lines.append(
            turn_advantage_table(
                batch.advantages[idx].cpu(), batch.mask[idx].cpu(), batch.turn_ids[idx], [rewards[r] for r in idx]
            )
        )
    if kept:  # the tensors of one rollout, token by token (chapter 06: one step walked through)
        r = kept[0][0]
        lines.append(f"  tensors of rollout {r} (reward {rewards[r]:.0f}), first trained tokens:")
        lines.append(token_table(tokenizer, batch, r))
    return "\n".join(lines)
