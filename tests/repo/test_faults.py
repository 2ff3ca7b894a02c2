# Chapter 06 notes: learning_notes/06_training_engineering/README.md#what-a-run-survives
"""Fault injection: every fault a run is promised to survive gives an exact recovery or a clean message, and
loses nothing. (Signals and SIGKILL mid-step or mid-save: test_train.py::test_interrupt_then_resume_...)"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from minimal_impl import checkpoint as ckpt
from minimal_impl import data
from minimal_impl.config import ConfigError, build_config
from minimal_impl.plot import main as plot_main
from minimal_impl.train import main, train

from .train_helpers import comparable, tiny_overrides

ROOT = Path(__file__).resolve().parents[2]


def _args(overrides: dict) -> list[str]:
    return ["--preset", "tiny_sample_nq", *(f"{k}={v}" for k, v in overrides.items())]


def _copy_run(reference_run: Path, workdir: Path, name: str) -> Path:
    run = workdir / "runs" / name
    shutil.copytree(reference_run, run)
    shutil.rmtree(run / "final")
    return run


def _files(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------- damaged checkpoints


def test_resume_walks_back_past_a_damaged_checkpoint(
    reference_run: Path, tiny_model_dir: Path, workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    """checkpoint-4 truncated, a torn last line in metrics.jsonl: resume from checkpoint-3, exactly."""
    run = _copy_run(reference_run, workdir, "damaged")
    optimizer = run / "checkpoint-4" / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[:100])
    with (run / "metrics.jsonl").open("a") as handle:
        handle.write('{"step": 5, "reward/me')
    messages: list[str] = []
    overrides = tiny_overrides(tiny_model_dir, workdir, "damaged", resume="auto")
    summary = train(build_config("tiny_sample_nq", **overrides), log=messages.append)
    skipped = [m for m in messages if "skipped checkpoint-4" in m]
    assert skipped and "optimizer.pt" in skipped[0] and "truncated" in skipped[0], messages
    assert any("restored" in m and "global_step 3" in m for m in messages)
    assert any("dropped 1 torn" in m for m in messages)
    assert (run / "checkpoint-4.unusable-1" / "optimizer.pt").stat().st_size == 100, "set aside, never deleted"
    assert summary["steps"] == 4 and comparable(run) == comparable(reference_run)
    final, expected = (load_file(str(d / "final" / "model.safetensors")) for d in (run, reference_run))
    assert all(torch.equal(final[k], expected[k]) for k in expected)


@pytest.mark.parametrize(
    "damage",
    ["empty_state", "state_of_another_step", "no_manifest", "model_bytes_changed"],
)
def test_no_usable_checkpoint_refuses_and_keeps_everything(
    reference_run: Path, tiny_model_dir: Path, workdir: Path, damage: str, capsys: pytest.CaptureFixture
) -> None:
    run = _copy_run(reference_run, workdir, f"unusable-{damage}")
    for checkpoint in ("checkpoint-3", "checkpoint-4"):
        path = run / checkpoint
        if damage == "empty_state":
            (path / ckpt.STATE_FILE).write_text("{}")
        elif damage == "state_of_another_step":
            (path / ckpt.STATE_FILE).write_text(
                json.dumps({**json.loads((path / ckpt.STATE_FILE).read_text()), "global_step": 0})
            )
            ckpt.write_manifest(path)  # a consistent manifest: the state itself must be checked
        elif damage == "no_manifest":
            (path / ckpt.MANIFEST).unlink()
        else:
            model = bytearray((path / "model.safetensors").read_bytes())
            model[-1] ^= 0xFF  # same size, one bit pattern changed: only the checksum sees it
            (path / "model.safetensors").write_bytes(bytes(model))
    metrics_before = (run / "metrics.jsonl").read_bytes()
    code = main(_args(tiny_overrides(tiny_model_dir, workdir, f"unusable-{damage}")) + ["--resume", "auto"])
    err = capsys.readouterr().err
    assert code == 2 and "none verifies" in err and "Traceback" not in err
    assert (run / "metrics.jsonl").read_bytes() == metrics_before, "the metrics history is untouched"
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-3.unusable-1", "checkpoint-4.unusable-1"]


def test_a_resume_path_that_does_not_verify_is_refused(
    reference_run: Path, tiny_model_dir: Path, workdir: Path
) -> None:
    run = _copy_run(reference_run, workdir, "bad-path")
    (run / "checkpoint-4" / "rng_state.pt").unlink()
    overrides = tiny_overrides(tiny_model_dir, workdir, "bad-path", resume=str(run / "checkpoint-4"))
    with pytest.raises(ConfigError, match="rng_state.pt is missing"):
        train(build_config("tiny_sample_nq", **overrides), log=lambda m: None)


# ------------------------------------------------------------------------------ config on resume, lock


def test_resume_with_a_changed_config_refuses_unless_allowed(
    reference_run: Path, tiny_model_dir: Path, workdir: Path
) -> None:
    run = _copy_run(reference_run, workdir, "changed")
    shutil.rmtree(run / "checkpoint-4")
    overrides = tiny_overrides(tiny_model_dir, workdir, "changed", resume="auto", actor_lr=0.1)
    with pytest.raises(ConfigError, match=r"actor_lr: 0\.0005 -> 0\.1"):
        train(build_config("tiny_sample_nq", **overrides), log=lambda m: None)
    with pytest.raises(ConfigError, match="cannot resume .* different seed"):
        train(build_config("tiny_sample_nq", **{**overrides, "seed": 1}), log=lambda m: None)
    messages: list[str] = []
    train(build_config("tiny_sample_nq", **overrides, allow_config_change=True), log=messages.append)
    assert "[resume] config change: actor_lr 0.0005 -> 0.1" in messages
    lr = torch.load(run / "checkpoint-4" / "optimizer.pt", weights_only=False)["param_groups"][0]["lr"]
    assert lr == pytest.approx(0.1), "the new learning rate is applied, not only accepted"


def test_two_runs_in_one_directory(tiny_model_dir: Path, workdir: Path, capsys: pytest.CaptureFixture) -> None:
    overrides = tiny_overrides(tiny_model_dir, workdir, "locked")
    run = workdir / "runs" / "locked"
    holder = subprocess.Popen(  # a live run holding the lock
        [sys.executable, "-c", "import sys, time; from minimal_impl import checkpoint as c; "
         f"h = c.lock_run_dir(__import__('pathlib').Path({str(run)!r})); print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(_args(overrides)) == 2
        err = capsys.readouterr().err
        assert f"in use by another run (pid {holder.pid})" in err and "Traceback" not in err
        assert not (run / "config.json").exists(), "the second run wrote nothing"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lock = ckpt.lock_run_dir(run)  # a holder killed with -9 leaves a stale lock file: it is taken over
    assert (run / ckpt.LOCK_FILE).read_text().strip() == f"pid {os.getpid()}"
    lock.close()


# ------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("actor_lr=-1", "actor_lr=-1.0: must be > 0"),
        ("actor_lr=nan", "actor_lr=nan: must be a finite number"),
        ("seed=-5", "seed=-5: must be >= 0"),
        ("max_grad_norm=-1", "max_grad_norm=-1.0: must be > 0"),
        ("kl_loss_type=foo", "kl_loss_type='foo': expected one of"),
        ("temperature=nan", "temperature=nan: must be a finite number"),
        ("temperature=inf", "temperature=inf: must be a finite number"),
        ("run_name=../x", "run_name='../x': must be a plain name"),
        ("run_name=", "run_name='': must be a plain name"),
        ("clip_ratio_low=1.5", "clip_ratio_low=1.5: must be > 0 and <= 1"),
        ("clip_ratio_low=0", "clip_ratio_low=0.0: must be > 0 and <= 1"),
        ("gamma=1.5", "gamma=1.5: must be >= 0 and <= 1"),
        ("impl=my-solutions", "impl='my-solutions'"),
        ("total_steps=0", "total_steps=0: must be >= 1"),
    ],
)
def test_every_field_is_checked_against_its_domain(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_config("tiny_sample_nq", [override])
    assert message in str(err.value)


def test_data_is_never_overwritten_or_substituted(tmp_path: Path, tiny_model_dir: Path) -> None:
    partial = tmp_path / "mine" / "sample-nq"
    data.prepare("sample-nq", partial)
    (partial / "test.parquet").unlink()
    before = _files(partial)
    overrides = tiny_overrides(tiny_model_dir, tmp_path, "data", data_dir=str(tmp_path / "mine"))
    with pytest.raises(FileNotFoundError, match=r"has no test\.parquet.*python -m minimal_impl\.data prepare"):
        train(build_config("tiny_sample_nq", **overrides), log=lambda m: None)
    assert _files(partial) == before, "the user's files are untouched"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train(build_config("tiny_sample_nq", **{**overrides, "data_dir": str(tmp_path / "typo")}), log=lambda m: None)
    assert not (tmp_path / "typo").exists(), "a missing data_dir is not filled with the sample set"
    with pytest.raises(FileExistsError, match="not overwriting"):
        data.prepare("sample-nq", partial)
    assert _files(partial) == before


# -------------------------------------------------------------------------------- loud numerics


def test_a_non_finite_reward_stops_the_run_naming_the_episode(
    tiny_model_dir: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from minimal_impl import rewards

    monkeypatch.setattr(rewards, "score_response", lambda *args, **kwargs: float("nan"))
    code = main(_args(tiny_overrides(tiny_model_dir, workdir, "nan-reward", warmup_sft_steps=0)))
    err = capsys.readouterr().err
    assert code == 3 and "returned nan for episode 0 (question" in err and "Traceback" not in err


def test_an_exploding_learning_rate_stops_the_run(
    tiny_model_dir: Path, workdir: Path, capsys: pytest.CaptureFixture
) -> None:
    """actor_lr=1000: the first step blows the weights up, then every gradient norm is NaN."""
    overrides = tiny_overrides(tiny_model_dir, workdir, "lr1000", actor_lr=1000.0, entropy_coeff=0.01, eval_steps=1)
    code = main(_args(overrides))
    err = capsys.readouterr().err
    assert code == 3 and "optimizer steps were all skipped" in err and "actor_lr=1000.0" in err
    run = workdir / "runs" / "lr1000"
    rows = [r for r in comparable(run) if "actor/skipped_steps" in r]
    assert sum(r["actor/skipped_steps"] for r in rows) >= 3, "skipped steps are counted in the metrics"
    best = (
        json.loads((run / "best_model" / "metadata.json").read_text())["step"] if (run / "best_model").exists() else 0
    )
    skipped_at = min(r["step"] for r in rows if r["actor/skipped_steps"])
    assert best < skipped_at, "a model evaluated after skipped steps is never saved as best_model"


# ------------------------------------------------------------------------------------ full disk


@pytest.fixture
def small_disk(tmp_path: Path) -> object:
    """A real file system of a given size (tmpfs): needs root; skipped with the reason otherwise."""
    mounted = []

    def make(size: str) -> Path:
        path = tmp_path / f"disk-{size}"
        path.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
        if result.returncode:
            pytest.skip(f"cannot mount a small tmpfs to fill up (needs root): {result.stderr.decode().strip()}")
        mounted.append(path)
        return path

    yield make
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.mark.parametrize(("size", "where"), [("64k", "at start"), ("3m", "mid-save")])
def test_a_full_disk_says_so(tiny_model_dir: Path, workdir: Path, small_disk: object, size: str, where: str) -> None:
    disk = small_disk(size)
    overrides = tiny_overrides(tiny_model_dir, workdir, "full", output_dir=str(disk), warmup_sft_steps=0)
    script = "import sys; from minimal_impl.train import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run([sys.executable, "-c", script, *_args(overrides)], capture_output=True, text=True,
                            timeout=300, cwd=ROOT)  # fmt: skip
    assert result.returncode == 3, result.stderr[-2000:]
    assert "no space left on device" in result.stderr and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert not list((disk / "full").glob("*.tmp-*")), "a failed save removes its temporary directory"
    for checkpoint in ckpt.list_checkpoints(disk / "full"):
        assert ckpt.checkpoint_problem(checkpoint) is None, "what was saved before the disk filled up verifies"


# ------------------------------------------------------------------------- plots and the main script


def test_plot_on_partial_and_empty_logs(reference_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(reference_run / "metrics.jsonl", run / "metrics.jsonl")
    with (run / "metrics.jsonl").open("a") as handle:
        handle.write('{"step": 9, "rew')
    assert plot_main([str(run)]) == 0
    assert "skipped 1 torn" in capsys.readouterr().out
    (run / "metrics.jsonl").write_text('{"step": 0, "eval/accuracy": 0.0}\n')
    assert plot_main([str(run)]) == 2
    assert "no training step yet" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--steps"], "--steps needs a value"),
        (["--steps", "many"], "--steps must be a positive integer"),
        (["--run-name", "--resume"], "--run-name needs a value"),
        (["--impl"], "--impl needs a value"),
        (["--bogus"], "unknown argument '--bogus'"),
        (["--engine", "spark"], "--engine is ours or verl"),
    ],
)
def test_run_first_training_flag_errors(args: list[str], message: str) -> None:
    result = subprocess.run(["bash", str(ROOT / "run_first_training.sh"), *args], capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 2 and message in result.stderr and "unbound variable" not in result.stderr


def test_check_data_rejects_zero_rows(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"data_source": pa.array([], pa.string())}), path)
    result = subprocess.run([sys.executable, str(ROOT / "check_data.py"), str(path)], capture_output=True, text=True)
    assert result.returncode == 1 and "has 0 rows" in result.stdout + result.stderr
