# Chapter 02 notes: learning_notes/02_data/README.md#what-check_datapy-catches
"""Validate RL data files (parquet or JSONL) against verl's RL row schema before a run wastes a GPU hour.

    python check_data.py data/nq/train.parquet data/nq/test.parquet
    python check_data.py data/gsm8k/train.jsonl --tokenizer .build/tiny_model --max-prompt-length 512
    python check_data.py FILE --json          # the same report as JSON

Each row must look like (see minimal_impl/data.py):
    data_source  non-empty string
    prompt       non-empty list of {"role": system|user|assistant|tool, "content": non-empty string},
                 with at least one user message
    ability      string
    reward_model {"style": string, "ground_truth": non-empty string | list | {"target": non-empty list}}
    extra_info   {"split": string, "index": int >= 0, ...}; (split, index) unique within a file
GSM8K rows (data_source containing "gsm8k") must have a numeric ground truth. Prompt lengths are
reported in tokens (with --tokenizer, after the chat template) or in words.

Every problem names its row and field. Exit status: 0 when every file is clean, 1 when any has an
error. Unreadable input (a missing path, a directory, an empty file, bytes that are not parquet, text
that is not UTF-8) is reported the same way, never with a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

ROLES = ("system", "user", "assistant", "tool")
REQUIRED = ("data_source", "prompt", "ability", "reward_model", "extra_info")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
PARQUET_MAGIC = b"PAR1"


class Report:
    """Problems and statistics of one file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.rows = 0
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.data_sources: Counter = Counter()
        self.splits: Counter = Counter()
        self.prompt_lengths: list[int] = []
        self.length_unit = "words"

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{self.path}: {where}: {message}")

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{self.path}: {where}: {message}")

    def as_dict(self) -> dict:
        lengths = sorted(self.prompt_lengths)
        stats = {}
        if lengths:
            stats = {
                "unit": self.length_unit,
                "min": lengths[0],
                "median": statistics.median(lengths),
                "mean": round(statistics.fmean(lengths), 1),
                "p95": lengths[min(len(lengths) - 1, math.ceil(0.95 * len(lengths)) - 1)],
                "max": lengths[-1],
            }
        return {
            "file": self.path,
            "rows": self.rows,
            "errors": self.errors,
            "warnings": self.warnings,
            "data_sources": dict(self.data_sources),
            "splits": dict(self.splits),
            "prompt_length": stats,
            "ok": not self.errors,
        }


# ------------------------------------------------------------------------------------------- reading


def read_rows(path: Path, report: Report) -> list[tuple[str, object]]:
    """(where, row) pairs of a file; unreadable input becomes an error in `report`, not an exception."""
    if not path.exists():
        report.error("file", "does not exist")
        return []
    if path.is_dir():
        report.error("file", "is a directory; pass a .parquet or .jsonl file")
        return []
    try:
        head = path.open("rb").read(4)
    except OSError as err:
        report.error("file", f"cannot be read ({err.strerror or err})")
        return []
    if not head:
        report.error("file", "is empty (0 bytes)")
        return []
    if path.suffix == ".parquet" or head == PARQUET_MAGIC:
        return _read_parquet(path, report)
    if path.suffix in (".jsonl", ".json"):
        return _read_json_lines(path, report)
    report.error("file", f"unknown format {path.suffix!r}: expected .parquet or .jsonl")
    return []


