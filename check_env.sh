#!/usr/bin/env bash
# Chapter 01: learning_notes/01_quickstart/README.md#what-check_envsh-tells-you
# Check this machine: Python, torch and the GPU, the libraries, disk, the Hugging Face hub, the project.
# Prints a PASS / WARN / FAIL table with a fix for each non-PASS row; exits 1 only if a row FAILs.
#   bash check_env.sh           # the table
#   bash check_env.sh --json    # the same rows as JSON
#   bash check_env.sh --preset qwen2.5-0.5b_gsm8k [--gpu-gib 24]   # + does the preset fit the GPU?
# Uses the project's .venv when it exists (bash tests/run.sh or run_first_training.sh create it).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY="$(command -v python3 || command -v python)"; fi
fi
if [ -z "$PY" ]; then
  echo "check   status  detail"
  echo "python  FAIL    no python3 on PATH"
  echo "        fix: install Python 3.10 or newer"
  exit 1
fi
exec "$PY" "$ROOT/scripts/check_env.py" "$@"
