# Chapter 02 notes: learning_notes/02_data/README.md#a-tiny-local-model
"""The offline tokenizer: deterministic, one token per tool tag, and a round trip through AutoTokenizer."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from minimal_impl import episode as ep
from minimal_impl.tiny_tokenizer import (
    CHAT_TOKENS,
    DEMO_TEXTS,
    TOOL_TAGS,
    build_and_save,
    build_tokenizer,
    load_tokenizer,
    train_bpe,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = [
    "<think> I need to find the capital of France. </think>\n<search> capital of France </search>",
    "\n\n<information>Doc 1(Title: Paris) Paris is the capital of France.\n</information>\n\n",
    "<answer> Paris </answer>",
    "Unseen words: Zürich, 東京, emoji 🙂, tabs\tand  double spaces.",
]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_and_save(tmp_path_factory.mktemp("tok"))


def test_round_trip_through_auto_tokenizer(saved: Path) -> None:
    built = build_tokenizer(DEMO_TEXTS)
    loaded = AutoTokenizer.from_pretrained(str(saved))
    assert len(loaded) == len(built)
    for text in SAMPLES:
        ids = loaded.encode(text, add_special_tokens=False)
        assert ids == built.encode(text, add_special_tokens=False)
        assert loaded.decode(ids) == text, "byte-level BPE decodes any text exactly, unseen characters included"
    assert loaded.eos_token == loaded.pad_token == "<|endoftext|>"
    assert loaded.convert_tokens_to_ids(list(CHAT_TOKENS)) == [0, 1, 2]


def test_tool_tags_are_single_tokens_that_decode_back(saved: Path) -> None:
    tok = load_tokenizer(saved)
    ids = tok.convert_tokens_to_ids(list(TOOL_TAGS))
    assert ids == list(range(len(tok) - len(TOOL_TAGS), len(tok))), "tags come last, in order"
    for tag, tag_id in zip(TOOL_TAGS, ids):
        assert tok.encode(tag, add_special_tokens=False) == [tag_id]
        assert tok.encode(f"x{tag}y", add_special_tokens=False).count(tag_id) == 1, "never merged with neighbours"
        for skip in (False, True):
            assert tok.decode([tag_id], skip_special_tokens=skip) == tag
    # chat tokens are special: skipped on request, unlike the tags
    text = "<|im_start|>assistant\n<answer> Paris </answer><|im_end|>"
    ids = tok.encode(text, add_special_tokens=False)
    assert tok.decode(ids, skip_special_tokens=True) == "assistant\n<answer> Paris </answer>"


def test_chat_template(saved: Path) -> None:
    tok = load_tokenizer(saved)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    messages.append({"role": "assistant", "content": "<answer> Paris </answer>"})
    text = tok.apply_chat_template(messages, tokenize=False)
    assert text.endswith("<|im_start|>assistant\n<answer> Paris </answer><|im_end|>\n")


def test_training_is_deterministic_across_processes() -> None:
    fingerprint = (
        "import hashlib; from minimal_impl.tiny_tokenizer import train_bpe, DEMO_TEXTS; "
        "print(hashlib.sha256(train_bpe(DEMO_TEXTS).to_str().encode()).hexdigest())"
    )
    assert (
        build_tokenizer(DEMO_TEXTS).backend_tokenizer.to_str()
        == build_tokenizer(list(DEMO_TEXTS)).backend_tokenizer.to_str()
    )
    here = train_bpe(DEMO_TEXTS).to_str()
    other = subprocess.run(
        [sys.executable, "-c", fingerprint], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert other.stdout.strip() == hashlib.sha256(here.encode()).hexdigest()


def test_vocab_size_is_respected() -> None:
    rng = random.Random(0)
    texts = [" ".join("".join(rng.choices("abcdefghij", k=rng.randint(2, 7))) for _ in range(12)) for _ in range(300)]
    for size in (300, 400, 600):
        assert len(build_tokenizer(texts, vocab_size=size)) <= size
    assert len(build_tokenizer(texts, vocab_size=600)) == 600, "a corpus with enough pairs fills the vocabulary"


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        build_tokenizer([])
    with pytest.raises(ValueError, match="vocab_size"):
        build_tokenizer(DEMO_TEXTS, vocab_size=100)
    with pytest.raises(ValueError, match="chat tokens"):
        build_tokenizer(DEMO_TEXTS, special_tokens=["<|im_end|>"])
    with pytest.raises(ValueError, match="strings"):
        build_tokenizer(["ok", 3])
    with pytest.raises(FileNotFoundError):
        load_tokenizer(tmp_path / "missing")


def test_the_trajectory_printed_in_the_notes(saved: Path) -> None:
    """Chapter 05's notes print this trajectory's ids and masks; they must stay what the code produces."""
    tok = load_tokenizer(saved)
    prompt = tok.encode("Capital of France?", add_special_tokens=False)
    turns = iter(
        [tok.encode(t, add_special_tokens=False) for t in ("<search> France </search>", "<answer> Paris </answer>")]
    )
    traj = ep.run_agent_episode(
        lambda ids: next(turns),
        lambda q: [{"contents": "Paris\nThe capital."}],
        tok,
        prompt,
        max_turns=2,
        max_obs_tokens=100,
    )
    out = traj.assemble()
    assert out["input_ids"] == [
        37, 281, 289, 277, 310, 33,  # prompt: "Capital of France?"
        414, 310, 223, 415,  # turn 1: "<search> France </search>"
        201, 201, 416, 38, 371, 341, 10, 54, 271, 333, 28, 303, 11, 384, 292, 16, 417, 201, 201,  # information
        418, 303, 223, 419,  # turn 2: "<answer> Paris </answer>"
    ]  # fmt: skip
    assert out["loss_mask"] == [0] * 6 + [1] * 4 + [0] * 19 + [1] * 4
    assert out["attention_mask"] == [1] * 33 and out["response_start"] == 6


def test_other_numbers_quoted_in_the_notes(saved: Path) -> None:
    """The one-search chat episode (19 + 22 + 50 + 20 tokens) and the drift example of chapter 05."""
    tok = load_tokenizer(saved)
    docs = [
        {"document": {"id": "1", "contents": "Paris\nParis is the capital of France."}, "score": 2.0},
        {"document": {"id": "2", "contents": "France\nFrance is a country in Europe."}, "score": 1.0},
    ]
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True, tokenize=False
    )
    turns = iter(
        tok.encode(t, add_special_tokens=False)
        for t in (
            "<think> I need to find the capital of France. </think>\n<search> capital of France </search>",
            "<think> The documents say Paris. </think>\n<answer> Paris </answer>",
        )
    )
    traj = ep.run_agent_episode(
        lambda ids: next(turns),
        lambda q: docs,
        tok,
        tok.encode(prompt, add_special_tokens=False),
        max_turns=2,
        max_obs_tokens=500,
    )
    assert [len(traj.prompt_ids)] + [len(ids) for ids, _ in traj.segments] == [19, 22, 50, 20]
    stats = traj.stats()
    assert (stats["model_tokens"], stats["observation_tokens"]) == (42, 50)

    sampled = [418, 223, 50, 67, 84, 75, 85, 223, 419]
    assert tok.decode(sampled) == "<answer> Paris </answer>"
    assert tok.encode(tok.decode(sampled), add_special_tokens=False) == [418, 303, 223, 419]
    assert tok.convert_tokens_to_ids(list(TOOL_TAGS)) == list(range(412, 420))
