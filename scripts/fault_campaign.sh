#!/usr/bin/env bash
# Chapter 06 notes: learning_notes/06_training_engineering/README.md#what-a-run-survives
# A fault campaign on the real command line: start the default preset, send SIGKILL / SIGTERM / SIGINT after a
# few seconds, resume with --resume auto, again and again; then compare the finished run with an uninterrupted
# one (metrics step by step, the final weights' sha256).
#   bash run_first_training.sh --run-name final_seed0        # the uninterrupted reference, once
#   bash scripts/fault_campaign.sh runs/final_seed0 "KILL 15" "TERM 17" "KILL 16" "INT 19" "KILL 14" "TERM 18"
# Each "SIGNAL SECONDS" pair is one start; the moments land in start-up, steps, evaluations and saves
# depending on the machine's speed. The reference's warm-up is reused, so the two runs start from the same model.
set -euo pipefail
cd "$(dirname "$0")/.."
REF="${1:?usage: scripts/fault_campaign.sh REFERENCE_RUN_DIR [\"SIGNAL SECONDS\" ...]}"; shift
RUN=runs/fault_campaign
PY=.venv/bin/python
rm -rf "$RUN"; mkdir -p "$RUN"; cp -a "$REF/warmup" "$RUN/"
args=(--preset tiny_sample_nq run_name=fault_campaign run_baseline_eval=false)
finished() { grep -q '"total_steps reached"' "$RUN/summary.json" 2>/dev/null; }
resume() { if compgen -G "$RUN/checkpoint-*" >/dev/null; then echo --resume auto; fi; }
for spec in "$@"; do
  read -r sig after <<<"$spec"
  # shellcheck disable=SC2046
  $PY -m minimal_impl.train "${args[@]}" $(resume) >>"$RUN.log" 2>&1 &
  pid=$!
  sleep "$after"; kill "-$sig" "$pid" 2>/dev/null || true
  rc=0; wait "$pid" || rc=$?
  echo "SIG$sig after ${after}s -> exit $rc; checkpoints: $(cd "$RUN" && ls -d checkpoint-* 2>/dev/null | tr '\n' ' ')"
  if finished; then break; fi
done
# shellcheck disable=SC2046
finished || $PY -m minimal_impl.train "${args[@]}" $(resume) >>"$RUN.log" 2>&1
$PY - "$RUN" "$REF" <<'PY'
import hashlib, sys
from pathlib import Path
from minimal_impl.run_log import read_metrics
run, ref = sys.argv[1:]
a, b = ([r for r in read_metrics(Path(f"{d}/metrics.jsonl"))[0] if "reward/mean" in r] for d in (run, ref))
diff = sum(1 for x, y in zip(a, b) for k in x if not k.startswith("timing") and k in y and x[k] != y[k])
sha = [hashlib.sha256(open(f"{d}/final/model.safetensors", "rb").read()).hexdigest()[:16] for d in (run, ref)]
print(f"steps {len(a)} vs {len(b)}, differing values {diff}, final weights {sha[0]} vs {sha[1]}")
sys.exit(0 if diff == 0 and len(a) == len(b) and sha[0] == sha[1] else 1)
PY
