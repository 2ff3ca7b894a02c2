# Chapter 06 notes: learning_notes/06_training_engineering/README.md#checkpoints-and-resume
"""Checkpoints that survive a kill at any moment, and a resume that continues exactly where it stopped.

A checkpoint is a directory `checkpoint-N/` (N = global step):

    model.safetensors, config.json, ...   the policy (or its LoRA adapter), `save_pretrained`
    tokenizer.json, ...                    the tokenizer, so the directory loads on its own
    optimizer.pt, scheduler.pt             AdamW moments and the learning-rate schedule
    rng_state.pt                           Python, NumPy and torch (CPU and CUDA) random states
    critic/, critic_optimizer.pt           PPO only
    training_state.json                    global_step, best_accuracy, best_model_path,
                                           evals_without_improvement, kl_coef, skipped-step counters
    training_metadata.json                 the metrics of step N
    run_config.json                        the configuration that trained it (resume compares it)
    manifest.json                          size and sha256 of every file above, written last

It is written into `checkpoint-N.tmp-<pid>/` and renamed into place only when complete: a rename is
atomic, so a kill during a save leaves the previous checkpoint untouched and, at worst, a `.tmp-*`
directory that the next start removes. A checkpoint is used only if it *verifies*: its manifest is there
and every file has the size and checksum it lists, and its training state is well-formed. `find_resumable`
walks back from the newest checkpoint to the newest one that verifies, and sets aside (renames, never
deletes) the ones that do not. `lock_run_dir` keeps a second run out of a directory in use.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

STATE_FILE = "training_state.json"
MANIFEST = "manifest.json"
CONFIG_FILE = "run_config.json"
LOCK_FILE = ".lock"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# training_state.json must hold these, with these types (a `{}` or a truncated state is not a checkpoint)
STATE_TYPES = {
    "global_step": int,
    "best_accuracy": (int, float),
    "best_model_path": (str, type(None)),
    "evals_without_improvement": int,
}


class CheckpointError(RuntimeError):
    """A run directory that cannot be resumed as it is (the message says which file and what to do)."""


class DiskFullError(RuntimeError):
    """No space left while writing: nothing written so far is lost (saves are atomic)."""


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
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict | None:
    """A JSON object from `path`, or None if it is missing, unreadable, torn or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: Path) -> None:
    """manifest.json: the size and sha256 of every file under `directory`; written last, atomically."""
    files = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            files[path.relative_to(directory).as_posix()] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    write_json_atomic(directory / MANIFEST, {"version": 1, "files": files})


def verify(directory: Path, checksums: bool = True) -> str | None:
    """None if `directory` holds every file its manifest lists, with the listed sizes (and checksums);
    else the first reason it does not, naming the file. Example: "optimizer.pt: 1200 bytes, expected 5400"."""
    manifest = read_json(directory / MANIFEST)
    if manifest is None or not isinstance(manifest.get("files"), dict) or not manifest["files"]:
        return f"{MANIFEST} is missing or unreadable (an incomplete save, or written by an older version)"
    for name, entry in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if size != entry.get("size"):
            return f"{name}: {size} bytes, expected {entry.get('size')} (truncated or changed)"
        if checksums and _sha256(path) != entry.get("sha256"):
            return f"{name}: checksum differs from the manifest (the file was changed or corrupted)"
    return None


def state_problem(path: Path) -> str | None:
    """None if training_state.json is well-formed for checkpoint `path`, else what is wrong with it."""
    state = read_json(path / STATE_FILE)
    if state is None:
        return f"{STATE_FILE} is missing or not a JSON object"
    for key, kind in STATE_TYPES.items():
        if key not in state or isinstance(state[key], bool) or not isinstance(state[key], kind):
            return f"{STATE_FILE}: {key!r} is missing or not a {getattr(kind, '__name__', kind)}"
    match = _CHECKPOINT.match(path.name)
    if match and state["global_step"] != int(match.group(1)):
        return f"{STATE_FILE}: global_step {state['global_step']} in {path.name}"
    return None


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
    config: dict | None = None,
) -> Path:
    """Write `run_dir/checkpoint-<step>/` atomically, manifest last; returns its path."""

    def write(tmp: Path) -> None:
        save_pretrained_dir(model, tokenizer, tmp)
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        torch.save(rng_state(), tmp / "rng_state.pt")
        if critic is not None:
            critic.save_pretrained(str(tmp / "critic"))
            torch.save(critic_optimizer.state_dict(), tmp / "critic_optimizer.pt")
        (tmp / "training_metadata.json").write_text(json.dumps({"global_step": step, **metrics}, indent=2), "utf-8")
        if config is not None:
            (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2), "utf-8")
        (tmp / STATE_FILE).write_text(json.dumps({**training_state, "global_step": step}, indent=2), "utf-8")

    return _write_dir(run_dir, f"checkpoint-{step}", write)


