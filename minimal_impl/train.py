# Chapter 06 notes: learning_notes/06_training_engineering/README.md#one-step-walked-through
"""The training loop: agent RL with GRPO, RLOO or PPO, composed from the chapters' pieces.

    python -m minimal_impl.train --preset tiny_sample_nq                 # the CPU run of run_first_training.sh
    python -m minimal_impl.train --preset tiny_sample_nq --resume auto   # continue a stopped run
    python -m minimal_impl.train --preset tiny_sample_nq --impl my_solutions   # train with your own code
    python -m minimal_impl.train --preset tiny_sample_nq adv_estimator=gae total_steps=20 verbose=true

`train` orchestrates; `rl_step` is one RL step, the seven phases of chapter 01's diagram in order:

    1 rollout       rollout.py        rollout_n episodes per prompt, tool calls answered by BM25 (ch. 05)
    2 reward        tasks.py          rule rewards (ch. 04) on what the model wrote
    3 log-probs     batch.py          old (sampling policy) and reference log-probs, no grad
    4 values        batch.py          critic V(s_t) (PPO only)
    5 advantages    estimators.py     a registered estimator: GRPO, RLOO, GAE (ch. 03)
    6 actor update  update.py         actor_loss.py per micro-batch: clipped loss + KL + entropy, AdamW
    7 critic update update.py         clipped value loss (PPO only)

Around it: set-up and the warm-up (trainer_setup.py), a baseline evaluation, evaluations with early
stopping (`evaluate_and_track`), atomic checkpoints with exact resume (`save_progress`, checkpoint.py),
and logs (run_log.py). Everything is printed through one `log` function.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from . import checkpoint as ckpt
from . import viewer
from .batch import StepBatch, batched_logprobs, batched_values, build_step_batch
from .checkpoint import CheckpointError, DiskFullError
from .config import ConfigError, TrainConfig, build_config, describe
from .estimators import ADV_ESTIMATORS, AdvantageInputs
from .evaluate import evaluate
from .impl import REFERENCE, Impl, ImplError, check_impl, checks_table, load_impl, use_reference_for
from .run_log import RunLogger, banner, step_details, step_metrics
from .tasks import NonFiniteReward
from .trainer_setup import Run, setup_run
from .update import update_actor, update_critic


def prompt_row_order(num_rows: int, seed: int, step: int, batch: int) -> list[int]:
    """Rows of step `step` (1-based): consecutive slices of a fresh permutation per epoch.

    A pure function of (seed, step), so a resumed run draws exactly the prompts it would have drawn.
    Example: 10 rows, batch 4: steps 1, 2 and half of 3 visit each row once, then epoch 2 reshuffles.
    """
    out = []
    for g in range((step - 1) * batch, step * batch):
        epoch, position = divmod(g, num_rows)
        out.append(int(np.random.default_rng([seed, epoch]).permutation(num_rows)[position]))
    return out


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gib(device: torch.device) -> float:
    """Peak memory allocated by torch since the last reset, GiB (0 on a CPU)."""
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0


def logprobs_of(run: Run, model: torch.nn.Module, batch: StepBatch) -> torch.Tensor:
    """`[B, T]` log-probs of the batch's sampled tokens under `model`, at the sampling temperature, no grad."""
    c = run.config
    return batched_logprobs(
        model,
        batch,
        micro=c.ppo_micro_batch_size,
        temperature=c.temperature,
        actor_loss=run.impl.actor_loss,
        amp=run.amp,
    )


def reference_logprobs(run: Run, batch: StepBatch) -> torch.Tensor | None:
    """The reference's log-probs `[B, T]`: the frozen starting model, or with LoRA the policy without its
    adapters; None when no KL is used."""
    c = run.config
    if run.reference is not None:
        return logprobs_of(run, run.reference, batch)
    if c.lora_rank and (c.use_kl_loss or c.use_kl_in_reward):
        with run.policy.disable_adapter():
            return logprobs_of(run, run.policy, batch)
    return None


class TrainingFailed(RuntimeError):
    """The run cannot go on (numbers went non-finite); the message names the likely cause."""


def count_skipped_steps(run: Run, skips: list[bool]) -> None:
    """Count the optimizer steps skipped for a non-finite gradient norm (in a row, and since the last eval)."""
    for skipped in skips:
        run.state.skipped_in_a_row = run.state.skipped_in_a_row + 1 if skipped else 0
        run.state.skipped_since_eval += skipped


