#!/usr/bin/env bash
# Set-up shared by tests/run.sh and run_first_training.sh: README.md#setup
# Creates (or reuses) .venv with Python >= 3.10, installs the requirements, and puts the repository
# root on the venv's import path. Reinstalls only when a requirements file or Python changes.
#   source scripts/bootstrap_env.sh            # runtime + dev + oracle
#   NO_ORACLE=1 source scripts/bootstrap_env.sh # skip the optional verl oracle
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"

PY=""
for candidate in "${PYTHON:-}" python3 python python3.13 python3.12 python3.11 python3.10; do
  [ -n "$candidate" ] || continue
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    PY="$candidate"; break
  fi
done
if [ -z "$PY" ]; then
  echo "error: Python 3.10 or newer is needed (set PYTHON=/path/to/python3 if it is not on PATH)." >&2
  return 1 2>/dev/null || exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $("$PY" --version)"
  if ! "$PY" -m venv "$VENV"; then
    echo "error: '$PY -m venv' failed; install the venv module (Debian/Ubuntu: apt install python3-venv)." >&2
    return 1 2>/dev/null || exit 1
  fi
fi

files=(requirements.txt requirements-dev.txt)
[ "${NO_ORACLE:-0}" = "1" ] || files+=(requirements-oracle.txt)
stamp="$( (cd "$ROOT" && cat "${files[@]}"; "$VENV/bin/python" --version; echo "oracle=${NO_ORACLE:-0}") | cksum)"
if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$stamp" ]; then
  echo "[setup] installing requirements into $VENV (the first time takes about three minutes; later runs reuse it)"
  # --no-compile: byte-compiling every installed module (ray, torch, jupyterlab, ...) takes a minute on two
  # cores; Python compiles the few modules the tests import on first use instead
  pip_install() { "$VENV/bin/python" -m pip install --disable-pip-version-check --no-compile -q "$@"; }
  pip_install -r "$ROOT/requirements.txt" -r "$ROOT/requirements-dev.txt"
  if [ "${NO_ORACLE:-0}" != "1" ]; then
    # optional: a failure here only means the verl conformance tests will skip
    if ! { pip_install -r "$ROOT/requirements-oracle.txt" -c "$ROOT/requirements.txt" && pip_install --no-deps "verl==0.9.1"; }; then
      echo "[setup] warning: could not install the verl oracle; its conformance tests will be skipped." >&2
    fi
  fi
  echo "$stamp" > "$VENV/.installed"
fi

# make `import minimal_impl` and `import tests.checks` work from anywhere (notebooks included).
# The root goes to the *front* of sys.path: verl's wheel ships a top-level `tests` package of its
# own, which would otherwise shadow ours.
site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
printf 'import sys; sys.path.insert(0, %s)\n' "$("$VENV/bin/python" -c 'import sys; print(repr(sys.argv[1]))' "$ROOT")" \
  > "$site/agentic_rl_from_scratch.pth"
# keep the bytecode caches (__pycache__) that Python writes on first import: with PYTHONDONTWRITEBYTECODE
# set (some containers set it), every process compiled torch and transformers from source again, about 8 s
# each, and a test run starts dozens of processes. Packages are installed with --no-compile (above), so
# the first import writes them.
unset PYTHONDONTWRITEBYTECODE
export PATH="$VENV/bin:$PATH"
export VIRTUAL_ENV="$VENV"
