# Chapter 02 notes: learning_notes/02_data/README.md#the-schema-field-by-field
"""Data in verl's RL format: GSM8K and NQ from the Hugging Face hub, or the offline sample sets.

    python -m minimal_impl.data prepare --dataset gsm8k|nq|sample-gsm8k|sample-nq --out DIR

writes `DIR/train.parquet`, `DIR/test.parquet` (what verl reads) and the same rows as `.jsonl` (what you
read), and for the NQ-style sets `DIR/corpus.jsonl` when a corpus ships with them. One row:

    {"data_source": "openai/gsm8k",
     "prompt": [{"role": "user", "content": "<question> Let's think step by step and output ..."}],
     "ability": "math",
     "reward_model": {"style": "rule", "ground_truth": "72"},
     "extra_info": {"split": "train", "index": 0, "question": "...", "answer": "..."}}

`prompt` is a list of chat messages; the trainer applies the model's chat template to it. For NQ the
ground truth is `{"target": [golden answers]}`, as Search-R1 writes it. Rows of the hub and of the
sample sets go through the same functions (`gsm8k_row`, `nq_row`) and the same loader
(`datasets.load_dataset`), so the sample sets exercise the real code path.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from minimal_impl.sample_data import SAMPLE_DIR  # absolute: a learner's copy of this module (exercises/) uses ours

DATASETS = ("gsm8k", "nq", "sample-gsm8k", "sample-nq")
HUB = {"gsm8k": ("openai/gsm8k", "main"), "nq": ("RUC-NLPIR/FlashRAG_datasets", "nq")}
DATA_SOURCES = {"gsm8k": "openai/gsm8k", "nq": "nq", "sample-gsm8k": "sample/gsm8k", "sample-nq": "sample/nq"}
SPLITS = ("train", "test")

# verl's examples/data_preprocess/gsm8k.py appends this instruction to every question
GSM8K_INSTRUCTION = 'Let\'s think step by step and output the final answer after "####".'

# A search-agent instruction with Search-R1's protocol (the same tags, the same roles of each block),
# in our own words. A model trained with Search-R1's exact prompt will follow this one too.
SEARCH_INSTRUCTION = (
    "Answer the question below. Think inside <think> and </think> before every step. If a fact is "
    "missing, search for it by writing <search> your query </search>; the best matching passages come "
    "back between <information> and </information>. You may search more than once. When you know the "
    "answer, write it inside <answer> and </answer> without explanation, for example <answer> Beijing "
    "</answer>. Question: {question}\n"
)

# The sample NQ set's instruction: the same protocol in a quarter of the tokens. The tiny model learns the
# protocol from its warm-up, not from reading instructions, and every prompt token costs compute in every
# rollout and every training pass (chapter 01's arithmetic).
SAMPLE_SEARCH_INSTRUCTION = (
    "Search with <search> query </search>, answer with <answer> answer </answer>. Question: {question}\n"
)

_GSM8K_SOLUTION = re.compile(r"#### (\-?[0-9\.\,]+)")


def gsm8k_solution(answer: str) -> str:
    """The number after `#### ` in a GSM8K answer, commas removed (verl's preprocessing).

    Raises:
        ValueError: the answer has no `#### number`.
    """
    match = _GSM8K_SOLUTION.search(answer)
    if match is None:
        raise ValueError(f"no '#### <number>' in the GSM8K answer {answer[-80:]!r}")
    return match.group(1).replace(",", "")


def gsm8k_row(question: str, answer: str, split: str, index: int, data_source: str = "openai/gsm8k") -> dict:
    """One GSM8K problem as a verl RL row (verl's `examples/data_preprocess/gsm8k.py` layout)."""
    return {
        "data_source": data_source,
        "prompt": [{"role": "user", "content": f"{question} {GSM8K_INSTRUCTION}"}],
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": gsm8k_solution(answer)},
        "extra_info": {"split": split, "index": index, "question": question, "answer": answer},
    }


def search_prompt(question: str, instruction: str = SEARCH_INSTRUCTION) -> str:
    """The search-agent prompt for one question (stripped, with a '?' added as Search-R1 does)."""
    question = question.strip()
    if not question.endswith("?"):
        question += "?"
    return instruction.format(question=question)


def nq_row(
    question: str,
    golden_answers: list[str],
    split: str,
    index: int,
    data_source: str = "nq",
    instruction: str = SEARCH_INSTRUCTION,
) -> dict:
    """One NQ-style question as a verl RL row (Search-R1's `nq_search.py` layout).

    The fields (chapter 02's schema table): `data_source`; `prompt`, one user message holding
    `search_prompt(question, instruction)`; `ability` "fact-reasoning"; `reward_model` with style "rule" and
    ground truth `{"target": [answers as strings]}`; `extra_info` with the split, the index and the question.

    Raises:
        ValueError: `golden_answers` is a string or empty (a list of accepted answers is expected).
    """
    # EXERCISE difficulty=1 minutes=10
    # HINT: Print a row of data/prepared/sample-nq/train.jsonl (or the notes' example) and build the same dict.
    # HINT: One string instead of a list would silently become a list of characters: refuse it.
    if isinstance(golden_answers, str) or not golden_answers:
        raise ValueError(f"golden_answers must be a non-empty list of strings, got {golden_answers!r}")
    return {
        "data_source": data_source,
        "prompt": [{"role": "user", "content": search_prompt(question, instruction)}],
        "ability": "fact-reasoning",
        "reward_model": {"style": "rule", "ground_truth": {"target": [str(a) for a in golden_answers]}},
        "extra_info": {"split": split, "index": index, "question": question},
    }


def hub_reachable(timeout: float = 3.0) -> tuple[bool, str]:
    """Whether the Hugging Face hub can be used: (ok, reason). Honors HF_HUB_OFFLINE=1."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False, "HF_HUB_OFFLINE is set"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=timeout)
        return True, f"{endpoint} answered"
    except urllib.error.HTTPError as err:  # any HTTP answer means the network path works
        return True, f"{endpoint} answered {err.code}"
    except (urllib.error.URLError, OSError) as err:
        return False, f"{endpoint} is unreachable ({getattr(err, 'reason', err)})"


def _quiet_datasets() -> None:
    """Progress bars of `datasets` for files of a few hundred rows are noise in logs and notebooks."""
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()


def _load_json_rows(path: Path) -> list[dict]:
    """Load a JSONL file through `datasets.load_dataset("json")`, the loader a hub dataset also uses."""
    from datasets import load_dataset

    _quiet_datasets()
    return load_dataset("json", data_files=str(path), split="train").to_list()


def load_raw(dataset: str, split: str) -> list[dict]:
    """The raw rows of one split: hub rows for gsm8k/nq, the shipped files for the sample sets."""
    if dataset == "sample-gsm8k":
        return _load_json_rows(SAMPLE_DIR / f"gsm8k_{split}.jsonl")
    if dataset == "sample-nq":
        return _load_json_rows(SAMPLE_DIR / f"nq_{split}.jsonl")
    from datasets import load_dataset

    name, config = HUB[dataset]
    # FlashRAG's nq has train/dev/test; Search-R1 evaluates on test
    return load_dataset(name, config, split=split).to_list()


def to_rows(dataset: str, raw: Iterable[dict], split: str) -> list[dict]:
    """Raw rows -> verl RL rows, indexed 0..n-1 within the split."""
    source = DATA_SOURCES[dataset]
    if dataset.endswith("gsm8k"):
        return [gsm8k_row(r["question"], r["answer"], split, i, source) for i, r in enumerate(raw)]
    instruction = SAMPLE_SEARCH_INSTRUCTION if dataset.startswith("sample-") else SEARCH_INSTRUCTION
    return [nq_row(r["question"], list(r["golden_answers"]), split, i, source, instruction) for i, r in enumerate(raw)]


def write_rows(rows: list[dict], out_dir: Path, split: str) -> tuple[Path, Path]:
    """Write `split.parquet` (through `datasets`, as verl reads it) and `split.jsonl`."""
    from datasets import Dataset

    _quiet_datasets()
    out_dir.mkdir(parents=True, exist_ok=True)
    parquet, jsonl = out_dir / f"{split}.parquet", out_dir / f"{split}.jsonl"
    Dataset.from_list(rows).to_parquet(str(parquet))
    with jsonl.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return parquet, jsonl


def prepare(dataset: str, out_dir: str | Path, limit: int | None = None, overwrite: bool = False) -> dict[str, int]:
    """Prepare both splits of `dataset` into `out_dir`; returns the row count per split.

    Raises:
        ValueError: unknown dataset.
        FileExistsError: `out_dir` already holds prepared files and `overwrite` is False (they may be yours).
        RuntimeError: a hub dataset was asked for but the hub cannot be used (offline).
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {DATASETS}")
    out_dir = Path(out_dir)
    existing = [
        f"{split}.{ext}" for split in SPLITS for ext in ("parquet", "jsonl") if (out_dir / f"{split}.{ext}").exists()
    ]
    existing += ["corpus.jsonl"] if (out_dir / "corpus.jsonl").exists() else []
    if existing and not overwrite:
        raise FileExistsError(
            f"{out_dir} already holds {', '.join(existing)}: not overwriting them (pass --overwrite to replace them)"
        )
    if not dataset.startswith("sample-"):
        ok, reason = hub_reachable()
        if not ok:
            raise RuntimeError(
                f"cannot download {HUB[dataset][0]}: {reason}. Offline, use the sample set instead: "
                f"--dataset sample-{dataset} (same format, made by this project, see learning_notes/02_data)."
            )
    counts = {}
    for split in SPLITS:
        raw = load_raw(dataset, split)
        if limit is not None:
            raw = raw[:limit]
        rows = to_rows(dataset, raw, split)
        write_rows(rows, out_dir, split)
        counts[split] = len(rows)
    if dataset == "sample-nq":
        (out_dir / "corpus.jsonl").write_text((SAMPLE_DIR / "corpus.jsonl").read_text("utf-8"), encoding="utf-8")
    return counts


def load_rows(path: str | Path) -> list[dict]:
    """Read prepared rows back from a `.parquet` or `.jsonl` file (through `datasets`)."""
    from datasets import load_dataset

    _quiet_datasets()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no data file at {path} (prepare one with python -m minimal_impl.data prepare)")
    kind = "parquet" if path.suffix == ".parquet" else "json"
    return load_dataset(kind, data_files=str(path), split="train").to_list()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Prepare RL data in verl's format.")
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="write train/test parquet and jsonl")
    prep.add_argument("--dataset", required=True, choices=DATASETS)
    prep.add_argument("--out", required=True, type=Path, help="output directory")
    prep.add_argument("--limit", type=int, default=None, help="keep the first N rows of each split")
    prep.add_argument("--overwrite", action="store_true", help="replace files already in --out")
    args = parser.parse_args(argv)
    try:
        counts = prepare(args.dataset, args.out, args.limit, overwrite=args.overwrite)
    except (RuntimeError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for split, n in counts.items():
        print(f"wrote {args.out / (split + '.parquet')} and .jsonl: {n} rows")
    if (args.out / "corpus.jsonl").exists():
        print(f"wrote {args.out / 'corpus.jsonl'} (the retrieval corpus)")
    elif args.dataset == "nq":
        print("the NQ corpus is Search-R1's wiki-18; see learning_notes/02_data/README.md#corpora-for-retrieval")
    print(f"check it: python check_data.py {args.out / 'train.parquet'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