def stop_if_diverged(run: Run) -> None:
    """Too many skipped optimizer steps in a row: the run has diverged; stop it, saying why."""
    state, c = run.state, run.config
    if state.skipped_in_a_row >= c.max_skipped_steps_in_a_row:
        raise TrainingFailed(
            f"the last {state.skipped_in_a_row} optimizer steps were all skipped: their gradient norm was NaN or "
            f"infinite (limit max_skipped_steps_in_a_row={c.max_skipped_steps_in_a_row}). Likely cause: a learning "
            f"rate too high for this model (actor_lr={c.actor_lr}, critic_lr={c.critic_lr}) made the weights blow "
            "up, or a NaN entered the loss (look at actor/pg_loss, kl/ref and the advantages with verbose=true). "
            "Nothing after the newest checkpoint is saved; resume from it with a smaller learning rate "
            "(--allow-config-change)."
        )


def overlong_shaping(run: Run, trajs: list, rewards: list[float]) -> tuple[list[float], dict]:
    """Chapter 08: reward + DAPO's overlong penalty on the tokens the model wrote (observations are not the
    model's length; verl counts them too). The task's own rewards still make the accuracy metrics."""
    c = run.config
    if not c.overlong_buffer_len:
        return rewards, {}
    lengths = torch.tensor([sum(len(ids) for ids, generated in t.segments if generated) for t in trajs])  # [B]
    penalty = run.impl.rollout_correction.overlong_penalty(
        lengths, c.max_model_tokens, c.overlong_buffer_len, c.overlong_penalty_factor
    )  # [B], <= 0
    return [r + p for r, p in zip(rewards, penalty.tolist())], {"reward/overlong_penalty": penalty.mean().item()}


def rollout_correction(run: Run, batch: StepBatch) -> dict:
    """Chapter 08: weights pi_old / pi_rollout for the policy loss (TIS or IcePop) and the size of the mismatch
    between the sampler's log-probs and the trainer's; {} when rollout_correction=off."""
    c = run.config
    if c.rollout_correction == "off":
        return {}
    log_ratio = batch.old_logprobs - batch.rollout_logprobs  # [B, T] log pi_old - log pi_rollout
    batch.is_weights, stats = run.impl.rollout_correction.rollout_is_weights(
        log_ratio, batch.mask, level=c.rollout_correction, threshold=c.rollout_is_threshold
    )
    return {f"rollout_corr/{k}": v for k, v in stats.items()}


