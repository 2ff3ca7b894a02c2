# One source of truth: README.md#how-the-pieces-fit
"""The numbers the chapter notes quote hold: each is computed by code, asserted by a test, copied from a
committed result or cited (scripts/check_numbers.py, registries in tests/numbers/), and the complete
chapters quote no number that nobody vouches for. Also the tests that assert the notes' numbers the
registries cannot compute cheaply (they need the tiny model)."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from scripts.check_numbers import Chapter, Computed, Given, chapters, entry_problems, numbers_in, uncovered

CHAPTERS = chapters()


def _name(chapter: Chapter) -> str:
    return chapter.note.parent.name


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_name)
def test_registered_numbers_hold(chapter: Chapter) -> None:
    problems = entry_problems(chapter)
    assert not problems, "numbers in the notes that no longer hold (python scripts/check_numbers.py):\n" + "\n".join(
        problems
    )


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if c.complete], ids=_name)
def test_complete_chapters_have_no_uncovered_numbers(chapter: Chapter) -> None:
    missing = [f"line {line}: {n.written} in: {context.strip()}" for line, n, context in uncovered(chapter)]
    assert not missing, (
        f"{chapter.note.name} of {_name(chapter)} quotes numbers no registry entry covers; add them to "
        f"{chapter.module} (see scripts/check_numbers.py):\n" + "\n".join(missing)
    )


def test_number_tokens_are_read_as_written() -> None:
    def read(text: str) -> list[tuple[str, float]]:
        return [(n.written, round(n.value, 6)) for n in numbers_in(text)]

    assert read("`3.5 / 6 ≈ 0.5833`") == [("3.5 / 6", 0.583333), ("≈ 0.5833", 0.5833)]
    assert read("| −1 | 4.0 | 2,938 | 100% | 43.8× |") == [
        ("−1", -1.0), ("4.0", 4.0), ("2,938", 2938.0), ("100%", 100.0), ("43.8×", 43.8)
    ]  # fmt: skip
    assert read("`ln 2 / 3 ≈ 0.231`, log(10/7)") == [
        ("2", 2.0),
        ("3", 3.0),
        ("≈ 0.231", 0.231),
        ("10", 10.0),
        ("7", 7.0),
    ]
    # names, versions and identifiers are not numbers
    assert read("Qwen2.5-0.5B, k1, torch 2.13.0, arXiv 1912.09729, 1e-8, d0, Python 3.10+") == []
    assert [n.tol for n in numbers_in("0.5833 7/3 12 ~35")] == [0.00005, 0.0, 0.0, 0.5]


def test_a_wrong_or_stale_number_is_caught(tmp_path: Path) -> None:
    note = tmp_path / "README.md"
    note.write_text("The mean is `7/3 ≈ 2.333`, the variance `1.556`.\nAn untracked 0.25 here.\n", encoding="utf-8")
    good = Computed("`7/3 ≈ 2.333`", lambda: [7 / 3, 7 / 3])
    wrong = Computed("the variance `1.556`", lambda: 42 / 18)  # the note quotes the biased one
    stale = Computed("the variance `1.557`", lambda: 42 / 27)  # text no longer in the note
    chapter = Chapter("tmp", note, [good, wrong, stale, Given("An untracked", "test")], complete=True)
    problems = entry_problems(chapter)
    assert len(problems) == 2, problems
    assert "written 1.556, computed 2.33333" in problems[0] and "not in the note" in problems[1]
    assert [n.written for _, n, _ in uncovered(chapter)] == ["0.25"]


def test_tiny_model_size_quoted_in_chapter_02(tiny_model_dir: Path) -> None:
    """Chapter 02: 0.50M parameters, 2 MB on disk, a 2,048-token vocabulary."""
    from minimal_impl import tiny_model

    tokenizer, model = tiny_model.load(tiny_model_dir)
    params = sum(p.numel() for p in model.parameters())
    assert f"{params / 1e6:.2f}" == "0.50", params
    size_mb = sum(p.stat().st_size for p in tiny_model_dir.glob("*.safetensors")) / 1e6
    assert round(size_mb) == 2, size_mb
    assert len(tokenizer) == 2048, len(tokenizer)


def test_prompt_lengths_quoted_in_chapter_02(prepared: Path, tiny_model_dir: Path) -> None:
    """Chapter 02: prompts of ~39 (NQ) and ~45 (GSM8K) tokens after the chat template (medians)."""
    from minimal_impl import data, tiny_model

    tokenizer, _ = tiny_model.load(tiny_model_dir)
    for name, quoted in (("nq", 39), ("gsm8k", 45)):
        rows = data.load_rows(prepared / name / "train.parquet")[:400]
        texts = [tokenizer.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=False) for r in rows]
        median = statistics.median(len(ids) for ids in tokenizer(texts).input_ids)
        assert abs(median - quoted) <= 3, f"{name}: median prompt length {median} tokens, the notes say ~{quoted}"


def test_characters_per_token_quoted_in_chapter_07(prepared: Path, tiny_model_dir: Path) -> None:
    """Chapter 07: with the tiny tokenizer a sample-corpus block has about 3.2 characters per token, so verl's
    character cap for our 80 observation tokens (80 x 4 = 320 characters) keeps about 100 tokens. The blocks are
    those of tests/repo/test_verl_search_agent.py: BM25 top 3 for each question of the sample-NQ test split."""
    from minimal_impl import data, tiny_model
    from minimal_impl.retrieval import BM25Retriever
    from minimal_impl.tool_calls import format_docs, information_block
    from minimal_impl.verl_bridge import CHARS_PER_TOKEN

    tokenizer, _ = tiny_model.load(tiny_model_dir)
    retriever = BM25Retriever.from_jsonl(prepared / "nq" / "corpus.jsonl")
    questions = [row["extra_info"]["question"] for row in data.load_rows(prepared / "nq" / "test.parquet")]
    blocks = [information_block(format_docs(docs)) for docs in retriever.search(questions, topk=3)]
    chars = sum(len(block) for block in blocks)
    tokens = sum(len(tokenizer.encode(block, add_special_tokens=False)) for block in blocks)
    per_token = chars / tokens
    assert round(per_token, 1) == 3.2, f"{per_token:.3f} characters per token, the notes say about 3.2"
    assert 80 * CHARS_PER_TOKEN == 320
    assert round(320 / per_token, -1) == 100, f"320 characters hold {320 / per_token:.0f} tokens, the notes say ~100"