def _write_dir(run_dir: Path, name: str, write: Callable[[Path], None]) -> Path:
    """Write a directory through `name.tmp-<pid>/`, add its manifest, and publish it atomically.

    On any failure the temporary directory is removed (it may be what filled the disk) and a full disk
    becomes a DiskFullError that says so; the previous `name/` is untouched either way.
    """
    final, tmp = run_dir / name, run_dir / f"{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        write(tmp)
        write_manifest(tmp)
        publish(tmp, final)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, Exception) and is_disk_full(err, run_dir):
            raise DiskFullError(
                f"no space left on device while writing {final} ({free_mib(run_dir):.0f} MiB free). Nothing "
                "already saved is lost: free some space, then resume the run with --resume auto."
            ) from None
        raise
    return final


def is_disk_full(err: BaseException, path: Path) -> bool:
    """ENOSPC, or one of the errors a full disk causes further down (torch's zip writer: "unexpected pos")."""
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(err)
    if any(mark in text for mark in ("unexpected pos", "No space left", "file write failed")):
        return True
    return free_mib(path) < 1.0


def free_mib(path: Path) -> float:
    """Free space on the file system holding `path` (or its nearest existing parent), MiB."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free / 2**20
    except OSError:
        return float("inf")


def is_complete(path: Path) -> bool:
    """A checkpoint-N directory whose manifest lists files of the right sizes and whose state is well-formed
    (cheap: no checksums; `find_resumable` checks those before a checkpoint is used)."""
    return bool(_CHECKPOINT.match(path.name)) and verify(path, checksums=False) is None and state_problem(path) is None


def checkpoint_problem(path: Path) -> str | None:
    """None if checkpoint `path` can be resumed from (manifest, sizes, checksums, state), else why not."""
    if not path.is_dir():
        return "not a directory"
    if not _CHECKPOINT.match(path.name):
        return "not a checkpoint-N directory"
    return verify(path) or state_problem(path)


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoint-N directories (cheap check), oldest first."""
    return [p for p in _checkpoint_dirs(run_dir) if is_complete(p)]


def _checkpoint_dirs(run_dir: Path) -> list[Path]:
    """Every checkpoint-N directory, complete or not, oldest first."""
    if not run_dir.is_dir():
        return []
    found = [p for p in run_dir.iterdir() if p.is_dir() and _CHECKPOINT.match(p.name)]
    return sorted(found, key=lambda p: int(_CHECKPOINT.match(p.name).group(1)))


def find_latest(run_dir: Path) -> Path | None:
    """The newest complete checkpoint (cheap check), or None."""
    checkpoints = list_checkpoints(run_dir)
    return checkpoints[-1] if checkpoints else None


def find_resumable(run_dir: Path, log: Callable[[str], None]) -> Path | None:
    """The newest checkpoint that verifies in full. Newer ones that do not are renamed to
    `checkpoint-N.unusable-<k>` (kept for inspection, never deleted) with a message saying why.

    Raises CheckpointError when checkpoints exist but none verifies: starting fresh would overwrite the
    run's metrics, so the decision is left to the user.
    """
    candidates = _checkpoint_dirs(run_dir)
    for path in reversed(candidates):
        problem = checkpoint_problem(path)
        if problem is None:
            return path
        aside = _set_aside(path)
        log(f"[resume] skipped {path.name}: {problem}; kept as {aside.name}")
    if candidates:
        raise CheckpointError(
            f"{run_dir} has checkpoints but none verifies (each is kept as checkpoint-N.unusable-*). Continue "
            "from scratch in a new directory (run_name=<new name>), or move this run's files away first."
        )
    return None


def _set_aside(path: Path) -> Path:
    for k in range(1, 1000):
        aside = path.with_name(f"{path.name}.unusable-{k}")
        if not aside.exists():
            os.replace(path, aside)
            return aside
    raise CheckpointError(f"cannot set {path} aside: too many unusable copies")


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
    state = read_json(path / STATE_FILE)
    if state is None or state_problem(path):
        raise CheckpointError(f"{path / STATE_FILE}: {state_problem(path)}")
    return state


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
    """Write `run_dir/<name>/` (best_model, final, warmup) atomically, with a metadata.json and a manifest."""

    def write(tmp: Path) -> None:
        save_pretrained_dir(model, tokenizer, tmp)
        (tmp / "metadata.json").write_text(json.dumps(metadata, indent=2), "utf-8")

    return _write_dir(run_dir, name, write)


def lock_run_dir(run_dir: Path) -> object:
    """Hold `run_dir/.lock` for this process, or raise CheckpointError naming the run that holds it.

    The lock is an advisory `flock` on a file that records the holder's PID: the kernel releases it when
    the process ends however it ends (kill -9 included), so a stale lock never blocks a new run. Keep the
    returned object alive for as long as the run writes into the directory (closing it releases the lock).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(run_dir / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 (held for the run's lifetime)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise CheckpointError(
            f"{run_dir} is in use by another run ({holder}): two runs in one directory would mix their "
            "checkpoints and logs. Wait for it, stop it, or pick another run_name."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle
