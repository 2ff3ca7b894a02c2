# Chapter 02 notes: learning_notes/02_data/README.md#the-schema-field-by-field
"""Data preparation: verl's row format, the sample sets, the Hugging Face and verl loaders, offline behaviour."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from datasets import load_dataset

from minimal_impl import data, sample_data
from minimal_impl.bm25 import BM25, tokenize
from minimal_impl.rewards import em_score, gsm8k_score

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_sample_data_is_up_to_date() -> None:
    assert sample_data.main(["--check"]) == 0, "data/sample is stale: run python -m minimal_impl.sample_data"


def test_sample_data_is_small_and_deterministic() -> None:
    total = sum(p.stat().st_size for p in sample_data.SAMPLE_DIR.glob("*.jsonl"))
    assert total < 2_000_000, f"shipped sample data must stay small, it is {total} bytes"
    assert sample_data.build_files() == sample_data.build_files()
    assert sample_data.build_files(seed=1) != sample_data.build_files()


def test_rows_follow_verl_and_search_r1_layouts(prepared: Path) -> None:
    nq = [json.loads(line) for line in (prepared / "nq" / "train.jsonl").open()]
    row = nq[0]
    assert set(row) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    assert row["data_source"] == "sample/nq" and row["ability"] == "fact-reasoning"
    assert row["prompt"][0]["role"] == "user" and row["prompt"][0]["content"].endswith("?\n")
    assert row["prompt"][0]["content"] == data.SAMPLE_SEARCH_INSTRUCTION.format(
        question=row["extra_info"]["question"] + "?"
    )
    assert data.nq_row("q", ["a"], "test", 0)["prompt"][0]["content"] == data.SEARCH_INSTRUCTION.format(question="q?")
    assert row["reward_model"]["style"] == "rule" and isinstance(row["reward_model"]["ground_truth"]["target"], list)
    assert [r["extra_info"]["index"] for r in nq] == list(range(len(nq)))
    gsm = [json.loads(line) for line in (prepared / "gsm8k" / "test.jsonl").open()]
    assert gsm[0]["data_source"] == "sample/gsm8k" and gsm[0]["ability"] == "math"
    assert gsm[0]["prompt"][0]["content"].endswith(data.GSM8K_INSTRUCTION)
    assert gsm[0]["reward_model"]["ground_truth"] == gsm[0]["extra_info"]["answer"].split("#### ")[-1]


def test_gsm8k_row_matches_verl_preprocessing() -> None:
    row = data.gsm8k_row("Q?", "He pays 1,200 + 34 = 1,234\n#### 1,234", "train", 7)
    # verl: the number after "#### ", commas removed; the instruction appended after a space
    assert row["reward_model"]["ground_truth"] == "1234"
    assert row["prompt"] == [
        {"role": "user", "content": 'Q? Let\'s think step by step and output the final answer after "####".'}
    ]
    assert row["extra_info"] == {
        "split": "train",
        "index": 7,
        "question": "Q?",
        "answer": "He pays 1,200 + 34 = 1,234\n#### 1,234",
    }
    with pytest.raises(ValueError, match="####"):
        data.gsm8k_row("Q?", "no final answer", "train", 0)
    with pytest.raises(ValueError, match="golden_answers"):
        data.nq_row("q", "Paris", "train", 0)


def test_sample_answers_need_the_corpus(prepared: Path) -> None:
    """Every NQ-style answer is in the passage the question names, and nowhere in the question itself."""
    corpus = [json.loads(line) for line in (prepared / "nq" / "corpus.jsonl").open()]
    rows = [json.loads(line) for line in (prepared / "nq" / "test.jsonl").open()]
    train_questions = " ".join(
        json.loads(line)["extra_info"]["question"] for line in (prepared / "nq" / "train.jsonl").open()
    )
    bm25 = BM25().index([tokenize(d["contents"]) for d in corpus])
    ids, _ = bm25.search([tokenize(r["extra_info"]["question"]) for r in rows], k=3)
    for row, top in zip(rows, ids):
        answers = row["reward_model"]["ground_truth"]["target"]
        question = row["extra_info"]["question"]
        assert not any(a in question for a in answers)
        assert any(a in corpus[i]["contents"] for a in answers for i in top), question
        entity = question.split()[-1] if "capital" in question else None
        if entity:  # test entities never appear in a training question
            assert entity not in train_questions
        # the reward functions accept the row's ground truth as it is stored
        assert em_score(f"<answer> {answers[0]} </answer>", answers) == 1.0
    gsm = [json.loads(line) for line in (prepared / "gsm8k" / "train.jsonl").open()]
    assert all(gsm8k_score(r["extra_info"]["answer"], r["reward_model"]["ground_truth"]) == 1.0 for r in gsm)


def test_parquet_loads_with_hugging_face_datasets(prepared: Path) -> None:
    ds = load_dataset("parquet", data_files=str(prepared / "nq" / "train.parquet"), split="train")
    jsonl = [json.loads(line) for line in (prepared / "nq" / "train.jsonl").open()]
    assert ds.num_rows == len(jsonl) and ds[0] == jsonl[0]
    assert data.load_rows(prepared / "gsm8k" / "test.parquet") == data.load_rows(prepared / "gsm8k" / "test.jsonl")
    with pytest.raises(FileNotFoundError, match="prepare"):
        data.load_rows(prepared / "missing.parquet")


def test_verl_rl_dataset_reads_our_parquet(prepared: Path, tiny_model_dir: Path) -> None:
    pytest.importorskip("verl", reason="verl is the optional oracle (requirements-oracle.txt); not installed")
    omegaconf = pytest.importorskip("omegaconf", reason="verl's dataset class takes an omegaconf config")
    from transformers import AutoTokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    config = omegaconf.OmegaConf.create(
        {
            "prompt_key": "prompt",
            "max_prompt_length": 256,
            "filter_overlong_prompts": True,
            "filter_overlong_prompts_workers": 1,
            "return_raw_chat": True,
            "cache_dir": str(prepared / "verl_cache"),
        }
    )
    for name in ("nq", "gsm8k"):
        dataset = RLHFDataset(data_files=str(prepared / name / "test.parquet"), tokenizer=tokenizer, config=config)
        rows = data.load_rows(prepared / name / "test.parquet")
        assert len(dataset) == len(rows), "no prompt may be filtered as overlong with the tiny tokenizer"
        batch = collate_fn([dataset[0], dataset[1]])
        assert list(batch["raw_prompt"][0]) == rows[0]["prompt"]
        assert batch["reward_model"][1] == rows[1]["reward_model"] and list(batch["index"]) == [0, 1]


def test_hub_datasets_offline_give_a_clear_message(tmp_path: Path) -> None:
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    for name in ("gsm8k", "nq"):
        result = subprocess.run(
            [sys.executable, "-m", "minimal_impl.data", "prepare", "--dataset", name, "--out", str(tmp_path / name)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2, result.stderr
        assert f"--dataset sample-{name}" in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / name).exists()


def test_cli_prepares_and_points_to_check_data(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "minimal_impl.data",
            "prepare",
            "--dataset",
            "sample-nq",
            "--out",
            str(tmp_path),
            "--limit",
            "5",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "check_data.py" in result.stdout and (tmp_path / "corpus.jsonl").is_file()
    assert len(data.load_rows(tmp_path / "train.parquet")) == 5
