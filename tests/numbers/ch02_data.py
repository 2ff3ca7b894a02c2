# Chapter 02 notes: learning_notes/02_data/README.md#the-offline-sample-sets
"""Every worked number of chapter 02: the shipped sample sets counted, the tiny model's size asserted by a test."""

from __future__ import annotations

import ast

from minimal_impl import data, sample_data
from minimal_impl.tiny_model import TinyModelConfig
from scripts.check_numbers import ROOT, Asserted, Cited, Computed, Given

NOTE = "learning_notes/02_data/README.md"
COMPLETE = True

NUMBERS_TEST = "tests/repo/test_numbers.py"


def _lines(name: str) -> int:
    with open(sample_data.SAMPLE_DIR / name, encoding="utf-8") as f:
        return sum(1 for _ in f)


def _sample_mb() -> float:
    return sum(p.stat().st_size for p in sample_data.SAMPLE_DIR.iterdir() if p.is_file()) / 1e6


def _check_data_cases() -> list[int]:
    """The malformed rows and unreadable files of tests/repo/test_check_data.py, counted in its source."""
    from tests.repo import test_check_data

    tree = ast.parse((ROOT / "tests/repo/test_check_data.py").read_text(encoding="utf-8"))
    unreadable = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_unread"))
    cases = next(n.value for n in ast.walk(unreadable) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Dict))
    return [len(test_check_data._mutations()), len(cases.keys)]


NUMBERS = [
    Cited(
        "config `main`: 7,473 train and 1,319 test problems",
        "the openai/gsm8k dataset card (config main: 7,473 train, 1,319 test)",
    ),
    Computed('`"#### 1,234"` → `"1234"`', lambda: [1234, float(data.gsm8k_solution("#### 1,234"))]),
    Computed("(0.94 MB)", _sample_mb),
    Computed(
        "500 countries with a capital and two more cities each, 1,000 people, 250\n  rivers",
        lambda: [sample_data.NUM_COUNTRIES, sample_data.NUM_PEOPLE, sample_data.NUM_RIVERS],
    ),
    Computed(
        "described in 3,250 short passages",
        lambda: [_lines("corpus.jsonl")],
    ),
    Computed(
        "(2,938 train, 187 test)",
        lambda: [_lines("nq_train.jsonl"), _lines("nq_test.jsonl")],
    ),
    Computed(
        "(2,000 train, 200 test)",
        lambda: [_lines("gsm8k_train.jsonl"), _lines("gsm8k_test.jsonl")],
    ),
    Asserted(
        "prompts of ~39 (NQ) and ~45 (GSM8K) tokens",
        test=f"{NUMBERS_TEST}::test_prompt_lengths_quoted_in_chapter_02",
    ),
    Computed(
        "The tests run a fuzz set of 24 malformed rows, 11 unreadable\nfiles and 40 randomly corrupted files",
        _check_data_cases,
        at=("24 malformed rows, 11 unreadable",),
    ),
    Asserted(
        "40 randomly corrupted files", test="tests/repo/test_check_data.py::test_fuzzed_bytes_never_crash", at="40"
    ),
    Computed(
        "`Qwen2ForCausalLM` with 3 layers, width 96,\n4 query heads sharing 2 key/value heads",
        lambda: [(c := TinyModelConfig()).num_layers, c.hidden_size, c.num_heads, c.num_kv_heads],
    ),
    Asserted(
        "tied embeddings: 0.50M parameters, 2 MB",
        test=f"{NUMBERS_TEST}::test_tiny_model_size_quoted_in_chapter_02",
    ),
    Computed("2,048-token vocabulary", lambda: TinyModelConfig().vocab_size),
    Given(
        "got str '1,234'`",
        "the example value in check_data's message (a GSM8K ground truth written with a comma)",
    ),
    Asserted("2,048-token vocabulary", test=f"{NUMBERS_TEST}::test_tiny_model_size_quoted_in_chapter_02"),
]
