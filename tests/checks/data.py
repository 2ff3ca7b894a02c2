# Chapter 02 notes: learning_notes/02_data/README.md#the-schema-field-by-field
"""Checks for minimal_impl/data.py's `nq_row`: the row the notes show, field by field, and bad answers."""

from __future__ import annotations

from collections.abc import Callable

from ._util import expect_true, fail, run_checks

INSTRUCTION = "Search with <search> query </search>, answer with <answer> answer </answer>. Question: {question}\n"
# the row of chapter 02's schema section, as data.prepare writes it for the sample NQ set
NOTES_ROW = {
    "data_source": "sample/nq",
    "prompt": [{"role": "user", "content": INSTRUCTION.format(question="which country is Naizurk in?")}],
    "ability": "fact-reasoning",
    "reward_model": {"style": "rule", "ground_truth": {"target": ["Feaklond"]}},
    "extra_info": {"split": "train", "index": 0, "question": "which country is Naizurk in"},
}


def _expect_row(case: str, got: object, expected: dict, inputs: dict) -> None:
    if not isinstance(got, dict):
        fail(case, inputs, expected, got, f"expected a dict, got {type(got).__name__}")
    for field in sorted(set(expected) | set(got)):
        if field not in got:
            fail(case, inputs, expected[field], "(missing)", f"field {field!r} is missing")
        if field not in expected:
            fail(case, inputs, "(no such field)", got[field], f"unexpected field {field!r}")
        if got[field] != expected[field]:
            fail(case, inputs, expected[field], got[field], f"field {field!r} differs")


def nq_row_notes_example(fn: Callable) -> None:
    inputs = {"question": "which country is Naizurk in", "golden_answers": ["Feaklond"], "split": "train",
              "index": 0, "data_source": "sample/nq", "instruction": INSTRUCTION}  # fmt: skip
    _expect_row("the notes' row (question mark added, as Search-R1 does)", fn(**inputs), NOTES_ROW, inputs)


def nq_row_answers_are_strings(fn: Callable) -> None:
    inputs = {"question": "  how many moons does Mars have?  ", "golden_answers": [2, "two"], "split": "test",
              "index": 7, "data_source": "nq", "instruction": INSTRUCTION}  # fmt: skip
    got = fn(**inputs)
    expected = {
        "data_source": "nq",
        "prompt": [{"role": "user", "content": INSTRUCTION.format(question="how many moons does Mars have?")}],
        "ability": "fact-reasoning",
        "reward_model": {"style": "rule", "ground_truth": {"target": ["2", "two"]}},
        "extra_info": {"split": "test", "index": 7, "question": "  how many moons does Mars have?  "},
    }
    _expect_row("answers become strings; the prompt's question is stripped, the raw one kept", got, expected, inputs)


def nq_row_refuses_a_string_or_no_answers(fn: Callable) -> None:
    for answers in ("Feaklond", []):
        inputs = {"question": "which country is Naizurk in", "golden_answers": answers, "split": "train", "index": 0}
        try:
            got = fn(**inputs)
        except ValueError:
            continue
        expect_true(f"golden_answers={answers!r}", False, f"expected ValueError, got {got!r}", inputs)


NQ_ROW_CHECKS = [nq_row_notes_example, nq_row_answers_are_strings, nq_row_refuses_a_string_or_no_answers]


def check_nq_row(fn: Callable, verbose: bool = True) -> None:
    run_checks("nq_row", fn, NQ_ROW_CHECKS, verbose)


# (module, exercise name) -> checks; tests/checks/__init__.py merges these into REGISTRY
EXERCISE_CHECKS = {("data", "nq_row"): NQ_ROW_CHECKS}
