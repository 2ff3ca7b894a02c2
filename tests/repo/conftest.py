# Chapter 02 notes: learning_notes/02_data/README.md#a-tiny-local-model
"""Fixtures shared by the repository tests: prepared sample data and the tiny model, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from minimal_impl import data, tiny_model
from minimal_impl.config import build_config
from minimal_impl.train import train

from .train_helpers import tiny_overrides


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`prepare --dataset sample-nq` and `sample-gsm8k` into one temporary directory (nq/ and gsm8k/)."""
    root = tmp_path_factory.mktemp("prepared")
    data.prepare("sample-nq", root / "nq")
    data.prepare("sample-gsm8k", root / "gsm8k")
    return root


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model and tokenizer, saved with save_pretrained (seed 0, default size)."""
    return tiny_model.build(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trainer tests' directory: data/ prepared here (a data_dir of one's own is never auto-filled), runs/."""
    root = tmp_path_factory.mktemp("train")
    data.prepare("sample-nq", root / "data" / "sample-nq")
    data.prepare("sample-gsm8k", root / "data" / "sample-gsm8k")
    return root


@pytest.fixture(scope="session")
def reference_run(tiny_model_dir: Path, workdir: Path) -> Path:
    """An uninterrupted 4-step run: the yardstick of the resume tests."""
    config = build_config("tiny_sample_nq", **tiny_overrides(tiny_model_dir, workdir, "reference"))
    summary = train(config, log=lambda message: None)
    assert summary["steps"] == 4 and summary["stop_reason"] == "total_steps reached"
    return config.run_dir
