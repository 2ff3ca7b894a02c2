# Chapter 01 notes: learning_notes/01_quickstart/README.md#what-check_envsh-tells-you
"""The checks behind check_env.sh: a PASS / WARN / FAIL table with a one-line fix for each non-PASS.

Only the standard library is imported at the top, so this runs (and reports what is missing) with any
Python. FAIL means the project cannot run; WARN means something optional is missing or the machine
will be slow (no GPU); the exit status is 1 only when a row FAILs.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import platform
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUP_FIX = "bash tests/run.sh (creates .venv and installs everything), then run check_env.sh again"


def row(name: str, status: str, detail: str, fix: str = "") -> dict:
    return {"check": name, "status": status, "detail": detail, "fix": fix if status != "PASS" else ""}


def check_python() -> dict:
    version = platform.python_version()
    if sys.version_info >= (3, 10):  # noqa: UP036 (this file runs on old Pythons too, to say so)
        return row("python", "PASS", f"{version} at {sys.executable}")
    return row(
        "python", "FAIL", f"{version} is too old", "install Python 3.10 or newer and set PYTHON=/path/to/python3"
    )


def check_package(name: str, module: str, required: bool, why: str) -> dict:
    try:
        version = importlib.metadata.version(name)
        importlib.import_module(module)
        return row(name, "PASS", version)
    except importlib.metadata.PackageNotFoundError:
        return row(name, "FAIL" if required else "WARN", f"not installed ({why})", SETUP_FIX)
    except Exception as err:  # installed but broken (a wrong binary, a missing shared library)
        return row(name, "FAIL" if required else "WARN", f"installed but `import {module}` fails: {err}", SETUP_FIX)


def check_torch_and_gpu() -> list[dict]:
    try:
        import torch
    except Exception as err:
        return [row("torch", "FAIL", f"not importable ({err})", SETUP_FIX)]
    rows = [
        row(
            "torch",
            "PASS",
            f"{torch.__version__} ({'CUDA ' + torch.version.cuda if torch.version.cuda else 'CPU build'})",
        )
    ]
    if not torch.cuda.is_available():
        rows.append(
            row(
                "cuda",
                "WARN",
                "no CUDA device: training runs on the CPU",
                "fine for the tiny model; for Qwen2.5 use a machine with an NVIDIA GPU and a CUDA build of torch",
            )
        )
        rows.append(row("gpu", "WARN", "none", "optional: see the cuda row"))
        rows.append(row("bf16", "WARN", "n/a without a GPU", "nothing to do: CPU runs use float32"))
        return rows
    props = torch.cuda.get_device_properties(0)
    memory_gb = props.total_memory / 2**30
    rows.append(row("cuda", "PASS", f"CUDA {torch.version.cuda}, {torch.cuda.device_count()} device(s)"))
    status = "PASS" if memory_gb >= 20 else "WARN"
    rows.append(
        row(
            "gpu",
            status,
            f"{props.name}, {memory_gb:.1f} GiB",
            "under 20 GiB: use LoRA and smaller batches (see chapter 07)",
        )
    )
    bf16 = torch.cuda.is_bf16_supported()
    rows.append(
        row(
            "bf16",
            "PASS" if bf16 else "WARN",
            "supported" if bf16 else "not supported",
            "use fp16 or fp32: dtype=float32",
        )
    )
    return rows


def check_vllm(has_gpu: bool) -> dict:
    try:
        version = importlib.metadata.version("vllm")
    except importlib.metadata.PackageNotFoundError:
        if has_gpu:
            return row(
                "vllm",
                "WARN",
                "not installed: rollouts use Hugging Face generate (slower)",
                "pip install -e '.[gpu]' (vLLM 0.30-0.31, same torch pin), then rollout_backend=vllm (chapter 07)",
            )
        return row("vllm", "WARN", "not installed (optional, GPU only)", "nothing to do on a CPU machine")
    sys.path.insert(0, str(ROOT))
    try:
        from minimal_impl.rollout_vllm import vllm_unavailable_reason

        reason = vllm_unavailable_reason()
    except Exception as err:  # a broken install must not stop the table
        reason = f"{type(err).__name__}: {err}"
    if reason is None:
        return row("vllm", "PASS", f"{version} (rollout_backend=vllm)")
    return row("vllm", "WARN", f"{version}, not usable: {reason}", "pip install -e '.[gpu]' on a CUDA machine")


def check_memory(preset: str, gpu_gib: float | None) -> dict:
    """Chapter 07's estimate of a preset's peak GPU memory against this GPU (or --gpu-gib)."""
    sys.path.insert(0, str(ROOT))
    try:
        from minimal_impl.config import build_config
        from minimal_impl.memory import GIB, estimate, fit_verdict, fits, shape_of

        config = build_config(preset, [])
        est = estimate(config, shape_of(str(config.model_path)))
    except Exception as err:
        return row("memory", "FAIL", f"cannot estimate preset {preset}: {type(err).__name__}: {err}",
                   "check the preset name (minimal_impl/presets/) and, for a local model, that it is built")  # fmt: skip
    if gpu_gib is None:
        import torch

        if not torch.cuda.is_available():
            return row("memory", "WARN", f"{preset}: peak {est['peak'] / GIB:.1f} GiB (estimate), no GPU to compare",
                       "pass --gpu-gib N to check it against a GPU you plan to use")  # fmt: skip
        gpu_gib = torch.cuda.get_device_properties(0).total_memory / GIB
    detail = f"{preset}: {fit_verdict(est, gpu_gib)}"
    if fits(est, gpu_gib):
        return row("memory", "PASS", detail)
    return row("memory", "FAIL", detail,
               f"python -m minimal_impl.memory --preset {preset} shows the big terms; lower ppo_micro_batch_size, "
               "use lora_rank=32, or a bigger GPU (chapter 07)")  # fmt: skip


def check_disk(min_free_gb: float = 5.0) -> dict:
    free_gb = shutil.disk_usage(ROOT).free / 2**30
    if free_gb < 1:
        return row(
            "disk",
            "FAIL",
            f"{free_gb:.1f} GiB free in {ROOT}",
            "free some space: checkpoints and the venv need a few GiB",
        )
    status = "PASS" if free_gb >= min_free_gb else "WARN"
    return row(
        "disk",
        status,
        f"{free_gb:.1f} GiB free",
        f"Qwen2.5 checkpoints need several GiB; keep {min_free_gb:.0f}+ GiB free",
    )


def check_hub(timeout: float = 3.0) -> dict:
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return row("hf hub", "PASS", "offline mode (HF_HUB_OFFLINE=1): sample data and the tiny model are used")
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=timeout)
        return row("hf hub", "PASS", f"{endpoint} reachable: GSM8K, NQ and Qwen2.5 can be downloaded")
    except urllib.error.HTTPError as err:
        return row("hf hub", "PASS", f"{endpoint} answered HTTP {err.code}")
    except (urllib.error.URLError, OSError) as err:
        return row(
            "hf hub",
            "WARN",
            f"{endpoint} unreachable ({getattr(err, 'reason', err)})",
            "offline is fine: set HF_HUB_OFFLINE=1; the sample data and the tiny model need no download",
        )


def check_project() -> dict:
    sys.path.insert(0, str(ROOT))
    try:
        import minimal_impl
        from minimal_impl import bm25, gae, grpo, ppo, rewards, tool_calls  # noqa: F401

        return row("project", "PASS", f"minimal_impl {minimal_impl.__version__} imports from {ROOT}")
    except Exception as err:
        return row("project", "FAIL", f"`import minimal_impl` fails: {type(err).__name__}: {err}", SETUP_FIX)


PACKAGES = [  # (distribution, module, required, why)
    ("transformers", "transformers", True, "models and tokenizers"),
    ("datasets", "datasets", True, "data loading and parquet"),
    ("tokenizers", "tokenizers", True, "the tiny tokenizer"),
    ("numpy", "numpy", True, "arrays"),
    ("scipy", "scipy", True, "BM25's sparse matrices"),
    ("matplotlib", "matplotlib", True, "plots"),
    ("rank-bm25", "rank_bm25", False, "the BM25 test oracle"),
    ("jupyter_client", "jupyter_client", False, "running the notebooks"),
]


def run_checks(preset: str | None = None, gpu_gib: float | None = None) -> list[dict]:
    rows = [check_python()]
    torch_rows = check_torch_and_gpu()
    rows += torch_rows
    rows += [check_package(*spec) for spec in PACKAGES]
    has_gpu = any(r["check"] == "cuda" and r["status"] == "PASS" for r in torch_rows)
    rows += [check_vllm(has_gpu), check_disk(), check_hub(), check_project()]
    if preset:
        rows.append(check_memory(preset, gpu_gib))
    return rows


def print_table(rows: list[dict]) -> None:
    width = max(len(r["check"]) for r in rows)
    print(f"{'check':{width}s}  status  detail")
    print("-" * (width + 60))
    for r in rows:
        print(f"{r['check']:{width}s}  {r['status']:6s}  {r['detail']}")
        if r["fix"]:
            print(f"{'':{width}s}          fix: {r['fix']}")
    counts = {s: sum(r["status"] == s for r in rows) for s in ("PASS", "WARN", "FAIL")}
    print("-" * (width + 60))
    print(f"{counts['PASS']} PASS, {counts['WARN']} WARN, {counts['FAIL']} FAIL")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check this machine for agentic-rl-from-scratch.")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--preset", help="also estimate this training preset's GPU memory (chapter 07)")
    parser.add_argument("--gpu-gib", type=float, help="with --preset: compare against this much GPU memory")
    args = parser.parse_args(argv)
    rows = run_checks(args.preset, args.gpu_gib)
    if args.json:
        print(json.dumps({"rows": rows, "ok": all(r["status"] != "FAIL" for r in rows)}, indent=2))
    else:
        print_table(rows)
    return 1 if any(r["status"] == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # the table was piped into `head`
        sys.exit(0)