def rl_step(run: Run, step: int) -> dict:
    """One RL step: phases 1-7 in order. Returns the step's metrics."""
    c, impl, say = run.config, run.impl, (run.log if run.config.verbose else lambda _text: None)
    t_step = time.time()
    rows = [
        run.task.train_rows[i] for i in prompt_row_order(len(run.task.train_rows), c.seed, step, c.train_batch_size)
    ]
    episode_rows = [row for row in rows for _ in range(c.rollout_n)]  # B = prompts x rollout_n episodes
    group_ids = [g for g in range(len(rows)) for _ in range(c.rollout_n)]  # [B] the prompt of each episode
    group_rows = [[g * c.rollout_n + k for k in range(c.rollout_n)] for g in range(len(rows))]

    # ---- 1 rollout: sample rollout_n episodes per prompt; every search goes to the retriever
    say(banner(f"step {step}: phase 1 rollout ({len(episode_rows)} episodes)"))
    reset_peak_memory(run.device)
    trajs = run.rollout([run.prompt_ids(r) for r in episode_rows], greedy=False)
    t_rollout, rollout_peak = time.time() - t_step, peak_memory_gib(run.device)
    run.backend.release_memory()  # vLLM: its KV cache is idle until the next rollout

    # ---- 2 reward: a rule reward per episode, on the text the model wrote
    rewards = run.task.score_batch(trajs, episode_rows, run.tokenizer)  # finite numbers, or an error naming the episode
    shaped, shaping = overlong_shaping(run, trajs, rewards)  # chapter 08: DAPO's soft length penalty, if on
    scores = torch.tensor(shaped, device=run.device)  # [B]
    batch = build_step_batch(
        trajs, pad_id=run.pad_id, mask_tool_output=c.mask_tool_output, device=run.device, tools=impl.tool_calls
    )

    # ---- 3 log-probs: log pi_old(a_t|s_t) of the sampling policy and log pi_ref of the reference, no grad
    t_update = time.time()
    reset_peak_memory(run.device)
    batch.old_logprobs = logprobs_of(run, run.policy, batch)  # [B, T]
    batch.ref_logprobs = reference_logprobs(run, batch)  # [B, T] or None
    correction = rollout_correction(run, batch)  # chapter 08: batch.is_weights = pi_old / pi_rollout, bounded

    # ---- 4 values: V(s_t) of the critic (PPO only)
    if run.critic is not None:
        batch.values = batched_values(run.critic, batch, micro=c.ppo_micro_batch_size, amp=run.amp)  # [B, T]

    # ---- 5 advantages: the registered estimator; groups whose rewards are all equal carry no signal
    say(banner(f"step {step}: phase 5 advantages ({c.adv_estimator})"))
    estimator = ADV_ESTIMATORS[c.adv_estimator]
    result = estimator.fn(AdvantageInputs(scores, group_ids, batch, c, impl, run.kl_ctrl))
    batch.advantages, batch.returns = result.advantages, result.returns  # [B, T], [B, T] or None
    zero_var = [g for g, rs in enumerate(group_rows) if len({shaped[r] for r in rs}) == 1]
    drop = c.filter_zero_variance_groups and estimator.group_relative
    kept = [rs for g, rs in enumerate(group_rows) if not (drop and g in zero_var)]

    # ---- 6 actor update: clipped policy loss + KL + entropy, mini-batches of whole groups
    say(banner(f"step {step}: phase 6 backpropagation ({len(kept)} of {len(group_rows)} groups)"))
    generator = torch.Generator().manual_seed(c.seed * 1_000_003 + step)  # the mini-batch shuffle
    update, skips = {"actor/optimizer_steps": 0}, []
    if kept:
        update, skips = update_actor(run, batch, group_rows=kept, generator=generator)

    # ---- 7 critic update: clipped value loss on the returns (PPO only)
    if run.critic is not None:
        critic_update, critic_skips = update_critic(run, batch, group_rows=kept or group_rows, generator=generator)
        update.update(critic_update)
        skips = [a or b for a, b in zip(skips, critic_skips)] if skips else critic_skips
    count_skipped_steps(run, skips)  # too many in a row stop the run (rl_loop, after the step is logged)
    run.backend.sync_weights(run.policy)  # vLLM samples from its own copy of the weights
    t_update = time.time() - t_update

    filtered = len(zero_var) if c.filter_zero_variance_groups else 0
    metrics = step_metrics(run, trajs, episode_rows, rewards, batch, groups=(len(group_rows), len(kept), filtered))
    metrics.update(
        {"timing/rollout": t_rollout, "timing/update": t_update, **result.metrics, **update, **correction, **shaping}
    )
    metrics["timing/step"] = time.time() - t_step
    if run.device.type == "cuda":  # per phase: chapter 07 compares these with memory.py's estimate
        metrics["memory/rollout_peak_gib"] = rollout_peak
        metrics["memory/update_peak_gib"] = peak_memory_gib(run.device)
    if c.verbose:
        run.log(step_details(run.tokenizer, batch, metrics, kept=kept, rows=rows, rewards=rewards))
    if c.save_rollouts and is_eval_step(c, step):  # the rollout viewer: this step's first groups, token by token
        record_training(run, step, trajs, episode_rows, rewards, batch)
    return metrics


def is_eval_step(c: TrainConfig, step: int) -> bool:
    return step % c.eval_steps == 0 or step == c.total_steps


def record_training(run: Run, step: int, trajs: list, rows: list[dict], rewards: list[float], batch: StepBatch) -> None:
    """Viewer: the first `viewer_groups` groups of the step, with their token tensors after the update."""
    c = run.config
    n = min(c.viewer_groups * c.rollout_n, len(trajs))
    new_logprobs = logprobs_of(run, run.policy, batch.select(range(n)))  # [n, T] pi_theta after the update
    records = []
    for i in range(n):
        record = viewer.episode_record(
            trajs[i], rows[i], rewards[i], tokenizer=run.tokenizer, golden=run.task.golden(rows[i])
        )
        tensors = viewer.training_tensors(
            batch,
            i,
            prompt_len=len(trajs[i].prompt_ids),
            new_logprobs=new_logprobs[i],
            clip=(c.clip_ratio_low, c.clip_ratio_high),
        )
        records.append(
            {
                **record,
                "kind": "train",
                "step": step,
                "group": i // c.rollout_n,
                "sample": i % c.rollout_n,
                "tensors": tensors,
            }
        )
    viewer.write_records(c.run_dir, step, records, fresh=True)


