#!/usr/bin/env bash
# The main job of README.md#setup: set up, check the machine, prepare data, train, plot, and say where it all is.
# Chapter 06 notes: learning_notes/06_training_engineering/README.md#run_first_trainingsh
#
#   bash run_first_training.sh                          # no GPU or no internet: tiny model, sample NQ search task
#   bash run_first_training.sh --task sample-gsm8k      # the sample GSM8K-style task instead
#   bash run_first_training.sh --steps 20 adv_estimator=rloo verbose=true
#   bash run_first_training.sh --run-name first_nq --resume   # continue a stopped run
#   bash run_first_training.sh --impl my_solutions      # train with YOUR gae, ppo, kl, grpo, ... (checked first)
#   bash run_first_training.sh --preset qwen2.5-0.5b_gsm8k    # the GPU preset (needs the hub for weights and data)
#   bash run_first_training.sh --preset qwen2.5-0.5b_gsm8k --engine verl --dry-run   # verl's command for it (ch. 07)
#
# Flags: --task T, --preset P, --steps N, --run-name NAME, --resume, --impl PACKAGE, --allow-failing-checks,
# --engine ours|verl, --dry-run (verl: print, do not run), --help; anything else of the form key=value is an override.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

usage_error() { echo "error: $1 (see bash run_first_training.sh --help)" >&2; exit 2; }
TASK="" PRESET="" STEPS="" RUN_NAME="" RESUME=0 OVERRIDES=() ENGINE="ours" VERL_FLAGS=() IMPL_FLAGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --task|--preset|--steps|--run-name|--engine|--impl)
      [ $# -ge 2 ] && [ -n "$2" ] && [ "${2#--}" = "$2" ] || usage_error "$1 needs a value"
      case "$1" in
        --task) TASK="$2" ;; --preset) PRESET="$2" ;; --steps) STEPS="$2" ;; --run-name) RUN_NAME="$2" ;;
        --engine) ENGINE="$2" ;; --impl) IMPL_FLAGS+=(--impl "$2") ;;
      esac
      shift 2 ;;
    --resume) RESUME=1; shift ;;
    --allow-failing-checks) IMPL_FLAGS+=(--allow-failing-checks); shift ;;
    --dry-run) VERL_FLAGS+=(--dry-run); shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *=*) OVERRIDES+=("$1"); shift ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
case "$ENGINE" in ours|verl) ;; *) usage_error "--engine is ours or verl, got '$ENGINE'" ;; esac
[ "$ENGINE" = verl ] || [ ${#VERL_FLAGS[@]} = 0 ] || usage_error "--dry-run goes with --engine verl"
[ -z "$STEPS" ] || [[ "$STEPS" =~ ^[1-9][0-9]*$ ]] || usage_error "--steps must be a positive integer, got '$STEPS'"
[ "$ENGINE" = ours ] || [ ${#IMPL_FLAGS[@]} = 0 ] || usage_error "--impl trains with our trainer: it does not go with --engine verl"

echo "== 1/5 environment =="
source scripts/bootstrap_env.sh
export TOKENIZERS_PARALLELISM=false MPLBACKEND=Agg

# defaults: a GPU and the hub -> Qwen2.5-0.5B-Instruct on GSM8K; otherwise the offline tiny run
HAS_GPU="$(python -c 'import torch; print(int(torch.cuda.is_available()))')"
HUB_OK="$(python -c 'from minimal_impl.data import hub_reachable; print(int(hub_reachable()[0]))')"
if [ -z "$PRESET" ]; then
  case "$TASK" in
    "") if [ "$HAS_GPU" = 1 ] && [ "$HUB_OK" = 1 ]; then PRESET="qwen2.5-0.5b_gsm8k"; else PRESET="tiny_sample_nq"; fi ;;
    sample-nq-search) PRESET="tiny_sample_nq" ;;
    sample-gsm8k) PRESET="tiny_sample_gsm8k" ;;
    gsm8k) PRESET="qwen2.5-0.5b_gsm8k" ;;
    nq-search) PRESET="qwen2.5-0.5b_nq_search" ;;
    *) echo "error: unknown task '$TASK' (sample-nq-search, sample-gsm8k, gsm8k, nq-search)" >&2; exit 2 ;;
  esac
