# Chapter 02 notes: learning_notes/02_data/README.md#a-tiny-local-model
"""Fixtures shared by the repository tests: prepared sample data and the tiny model, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from minimal_impl import data, tiny_model


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