def eval_recorder(run: Run, step: int) -> Callable[[list, list[float]], None] | None:
    """Viewer: records the first `viewer_eval_samples` evaluation episodes of `step` (None: not saving)."""
    c = run.config
    if not c.save_rollouts:
        return None

    def record(trajs: list, rewards: list[float]) -> None:
        k = min(c.viewer_eval_samples, len(trajs))
        records = [
            {
                **viewer.episode_record(
                    trajs[i],
                    run.eval_rows[i],
                    rewards[i],
                    tokenizer=run.tokenizer,
                    golden=run.task.golden(run.eval_rows[i]),
                ),
                "kind": "eval",
                "step": step,
                "index": i,
            }
            for i in range(k)
        ]
        viewer.write_records(c.run_dir, step, records, fresh=step == 0)

    return record


def render_pages(run: Run) -> None:
    """Viewer: (re)write the pages after an evaluation."""
    if run.config.save_rollouts:
        index = viewer.render_run(run.config.run_dir, log=run.log)
        run.log(f"[viewer] {index}")


# ------------------------------------------------------------------------- evaluation and checkpoints


def eval_metrics(result: dict) -> dict:
    """The numeric fields of an evaluation, as `eval/<name>` metrics."""
    return {f"eval/{k}": v for k, v in result.items() if isinstance(v, (int, float)) and k != "step"}


def baseline_evaluation(run: Run, logger: RunLogger) -> dict:
    """Step 0: the evaluation of the model RL starts from (reused from baseline_eval.json when asked)."""
    path = run.config.run_dir / "baseline_eval.json"
    if path.is_file() and (run.resumed_from or not run.config.run_baseline_eval):
        baseline = json.loads(path.read_text(encoding="utf-8"))
        run.log(f"[eval] reusing {path}: accuracy {baseline['accuracy']:.3f}")
        if not run.resumed_from:  # a fresh metrics.jsonl starts with the baseline, as when it is computed
            logger.log(0, eval_metrics(baseline))
        return baseline
    baseline = evaluate(
        run.task, run.eval_rows, run.rollout, run.prompt_ids, run.tokenizer, step=0, on_episodes=eval_recorder(run, 0)
    )
    ckpt.write_json_atomic(path, baseline)
    render_pages(run)
    logger.log(0, eval_metrics(baseline))
    run.log(f"[eval] baseline (step 0): accuracy {baseline['accuracy']:.3f}, search rate {baseline['search_rate']:.2f}")
    return baseline


def evaluate_and_track(run: Run, step: int, logger: RunLogger, baseline: dict) -> str | None:
    """Evaluate (greedy), keep the best model, and decide on early stopping: the reason to stop, or None."""
    c, state = run.config, run.state
    result = evaluate(
        run.task,
        run.eval_rows,
        run.rollout,
        run.prompt_ids,
        run.tokenizer,
        step=step,
        on_episodes=eval_recorder(run, step),
    )
    ckpt.write_json_atomic(c.run_dir / "eval_logs" / f"eval_step_{step:04d}.json", result)
    logger.log(step, eval_metrics(result))
    # a model evaluated after skipped optimizer steps (non-finite gradients) is never taken as the best one
    improved = result["accuracy"] > state.best_accuracy and state.skipped_since_eval == 0
    if state.skipped_since_eval:
        run.log(
            f"[eval] {state.skipped_since_eval} optimizer steps were skipped since the last evaluation: not a best model"
        )
    state.skipped_since_eval = 0
    if improved:
        state.best_accuracy, state.evals_without_improvement = result["accuracy"], 0
        metadata = {"step": step, "accuracy": result["accuracy"], "eval": f"eval_logs/eval_step_{step:04d}.json"}
        state.best_model_path = str(ckpt.save_model_dir(c.run_dir, "best_model", run.policy, run.tokenizer, metadata))
    else:
        state.evals_without_improvement += 1
    run.log(
        f"[eval] step {step}: accuracy {result['accuracy']:.3f} (baseline {baseline['accuracy']:.3f}, best "
        f"{state.best_accuracy:.3f}), search rate {result['search_rate']:.2f}, found_correct_doc "
        f"{result['found_correct_doc']}/{result['total_samples']}" + (" -> best_model/" if improved else "")
    )
    if c.target_accuracy and result["accuracy"] >= c.target_accuracy:
        return f"target accuracy {c.target_accuracy} reached"
    if c.early_stopping_patience and state.evals_without_improvement >= c.early_stopping_patience:
        return f"early stopping: {c.early_stopping_patience} evaluations without improvement"
    return None


