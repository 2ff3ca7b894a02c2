# Chapter 02 notes: learning_notes/02_data/README.md#what-check_datapy-catches
"""check_data.py: clean files pass with exit 0; every malformed file of a fuzz set fails with exit 1,
a message naming the row and the field, and never a traceback."""

from __future__ import annotations

import copy
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import check_data  # noqa: E402
from minimal_impl.data import load_rows  # noqa: E402

GOOD = {
    "data_source": "sample/gsm8k",
    "prompt": [{"role": "user", "content": "What is 2 + 3?"}],
    "ability": "math",
    "reward_model": {"style": "rule", "ground_truth": "5"},
    "extra_info": {"split": "train", "index": 0},
}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "check_data.py"), *args], capture_output=True, text=True, timeout=120
    )


def _run_here(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    """check_data.main in this process (fast); an exception would fail the test instead of printing a traceback."""
    status = check_data.main(list(args))
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _rows(n: int = 3) -> list[dict]:
    rows = []
    for i in range(n):
        row = copy.deepcopy(GOOD)
        row["extra_info"]["index"] = i
        rows.append(row)
    return rows


def test_prepared_files_are_clean(prepared: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture) -> None:
    files = [
        str(prepared / d / f"{s}.{e}") for d in ("nq", "gsm8k") for s in ("train", "test") for e in ("parquet", "jsonl")
    ]
    status, out = _run_here(capsys, *files, "--tokenizer", str(tiny_model_dir), "--max-prompt-length", "512")
    assert status == 0, out
    assert "PASS: 8 of 8 file(s) clean" in out and "tokens: min" in out
    result = _run(str(prepared / "nq" / "test.parquet"), "--json")  # the real script, in its own process
    report = json.loads(result.stdout)[0]
    assert (
        result.returncode == 0
        and report["ok"]
        and report["rows"] == len(load_rows(prepared / "nq" / "test.parquet"))
        and report["prompt_length"]["unit"] == "words"
    )


def _mutations() -> list[tuple[str, object, str, str]]:
    """(case, row 2 of a 3-row file, expected field in the message, expected phrase)."""
    cases = []

    def mutate(name: str, fn, field: str, phrase: str) -> None:
        row = copy.deepcopy(GOOD)
        row["extra_info"]["index"] = 1
        out = fn(row)
        cases.append((name, row if out is None else out, field, phrase))

    mutate("missing prompt", lambda r: r.pop("prompt") and None, "prompt", "is missing")
    mutate("null reward_model", lambda r: r.update(reward_model=None), "reward_model", "is missing")
    mutate("empty prompt", lambda r: r.update(prompt=[]), "prompt", "non-empty list")
    mutate("prompt is a string", lambda r: r.update(prompt="What is 2 + 3?"), "prompt", "non-empty list")
    mutate("bad role", lambda r: r["prompt"][0].update(role="human"), "prompt[0].role", "must be one of")
    mutate("empty content", lambda r: r["prompt"][0].update(content="  "), "prompt[0].content", "non-empty string")
    mutate(
        "no user message", lambda r: r.update(prompt=[{"role": "system", "content": "hi"}]), "prompt", "no user message"
    )
    mutate("message not a dict", lambda r: r.update(prompt=["hi"]), "prompt[0]", "must be an object")
    mutate("empty ground truth", lambda r: r["reward_model"].update(ground_truth=""), "ground_truth", "is empty")
    mutate(
        "gsm8k text answer", lambda r: r["reward_model"].update(ground_truth="five"), "ground_truth", "must be a number"
    )
    mutate(
        "gsm8k comma answer",
        lambda r: r["reward_model"].update(ground_truth="1,234"),
        "ground_truth",
        "must be a number",
    )
    mutate("ground truth bool", lambda r: r["reward_model"].update(ground_truth=True), "ground_truth", "wrong type")
    mutate(
        "empty target",
        lambda r: r["reward_model"].update(ground_truth={"target": []}),
        "ground_truth.target",
        "non-empty list",
    )
    mutate(
        "target of numbers",
        lambda r: r["reward_model"].update(ground_truth={"target": [1]}),
        "ground_truth.target",
        "non-empty list",
    )
    mutate("no style", lambda r: r["reward_model"].pop("style") and None, "reward_model.style", "must be a string")
    mutate("empty data_source", lambda r: r.update(data_source=""), "data_source", "non-empty string")
    mutate("ability number", lambda r: r.update(ability=3), "ability", "must be a string")
    mutate("negative index", lambda r: r["extra_info"].update(index=-1), "extra_info.index", "integer >= 0")
    mutate("string index", lambda r: r["extra_info"].update(index="1"), "extra_info.index", "integer >= 0")
    mutate("duplicate index", lambda r: r["extra_info"].update(index=0), "extra_info.index", "duplicate index 0")
    mutate("no split", lambda r: r["extra_info"].pop("split") and None, "extra_info.split", "non-empty string")
    mutate("extra_info list", lambda r: r.update(extra_info=[1]), "extra_info", "must be an object")
    mutate("row is a list", lambda r: [1, 2], "row 2", "must be a JSON object")
    mutate("row is null", lambda r: None if False else "null", "row 2", "must be a JSON object")
    return cases


@pytest.mark.parametrize(("case", "bad_row", "field", "phrase"), _mutations(), ids=[c[0] for c in _mutations()])
def test_malformed_rows_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture, case: str, bad_row: object, field: str, phrase: str
) -> None:
    rows = _rows(3)
    rows[1] = bad_row
    for suffix in ("jsonl", "parquet"):
        path = tmp_path / f"bad.{suffix}"
        if suffix == "jsonl":
            _write_jsonl(path, rows)
        else:  # parquet can only hold rows of one schema: write the row alone, then it is row 1
            pa = pytest.importorskip("pyarrow")
            import pyarrow.parquet as pq

            if not isinstance(bad_row, dict):
                continue
            try:
                pq.write_table(
                    pa.Table.from_pylist([_rows(1)[0], bad_row] if case == "duplicate index" else [bad_row]), path
                )
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                continue  # a row that cannot be typed as parquet at all
        status, out = _run_here(capsys, str(path))
        assert status == 1, f"{case} ({suffix}) passed:\n{out}"
        row_no = 2 if suffix == "jsonl" or case == "duplicate index" else 1
        errors = [line for line in out.splitlines() if line.startswith("ERROR")]
        assert any(f"row {row_no}" in e and field in e and phrase in e for e in errors), f"{case} ({suffix}):\n{out}"


