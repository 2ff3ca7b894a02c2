# Chapter 06 notes: learning_notes/06_training_engineering/README.md#evaluation-logs
"""Evaluation: one greedy episode per test prompt, and the statistics a search agent is judged by.

Greedy decoding makes an evaluation a deterministic function of the weights (and leaves the random
state of training untouched, which exact resume relies on). The JSON written per evaluation holds:
step, accuracy, correct_answers, total_samples, attempted_answer, avg/median/std/min/max reward,
found_correct_doc (a golden answer appeared in retrieved information), search_rate, avg_turns,
avg_turns_correct, avg_search_attempts, total/unique/repeated searches, num_idk, eval_time, and a few
example episodes.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from .episode import Trajectory
from .tasks import Task, is_idk


def episode_stats(
    task: Task, trajs: list[Trajectory], rows: list[dict], rewards: list[float], tokenizer: object
) -> dict:
    """Counts over a list of episodes (used by evaluation and by the training logs)."""
    n = len(trajs)
    correct = [r >= 1.0 for r in rewards]
    searches = [len(t.search_queries) for t in trajs]
    unique = [len(set(t.search_queries)) for t in trajs]
    turns = [t.num_turns for t in trajs]
    turns_correct = [t for t, c in zip(turns, correct) if c]
    found = sum(task.found_correct_doc(t, tokenizer, row) for t, row in zip(trajs, rows))
    return {
        "accuracy": sum(correct) / n if n else 0.0,
        "correct_answers": sum(correct),
        "total_samples": n,
        "attempted_answer": sum(t.answered for t in trajs) if task.protocol is not None else n,
        "avg_reward": statistics.fmean(rewards) if n else 0.0,
        "median_reward": statistics.median(rewards) if n else 0.0,
        "std_reward": statistics.pstdev(rewards) if n else 0.0,
        "min_reward": min(rewards) if n else 0.0,
        "max_reward": max(rewards) if n else 0.0,
        "found_correct_doc": found,
        "search_rate": sum(s > 0 for s in searches) / n if n else 0.0,
        "avg_turns": statistics.fmean(turns) if n else 0.0,
        "avg_turns_correct": statistics.fmean(turns_correct) if turns_correct else 0.0,
        "avg_search_attempts": statistics.fmean(searches) if n else 0.0,
        "total_searches": sum(searches),
        "unique_searches": sum(unique),
        "repeated_searches": sum(searches) - sum(unique),
        "num_idk": sum(is_idk(t.answer) for t in trajs),
        "avg_response_tokens": statistics.fmean(sum(len(ids) for ids, g in t.segments if g) for t in trajs)
        if n
        else 0.0,
    }


def evaluate(
    task: Task,
    rows: list[dict],
    rollout: Callable[[list[list[int]], bool], list[Trajectory]],
    prompt_ids: Callable[[dict], list[int]],
    tokenizer: object,
    step: int,
    num_examples: int = 5,
    on_episodes: Callable[[list[Trajectory], list[float]], None] | None = None,
) -> dict:
    """Greedy episodes on `rows`; returns the statistics (the caller writes them). `on_episodes(trajs,
    rewards)` sees the episodes themselves (the rollout viewer records a sample of them)."""
    start = time.time()
    trajs = rollout([prompt_ids(r) for r in rows], True)
    rewards = task.score_batch(trajs, rows, tokenizer)
    if on_episodes is not None:
        on_episodes(trajs, rewards)
    stats = {"step": step, **episode_stats(task, trajs, rows, rewards, tokenizer)}
    stats["eval_time"] = round(time.time() - start, 3)
    stats["examples"] = [
        {
            "question": r["extra_info"].get("question", ""),
            "golden": task.golden(r),
            "response": tokenizer.decode([x for ids, _ in t.segments for x in ids], skip_special_tokens=False),
            "answer": t.answer,
            "reward": rw,
        }
        for t, r, rw in list(zip(trajs, rows, rewards))[:num_examples]
    ]
    return stats