def save_progress(run: Run, step: int, metrics: dict) -> Path:
    """checkpoint-<step>/ with everything needed to continue exactly, then keep the newest few."""
    c = run.config
    run.state.kl_coef = run.kl_ctrl.value
    path = ckpt.save_checkpoint(
        c.run_dir,
        step,
        run.policy,
        run.tokenizer,
        run.optimizer,
        run.scheduler,
        run.state.to_dict(),
        metrics,
        run.critic,
        run.critic_optimizer,
    )
    removed = ckpt.rotate(c.run_dir, c.save_total_limit)
    run.log(f"[checkpoint] {path}" + (f" (removed {', '.join(removed)})" if removed else ""))
    return path


class StopRequest:
    """Ctrl-C or SIGTERM during the RL loop: the first finishes the current step, saves it under its own
    number and stops (exactly resumable); a second stops at once and saves nothing new (the run resumes
    from its last checkpoint). Outside the loop, and off the main thread, signals keep their defaults."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log, self.signal_name, self.previous = log, "", {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.signal_name:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        self.log(f"[stop] {self.signal_name}: finishing this step, then saving it (again to stop at once)")

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


# -------------------------------------------------------------------------------------------- train


def load_checked_impl(config: TrainConfig, log: Callable[[str], None]) -> Impl:
    """Ours as it is; another package only after the checks of tests/checks pass on it (or when allowed)."""
    if config.impl == REFERENCE:
        return load_impl()
    impl, rows = check_impl(config.impl)
    table = checks_table(config.impl, rows)
    if any(row.status != "PASS" for row in rows):
        if not config.allow_failing_checks:
            raise ImplError(
                f"{table}\nnot training on {config.impl}: implement or fix the rows above (pytest "
                f"tests/test_exercises.py --impl {config.impl} shows every check), or pass --allow-failing-checks "
                "to train anyway (exercises not implemented then use ours)"
            )
        replaced = use_reference_for(impl, rows)
        log(table)
        stand_in = f"; ours stands in for {', '.join(replaced)}" if replaced else ""
        log(f"[impl] --allow-failing-checks: training on {config.impl} as written{stand_in}")
    else:
        log(table)
    impl.check_rows = rows
    return impl


def train(config: TrainConfig, log: Callable[[str], None] | None = None) -> dict:
    """Run (or resume) a training run; returns the summary also written to summary.json."""
    log = log or tqdm.write  # one channel for every message; tqdm.write keeps the progress bar intact
    t_start = time.time()
    impl = load_checked_impl(config, log)
    lock = ckpt.lock_run_dir(config.run_dir)  # before anything is read or written: one run per directory
    try:
        return run_and_summarize(setup_run(config, impl=impl, log=log), t_start)
    finally:
        lock.close()  # the directory is free again (the kernel releases it at exit anyway, kill -9 included)


def run_and_summarize(run: Run, t_start: float) -> dict:
    """The baseline, the RL loop, the final model and summary.json."""
    config, impl, log = run.config, run.impl, run.log
    if run.resumed_from:
        viewer.forget_after(config.run_dir, run.state.global_step)
    with contextlib.closing(
        RunLogger(config.run_dir, run.state.global_step, config.use_wandb, config.to_dict(), log=log)
    ) as logger:
        (config.run_dir / "eval_logs").mkdir(exist_ok=True)
        baseline = baseline_evaluation(run, logger)
        stop_reason = rl_loop(run, logger, baseline)
    interrupted = stop_reason.startswith("interrupted")
    if not interrupted:
        metadata = {"step": run.state.global_step, "stop_reason": stop_reason}
        ckpt.save_model_dir(config.run_dir, "final", run.policy, run.tokenizer, metadata)
    summary = {
        "run_dir": str(config.run_dir),
        "steps": run.state.global_step,
        "baseline_accuracy": baseline["accuracy"],
        "best_accuracy": run.state.best_accuracy,
        "best_model_path": run.state.best_model_path,
        "target_accuracy": config.target_accuracy or None,
        "target_reached": bool(config.target_accuracy and run.state.best_accuracy >= config.target_accuracy),
        "stop_reason": stop_reason,
        "implementation": implementation_summary(impl),
        "total_time_s": round(time.time() - t_start, 1),
    }
    ckpt.write_json_atomic(config.run_dir / "summary.json", summary)
    log(banner("summary"))
    for key, value in summary.items():
        log(f"  {key:18s} {value}")
    if interrupted:
        log(f"  resume with: python -m minimal_impl.train --preset <preset> run_name={config.run_name} --resume auto")
    return summary


def rl_loop(run: Run, logger: RunLogger, baseline: dict) -> str:
    """Steps until total_steps, a stop condition or a signal: log, evaluate, checkpoint. Returns why it stopped."""
    c, state = run.config, run.state
    last_saved = state.global_step
    progress = tqdm(total=c.total_steps, initial=state.global_step, desc="RL steps", unit="step", disable=None)
    try:
        with StopRequest(run.log) as stop:
            for step in range(state.global_step + 1, c.total_steps + 1):
                metrics = rl_step(run, step)
                logger.log(step, metrics)
                stop_if_diverged(run)
                progress.update(1)
                if step % c.log_every == 0:
                    run.log(console_line(step, c.total_steps, metrics))
                state.global_step = step
                reason = None
                if is_eval_step(c, step):
                    reason = evaluate_and_track(run, step, logger, baseline)
                    render_pages(run)
                if stop.signal_name and not reason:
                    reason = f"interrupted ({stop.signal_name})"
                if step % c.save_steps == 0 or step == c.total_steps or reason:
                    save_progress(run, step, metrics)
                    last_saved = step
                if reason:
                    return reason
    except KeyboardInterrupt:  # a second signal: stop now, nothing new saved
        run.log(f"[stop] stopped at once; the run resumes from checkpoint-{last_saved} (--resume auto)")
        return "interrupted"
    finally:
        progress.close()
    return "total_steps reached"


def console_line(step: int, total: int, m: dict) -> str:
    """The one-line summary of a step; a step that trained nothing (every group filtered) shows "-" for the
    update's numbers rather than 0, which would read as a collapsed entropy."""

    def num(key: str, spec: str) -> str:
        return "-" if m.get(key) is None else format(m[key], spec)

    return (
        f"step {step:4d}/{total} | reward {m['reward/mean']:.3f} | acc {m['accuracy']:.3f} | "
        f"search {m['search/rate']:.2f} | kl {num('kl/ref', '.4f')} | ent {num('actor/entropy', '.3f')} | "
        f"len {m['response/model_tokens']:.1f} | clip {num('actor/clipfrac', '.3f')} | {m['timing/step']:.1f}s"
    )


