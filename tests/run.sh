#!/usr/bin/env bash
# The test command of README.md#setup: set up .venv if needed, then lint, check the generated
# exercises, and run the whole suite, notebooks included. Extra arguments go to pytest.
#   bash tests/run.sh                 # everything
#   bash tests/run.sh -k gae          # a subset (notebooks still run unless NO_NOTEBOOKS=1)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# the browser of the rollout viewer's test (Debian's chromium): installed in the background while pip works;
# where apt-get cannot (no root, no network), that test skips and says why
CHROMIUM_LOG="$ROOT/.build/chromium-install.log"
mkdir -p "$ROOT/.build"
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ "${NO_BROWSER:-0}" != 1 ]; then
  ( (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) \
      > "$CHROMIUM_LOG" 2>&1 || echo "[browser] could not install chromium (see $CHROMIUM_LOG)" ) &
  CHROMIUM_PID=$!
fi
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

[ -z "${CHROMIUM_PID:-}" ] || wait "$CHROMIUM_PID" || true
# two workers, one file each at a time; one torch thread per worker (two would oversubscribe two cores)
workers=(); [ "${NO_XDIST:-0}" = 1 ] || workers=(-n 2 --dist loadfile --no-loadscope-reorder)
echo "[pytest] tests ${notebooks[*]:+and notebooks} ${workers[*]:+(2 workers)}"
OMP_NUM_THREADS=1 python -m pytest tests "${notebooks[@]}" "${workers[@]}" "$@"