def test_unreadable_inputs_fail_cleanly(tmp_path: Path) -> None:
    good = _write_jsonl(tmp_path / "good.jsonl", _rows(4))
    cases = {
        "missing path": (tmp_path / "nope.parquet", "does not exist"),
        "directory": (tmp_path, "is a directory"),
        "empty file": (tmp_path / "empty.jsonl", "is empty"),
        "blank lines only": (tmp_path / "blank.jsonl", "has no rows"),
        "random bytes as parquet": (tmp_path / "random.parquet", "not a readable parquet file"),
        "truncated parquet": (tmp_path / "truncated.parquet", "not a readable parquet file"),
        "latin-1 jsonl": (tmp_path / "latin1.jsonl", "is not UTF-8"),
        "utf-16 jsonl": (tmp_path / "utf16.jsonl", "is not UTF-8"),
        "truncated jsonl": (tmp_path / "truncated.jsonl", "is not valid JSON"),
        "csv": (tmp_path / "data.csv", "unknown format"),
        "json array with garbage": (tmp_path / "array.json", "is not valid JSON"),
    }
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "blank.jsonl").write_bytes(b"\n\n  \n")
    (tmp_path / "random.parquet").write_bytes(random.Random(0).randbytes(300))
    from minimal_impl.data import write_rows

    write_rows(_rows(20), tmp_path / "full", "train")
    whole = (tmp_path / "full" / "train.parquet").read_bytes()
    (tmp_path / "truncated.parquet").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "latin1.jsonl").write_bytes(json.dumps(GOOD).replace("2 + 3", "2 + 3 é").encode("latin-1") + b"\n")
    (tmp_path / "utf16.jsonl").write_bytes(good.read_text().encode("utf-16"))
    (tmp_path / "truncated.jsonl").write_bytes(good.read_bytes()[:-40])
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    (tmp_path / "array.json").write_text('[{"a": 1}, ')
    for case, (path, phrase) in cases.items():
        result = _run(str(path))
        out = result.stdout + result.stderr
        assert result.returncode == 1, f"{case}: exit {result.returncode}\n{out}"
        assert phrase in out and "Traceback" not in out, f"{case}:\n{out}"
    # one bad file among good ones: the good one is still reported clean, the exit status is 1
    result = _run(str(good), str(tmp_path / "random.parquet"))
    assert result.returncode == 1 and "1 of 2 file(s) clean" in result.stdout


def test_fuzzed_bytes_never_crash(tmp_path: Path) -> None:
    """Random edits of a valid JSONL file: exit 0 or 1, never a traceback."""
    rng = random.Random(1)
    base = bytearray(_write_jsonl(tmp_path / "base.jsonl", _rows(3)).read_bytes())
    paths = []
    for i in range(40):
        blob = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(blob))
            blob[pos] = rng.randrange(256)
        path = tmp_path / f"fuzz{i}.jsonl"
        path.write_bytes(bytes(blob))
        paths.append(str(path))
    reports = [check_data.check_file(p) for p in paths]  # in-process: fast, and any exception fails the test
    assert all(isinstance(r.as_dict()["ok"], bool) for r in reports)
    assert sum(not r.as_dict()["ok"] for r in reports) > 0
    result = _run(*paths[:10])
    assert result.returncode in (0, 1) and "Traceback" not in result.stderr