fi
[ "$HUB_OK" = 1 ] || export HF_HUB_OFFLINE=1
RUN_NAME="${RUN_NAME:-${PRESET}_$(date +%Y%m%d-%H%M%S)}"
KV=("run_name=$RUN_NAME")  # key=value overrides of the preset
[ -z "$STEPS" ] || KV+=("total_steps=$STEPS")
[ -z "$TASK" ] || KV+=("task=$TASK")
KV+=("${OVERRIDES[@]+"${OVERRIDES[@]}"}")
ARGS=(--preset "$PRESET" "${KV[@]}")
[ "$RESUME" = 0 ] || ARGS+=(--resume auto)
echo "preset $PRESET (GPU: $HAS_GPU, hub reachable: $HUB_OK), run $RUN_NAME"
# the whole configuration is checked first: a bad preset, key or value stops here with its message
CONFIG="$(python -m minimal_impl.config --preset "$PRESET" --get dataset data_dir model_path run_dir -- "${KV[@]}")" || exit 2
{ read -r DATASET; read -r DATA_DIR; read -r MODEL_PATH; read -r RUN_DIR; } <<< "$CONFIG"
if [ "$ENGINE" = verl ] && [ ${#VERL_FLAGS[@]} != 0 ]; then  # a dry run needs no data or model: print verl's config
  echo "== verl dry run: the bridge prepares the data if it can and prints the command =="
  exec python -m minimal_impl.verl_bridge "${ARGS[@]}" "${VERL_FLAGS[@]}"
fi
bash check_env.sh || { echo "error: check_env.sh reported a FAIL; fix it first (see the table above)." >&2; exit 1; }

echo "== 2/5 data =="
if [ ! -e "$DATA_DIR/$DATASET" ]; then  # prepared once; an existing directory is never overwritten
  python -m minimal_impl.data prepare --dataset "$DATASET" --out "$DATA_DIR/$DATASET"
fi
python check_data.py "$DATA_DIR/$DATASET/train.parquet" "$DATA_DIR/$DATASET/test.parquet"

echo "== 3/5 model =="
if [ "$MODEL_PATH" = ".build/tiny_model" ] && [ ! -f .build/tiny_model/config.json ]; then
  python -m minimal_impl.tiny_model --out .build/tiny_model
else
  echo "model: $MODEL_PATH"
fi

if [ "$ENGINE" = verl ]; then  # same config, data and rewards; verl's trainer (chapter 07: the verl bridge)
  echo "== 4/5 training: handing over to verl =="
  exec python -m minimal_impl.verl_bridge "${ARGS[@]}" "${VERL_FLAGS[@]+"${VERL_FLAGS[@]}"}"
fi
echo "== 4/5 training =="
set +e
python -m minimal_impl.train "${ARGS[@]}" "${IMPL_FLAGS[@]+"${IMPL_FLAGS[@]}"}"
STATUS=$?
set -e
if [ "$STATUS" = 130 ]; then
  echo "training stopped (interrupted). Resume it with: bash run_first_training.sh --preset $PRESET --run-name $RUN_NAME --resume" >&2
  exit "$STATUS"
elif [ "$STATUS" != 0 ]; then
  echo "training did not run to the end (exit $STATUS): fix what the message above says, then run the command again." >&2
  exit "$STATUS"
fi

echo "== 5/5 plots and the rollout viewer =="
python -m minimal_impl.plot "$RUN_DIR"
VIEWER="$(python -m minimal_impl.viewer "$RUN_DIR" 2>&1 | tail -1)" || VIEWER="(no rollouts recorded: save_rollouts=false)"

cat <<EOF

Done. Everything of this run is in $RUN_DIR/:
  summary.json                 steps, baseline and best accuracy, why it stopped
  metrics.jsonl, tensorboard/  per-step metrics (tensorboard --logdir $RUN_DIR/tensorboard)
  baseline_eval.json           the evaluation of the starting model
  eval_logs/eval_step_*.json   one evaluation every eval_steps
  checkpoint-*/                the newest checkpoints (optimizer, scheduler, RNG, training_state.json)
  best_model/, final/          the best model by eval accuracy, and the last one
  plots/overview.png           the curves
  rollouts/index.html          the rollout viewer: episodes token by token (open it in a browser, from disk)
Continue training from the newest checkpoint:
  bash run_first_training.sh --preset $PRESET --run-name $RUN_NAME --resume --steps <a larger total>
What the curves mean: learning_notes/06_training_engineering/README.md
$VIEWER
EOF
