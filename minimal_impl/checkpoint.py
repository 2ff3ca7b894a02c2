# Chapter 06 notes: learning_notes/06_training_engineering/README.md#checkpoints-and-resume
"""Checkpoints that survive a kill at any moment, and a resume that continues exactly where it stopped.

A checkpoint is a directory `checkpoint-N/` (N = global step):

    model.safetensors, config.json, ...   the policy (or its LoRA adapter), `save_pretrained`
    tokenizer.json, ...                    the tokenizer, so the directory loads on its own
    optimizer.pt, scheduler.pt             AdamW moments and the learning-rate schedule
    rng_state.pt                           Python, NumPy and torch (CPU and CUDA) random states
    critic/, critic_optimizer.pt           PPO only
    training_state.json                    global_step, best_accuracy, best_model_path,
                                           evals_without_improvement, kl_coef
    training_metadata.json                 the metrics of step N

It is written into `checkpoint-N.tmp-<pid>/` and renamed into place only when complete: a rename is
atomic, so a kill during a save leaves the previous checkpoint untouched and, at worst, a `.tmp-*`
directory that the next start removes. `find_latest` only ever returns complete checkpoints.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path

import numpy as np
import torch

STATE_FILE = "training_state.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write JSON to `path` through a temporary file and a rename (readers never see half a file)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def rng_state() -> dict:
    """Every random generator the run draws from."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_pretrained_dir(model: torch.nn.Module, tokenizer: object, path: Path) -> None:
    """`save_pretrained` of the model (or adapter) and the tokenizer into `path`."""
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))


def publish(tmp: Path, final: Path) -> None:
    """Move a fully written directory into place: replace `final` atomically (old copy removed after)."""
    for file in tmp.rglob("*"):
        if file.is_file():
            with file.open("rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(tmp)
    old = None
    if final.exists():
        old = final.with_name(f"{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_checkpoint(
    run_dir: Path,
    step: int,
    model: torch.nn.Module,
    tokenizer: object,
    optimizer: torch.optim.Optimizer,
    scheduler: object,
    training_state: dict,
    metrics: dict,
    critic: torch.nn.Module | None = None,
    critic_optimizer: torch.optim.Optimizer | None = None,
) -> Path:
    """Write `run_dir/checkpoint-<step>/` atomically; returns its path."""
    final = run_dir / f"checkpoint-{step}"
    tmp = run_dir / f"checkpoint-{step}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_pretrained_dir(model, tokenizer, tmp)
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    torch.save(rng_state(), tmp / "rng_state.pt")
    if critic is not None:
        critic.save_pretrained(str(tmp / "critic"))
        torch.save(critic_optimizer.state_dict(), tmp / "critic_optimizer.pt")
    (tmp / "training_metadata.json").write_text(json.dumps({"global_step": step, **metrics}, indent=2), "utf-8")
    # the state file goes last: a directory without it is incomplete by definition
    (tmp / STATE_FILE).write_text(json.dumps({**training_state, "global_step": step}, indent=2), "utf-8")
    publish(tmp, final)
    return final


def is_complete(path: Path) -> bool:
    """A checkpoint directory whose training_state.json exists and parses."""
    try:
        json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
        return bool(_CHECKPOINT.match(path.name))
    except (OSError, ValueError):
        return False


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoint-N directories, oldest first."""
    if not run_dir.is_dir():
        return []
    found = [p for p in run_dir.iterdir() if p.is_dir() and _CHECKPOINT.match(p.name) and is_complete(p)]
    return sorted(found, key=lambda p: int(_CHECKPOINT.match(p.name).group(1)))


def find_latest(run_dir: Path) -> Path | None:
    """The newest complete checkpoint, or None."""
    checkpoints = list_checkpoints(run_dir)
    return checkpoints[-1] if checkpoints else None


def remove_partial(run_dir: Path) -> list[str]:
    """Delete leftovers of interrupted saves (`*.tmp-*`, `*.old-*`); returns their names."""
    removed = []
    if run_dir.is_dir():
        for path in run_dir.iterdir():
            if ".tmp-" in path.name or ".old-" in path.name:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
                removed.append(path.name)
    return removed


def rotate(run_dir: Path, keep: int) -> list[str]:
    """Keep the newest `keep` checkpoints (0 keeps all); returns the names removed."""
    checkpoints = list_checkpoints(run_dir)
    if keep <= 0 or len(checkpoints) <= keep:
        return []
    removed = []
    for path in checkpoints[:-keep]:
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed


def load_training_state(path: Path) -> dict:
    return json.loads((path / STATE_FILE).read_text(encoding="utf-8"))


def load_into(
    path: Path,
    optimizer: torch.optim.Optimizer,
    scheduler: object,
    critic_optimizer: torch.optim.Optimizer | None = None,
) -> dict:
    """Restore optimizer, scheduler and RNG states from a checkpoint (the weights are loaded by the caller)."""
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=False))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=False))
    if critic_optimizer is not None:
        critic_optimizer.load_state_dict(torch.load(path / "critic_optimizer.pt", weights_only=False))
    set_rng_state(torch.load(path / "rng_state.pt", weights_only=False))
    return load_training_state(path)


def save_model_dir(run_dir: Path, name: str, model: torch.nn.Module, tokenizer: object, metadata: dict) -> Path:
    """Write `run_dir/<name>/` (best_model, final, warmup) atomically, with a metadata.json."""
    final = run_dir / name
    tmp = run_dir / f"{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_pretrained_dir(model, tokenizer, tmp)
    (tmp / "metadata.json").write_text(json.dumps(metadata, indent=2), "utf-8")
    publish(tmp, final)
    return final
