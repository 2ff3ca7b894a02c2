#!/usr/bin/env bash
# The test command of README.md#setup: set up .venv if needed, then lint, check the generated
# exercises, and run the whole suite, notebooks included. Extra arguments go to pytest.
#   bash tests/run.sh                 # everything
#   bash tests/run.sh -k gae          # a subset (notebooks still run unless NO_NOTEBOOKS=1)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/bootstrap_env.sh
export MPLBACKEND=Agg PYTHONHASHSEED=0 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

echo "[lint] ruff check + ruff format --check"
ruff check .
ruff format --check .

echo "[exercises] exercises/ must match minimal_impl/"
python scripts/make_exercises.py --check

notebooks=()
if [ "${NO_NOTEBOOKS:-0}" != "1" ]; then
  echo "[notebooks] jupytext -> .build/notebooks/*.ipynb"
  rm -rf .build/notebooks && mkdir -p .build/notebooks
  shopt -s nullglob
  for src in notebooks/*.py; do
    jupytext --quiet --to ipynb --output ".build/notebooks/$(basename "${src%.py}").ipynb" "$src"
  done
  built=(.build/notebooks/*.ipynb)
  [ ${#built[@]} -eq 0 ] || notebooks=("${built[@]}" --nbmake --nbmake-timeout=300)
fi

echo "[pytest] tests ${notebooks[*]:+and notebooks}"
python -m pytest tests "${notebooks[@]}" "$@"