def implementation_summary(impl: Impl) -> dict:
    """Which implementation trained, for summary.json: the package, its checks, what ours replaced."""
    rows = impl.check_rows
    return {
        "package": impl.package,
        "checks": {status: [r.exercise for r in rows if r.status == status] for status in ("FAIL", "NOT IMPLEMENTED")}
        | {"PASS": sum(r.status == "PASS" for r in rows)},
        "from_reference": impl.from_reference,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", help="a preset name (minimal_impl/presets/) or a YAML path")
    parser.add_argument("--resume", help="auto (newest complete checkpoint of the run) or a checkpoint path")
    parser.add_argument("--impl", help="train with this package's gae, ppo, kl, grpo, ... (default: minimal_impl)")
    parser.add_argument("--allow-failing-checks", action="store_true", help="with --impl: train even if checks fail")
    parser.add_argument("--help-config", action="store_true", help="list every config key with its default and meaning")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, applied after the preset")
    args = parser.parse_args(argv)
    if args.help_config:
        print(describe())
        return 0
    extra = [f"resume={args.resume}"] if args.resume else []
    extra += [f"impl={args.impl}"] if args.impl else []
    extra += ["allow_failing_checks=true"] if args.allow_failing_checks else []
    config = None
    try:
        config = build_config(args.preset, args.overrides + extra)
        summary = train(config)
    except (ConfigError, ImplError, CheckpointError, FileNotFoundError) as err:  # what the user gave: fix it
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (TrainingFailed, NonFiniteReward, DiskFullError) as err:  # the run stopped; what it saved is intact
        print(f"error: {err}", file=sys.stderr)
        return 3
    except OSError as err:
        if not ckpt.is_disk_full(err, Path(config.output_dir)):
            raise
        print(
            f"error: no space left on device ({err.filename or config.output_dir}): free some space, then "
            "rerun (or resume with --resume auto); saved checkpoints are intact",
            file=sys.stderr,
        )
        return 3
    except KeyboardInterrupt:
        print(
            "\ninterrupted before the first step: rerun the same command (--resume auto continues a run that "
            "has checkpoints)",
            file=sys.stderr,
        )
        return 130
    return 130 if summary["stop_reason"].startswith("interrupted") else 0


if __name__ == "__main__":
    sys.exit(main())