def _read_parquet(path: Path, report: Report) -> list[tuple[str, object]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        report.error("file", "reading parquet needs pyarrow (pip install pyarrow, or run bash tests/run.sh once)")
        return []
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as err:  # pyarrow raises ArrowInvalid, OSError, ... on damaged files
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        report.error("file", f"not a readable parquet file ({message})")
        return []
    if not rows:
        report.error("file", "has 0 rows: a run needs at least one prompt (prepare the data again)")
    return [(f"row {i}", row) for i, row in enumerate(rows, 1)]


def _read_json_lines(path: Path, report: Report) -> list[tuple[str, object]]:
    raw = path.read_bytes()
    out: list[tuple[str, object]] = []
    text_lines = raw.split(b"\n")
    if path.suffix == ".json" and raw.lstrip()[:1] == b"[":  # a JSON array file
        try:
            rows = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as err:
            report.error("file", f"is not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start})")
            return []
        except json.JSONDecodeError as err:
            report.error("file", f"is not valid JSON (line {err.lineno}: {err.msg})")
            return []
        return [(f"row {i}", row) for i, row in enumerate(rows, 1)]
    row_no = 0
    for line_no, line in enumerate(text_lines, 1):
        if not line.strip():
            continue
        row_no += 1
        where = f"row {row_no} (line {line_no})"
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as err:
            report.error(where, f"is not UTF-8 text (byte 0x{line[err.start]:02x} at column {err.start + 1})")
            continue
        try:
            out.append((where, json.loads(text)))
        except json.JSONDecodeError as err:
            report.error(where, f"is not valid JSON ({err.msg} at column {err.colno})")
    if row_no == 0:
        report.error("file", "has no rows (only blank lines)")
    return out


# ---------------------------------------------------------------------------------------- validation


def _check_prompt(where: str, prompt: object, report: Report) -> None:
    if not isinstance(prompt, list) or not prompt:
        report.error(where + " field 'prompt'", f"must be a non-empty list of chat messages, got {_short(prompt)}")
        return
    for i, message in enumerate(prompt):
        at = f"{where} field 'prompt[{i}]"
        if not isinstance(message, dict):
            report.error(at + "'", f"must be an object with 'role' and 'content', got {_short(message)}")
            continue
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            report.error(at + ".role'", f"must be one of {', '.join(ROLES)}, got {_short(role)}")
        if not isinstance(content, str) or not content.strip():
            report.error(at + ".content'", f"must be a non-empty string, got {_short(content)}")
    if not any(isinstance(m, dict) and m.get("role") == "user" for m in prompt):
        report.error(where + " field 'prompt'", "has no user message")
    elif isinstance(prompt[-1], dict) and prompt[-1].get("role") != "user":
        report.warn(where + " field 'prompt'", "does not end with a user message (the model answers the last turn)")


def _check_ground_truth(where: str, row: dict, report: Report) -> None:
    reward_model = row.get("reward_model")
    if not isinstance(reward_model, dict):
        report.error(
            where + " field 'reward_model'",
            f"must be an object with 'style' and 'ground_truth', got {_short(reward_model)}",
        )
        return
    if not isinstance(reward_model.get("style"), str):
        report.error(
            where + " field 'reward_model.style'",
            f"must be a string such as 'rule', got {_short(reward_model.get('style'))}",
        )
    truth = reward_model.get("ground_truth")
    at = where + " field 'reward_model.ground_truth'"
    if isinstance(truth, dict):
        target = truth.get("target")
        if not isinstance(target, list) or not target or not all(isinstance(t, str) and t.strip() for t in target):
            report.error(
                where + " field 'reward_model.ground_truth.target'",
                f"must be a non-empty list of non-empty strings, got {_short(target)}",
            )
    elif isinstance(truth, list):
        if not truth or not all(isinstance(t, str) and t.strip() for t in truth):
            report.error(at, f"must be a non-empty list of non-empty strings, got {_short(truth)}")
    elif isinstance(truth, (str, int, float)) and not isinstance(truth, bool):
        if not str(truth).strip():
            report.error(at, "is empty")
        elif "gsm8k" in str(row.get("data_source", "")).lower() and not _NUMBER.fullmatch(str(truth).strip()):
            report.error(at, f"must be a number for GSM8K (the value after '####', no commas), got {_short(truth)}")
    else:
        report.error(at, f"is missing or of the wrong type, got {_short(truth)}")


def check_row(where: str, row: object, report: Report, seen: dict) -> None:
    """Validate one row; record its split and index in `seen` to catch duplicates."""
    if not isinstance(row, dict):
        report.error(where, f"must be a JSON object, got {_short(row)}")
        return
    missing = [f for f in REQUIRED if f not in row or row[f] is None]
    for field in missing:
        report.error(f"{where} field '{field}'", "is missing")
    source = row.get("data_source")
    if "data_source" not in missing:
        if not isinstance(source, str) or not source.strip():
            report.error(f"{where} field 'data_source'", f"must be a non-empty string, got {_short(source)}")
        else:
            report.data_sources[source] += 1
    if "ability" not in missing and not isinstance(row["ability"], str):
        report.error(f"{where} field 'ability'", f"must be a string, got {_short(row['ability'])}")
    if "prompt" not in missing:
        _check_prompt(where, row["prompt"], report)
    if "reward_model" not in missing:
        _check_ground_truth(where, row, report)
    if "extra_info" in missing:
        return
    extra = row["extra_info"]
    if not isinstance(extra, dict):
        report.error(f"{where} field 'extra_info'", f"must be an object with 'split' and 'index', got {_short(extra)}")
        return
    split, index = extra.get("split"), extra.get("index")
    if not isinstance(split, str) or not split:
        report.error(f"{where} field 'extra_info.split'", f"must be a non-empty string, got {_short(split)}")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        report.error(f"{where} field 'extra_info.index'", f"must be an integer >= 0, got {_short(index)}")
    elif isinstance(split, str):
        report.splits[split] += 1
        first = seen.setdefault((split, index), where)
        if first != where:
            report.error(
                f"{where} field 'extra_info.index'", f"duplicate index {index} in split {split!r} (first at {first})"
            )


def _short(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def prompt_length(row: dict, tokenizer: object | None) -> int | None:
    """Tokens after the chat template (with a tokenizer) or whitespace words, for a valid prompt."""
    prompt = row.get("prompt") if isinstance(row, dict) else None
    if not isinstance(prompt, list) or not all(
        isinstance(m, dict) and isinstance(m.get("content"), str) for m in prompt
    ):
        return None
    if tokenizer is None:
        return sum(len(m["content"].split()) for m in prompt)
    try:
        ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True)
    except Exception:  # a prompt the template rejects (e.g. a bad role) is already an error of its own
        return None
    if isinstance(ids, dict) or hasattr(ids, "keys"):  # transformers 5 returns a BatchEncoding
        ids = ids["input_ids"]
    return len(ids)


def check_file(path: str | Path, tokenizer: object | None = None, max_prompt_length: int | None = None) -> Report:
    """Validate one file and collect its statistics."""
    report = Report(str(path))
    seen: dict = {}
    rows = read_rows(Path(path), report)
    report.rows = len(rows)
    if tokenizer is not None:
        report.length_unit = "tokens"
    for where, row in rows:
        check_row(where, row, report, seen)
        n = prompt_length(row, tokenizer)
        if n is not None:
            report.prompt_lengths.append(n)
            if max_prompt_length is not None and n > max_prompt_length:
                report.warn(
                    where + " field 'prompt'", f"{n} {report.length_unit} > --max-prompt-length {max_prompt_length}"
                )
    return report


def load_tokenizer(path: str) -> object:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def print_summary(reports: list[Report], max_errors: int) -> None:
    for report in reports:
        for line in report.errors[:max_errors]:
            print(f"ERROR {line}")
        if len(report.errors) > max_errors:
            print(f"ERROR {report.path}: ... and {len(report.errors) - max_errors} more errors")
        for line in report.warnings[:max_errors]:
            print(f"WARN  {line}")
        if len(report.warnings) > max_errors:
            print(f"WARN  {report.path}: ... and {len(report.warnings) - max_errors} more warnings")
    header = f"{'file':40s} {'rows':>6s} {'errors':>6s} {'warns':>6s}  data sources / splits / prompt length"
    print("\n" + header + "\n" + "-" * len(header))
    for report in reports:
        d = report.as_dict()
        sources = ", ".join(f"{k} {v}" for k, v in d["data_sources"].items()) or "-"
        splits = ", ".join(f"{k} {v}" for k, v in d["splits"].items()) or "-"
        length = d["prompt_length"]
        lengths = (
            f"{length['unit']}: min {length['min']}, median {length['median']}, mean {length['mean']}, "
            f"p95 {length['p95']}, max {length['max']}"
            if length
            else "-"
        )
        name = report.path if len(report.path) <= 40 else "..." + report.path[-37:]
        status = "OK " if d["ok"] else "BAD"
        print(
            f"{name:40s} {d['rows']:6d} {len(d['errors']):6d} {len(d['warnings']):6d}  {status} {sources} | {splits} | {lengths}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="parquet or JSONL files")
    parser.add_argument("--tokenizer", help="a tokenizer directory (or hub name) to count prompt tokens with")
    parser.add_argument("--max-prompt-length", type=int, default=None, help="warn about longer prompts")
    parser.add_argument("--max-errors", type=int, default=20, help="errors printed per file (all are counted)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    tokenizer = None
    if args.tokenizer:
        try:
            tokenizer = load_tokenizer(args.tokenizer)
        except Exception as err:
            print(
                f"error: cannot load the tokenizer {args.tokenizer!r}: {str(err).splitlines()[0] if str(err) else err!r}"
            )
            return 1
    reports = [check_file(f, tokenizer, args.max_prompt_length) for f in args.files]
    if args.json:
        print(json.dumps([r.as_dict() for r in reports], indent=2, ensure_ascii=False))
    else:
        print_summary(reports, args.max_errors)
    bad = [r for r in reports if r.errors]
    if not args.json:
        print(f"\n{'FAIL' if bad else 'PASS'}: {len(reports) - len(bad)} of {len(reports)} file(s) clean")
    return 1 if bad else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # the report was piped into `head`
        sys.exit(1)
    except Exception as err:  # the promise: a message, never a traceback
        print(f"error: check_data.py failed unexpectedly: {type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(2)
