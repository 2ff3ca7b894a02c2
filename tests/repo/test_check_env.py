# Chapter 01 notes: learning_notes/01_quickstart/README.md#what-check_envsh-tells-you
"""check_env.sh: a PASS / WARN / FAIL table, WARN (not FAIL) for the GPU rows on a CPU machine, exit 1 only on FAIL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import check_env  # noqa: E402


def _run(*args: str, python: str = sys.executable) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHON": python, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        ["bash", str(ROOT / "check_env.sh"), *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_table_on_this_machine() -> None:
    result = _run()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for name in (
        "python",
        "torch",
        "cuda",
        "transformers",
        "datasets",
        "rank-bm25",
        "vllm",
        "disk",
        "hf hub",
        "project",
    ):
        assert any(line.split()[:1] == [name.split()[0]] for line in lines), f"no {name} row:\n{result.stdout}"
    assert "0 FAIL" in result.stdout


def test_json_rows_and_cpu_gpu_rows_warn(capsys, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    status = check_env.main(["--json"])  # in this process: the same rows, without a second start-up
    report = json.loads(capsys.readouterr().out)
    rows = {r["check"]: r for r in report["rows"]}
    assert report["ok"] and status == 0
    assert all(r["status"] in ("PASS", "WARN", "FAIL") for r in rows.values())
    assert all(r["fix"] for r in rows.values() if r["status"] != "PASS"), "every non-PASS row has a fix"
    import torch

    if not torch.cuda.is_available():
        assert rows["cuda"]["status"] == rows["gpu"]["status"] == rows["bf16"]["status"] == "WARN"
    assert rows["hf hub"]["status"] == "PASS" and "offline" in rows["hf hub"]["detail"]


def test_a_bare_python_fails_with_fixes_not_a_traceback() -> None:
    # -S: no site-packages, as on a fresh machine before the set-up
    script = ROOT / "scripts" / "check_env.py"
    result = subprocess.run([sys.executable, "-S", str(script)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "FAIL" in result.stdout and "bash tests/run.sh" in result.stdout


def test_row_helpers() -> None:
    missing = check_env.check_package("no-such-distribution-xyz", "no_such_module_xyz", True, "testing")
    optional = check_env.check_package("no-such-distribution-xyz", "no_such_module_xyz", False, "testing")
    assert missing["status"] == "FAIL" and optional["status"] == "WARN" and missing["fix"]
    assert check_env.row("x", "PASS", "ok", "unused fix")["fix"] == ""


def test_memory_row_says_whether_a_preset_fits(capsys, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fits = check_env.check_memory("qwen2.5-3b_nq_search_lora", 24)
    too_big = check_env.check_memory("qwen2.5-0.5b_gsm8k_ppo", 16)
    unknown = check_env.check_memory("no-such-preset", 24)
    assert fits["status"] == "PASS" and "fits" in fits["detail"]
    assert too_big["status"] == "FAIL" and "does NOT fit" in too_big["detail"] and "lora_rank" in too_big["fix"]
    assert unknown["status"] == "FAIL" and "no preset" in unknown["detail"]
    assert check_env.main(["--json", "--preset", "qwen2.5-0.5b_gsm8k_ppo", "--gpu-gib", "16"]) == 1
    rows = {r["check"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["memory"]["status"] == "FAIL"
