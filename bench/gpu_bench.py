# Chapter 07 notes: learning_notes/07_scaling/README.md#measured-on-one-gpu
"""On a GPU: training-step time, rollout tokens/s and peak memory of the real trainer, against memory.py.

    python bench/gpu_bench.py --out gpu_bench.md            # needs a CUDA device; about ten minutes on an H100
    python bench/gpu_bench.py --steps 2 --only "GSM8K-style" "critic"   # the two rows of chapter 07: ~6 minutes

Runs the trainer (Hugging Face rollout backend) for a few steps, each configuration in its own process:
  - the tiny model on the sample search task (the CPU preset, on the GPU);
  - a randomly initialised model of Qwen2.5-0.5B's shape (vocabulary 151,936) with the qwen2.5-0.5b_gsm8k
    preset's batch sizes, on the sample GSM8K prompts: GRPO, with and without gradient checkpointing,
    and PPO with a critic. Random weights never emit EOS, so every completion runs to max_new_tokens:
    the worst case the memory arithmetic plans for. They never earn a reward either, so GRPO keeps its
    zero-variance groups here (filter_zero_variance_groups=false): the update then runs on all-zero
    advantages, which costs the same memory and time as a real one.
Each row reports the medians over the steps after the first, and `memory.estimate` for the same
configuration with the measured prompt length, so the two can be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

QWEN_05B_SHAPE = dict(vocab_size=151936, hidden_size=896, num_hidden_layers=24, num_attention_heads=14,
                      num_key_value_heads=2, intermediate_size=4864, tie_word_embeddings=True)  # fmt: skip
CASES = {  # name -> (preset, model, overrides)
    "tiny, sample NQ search, GRPO": ("tiny_sample_nq", "tiny", ["warmup_sft_steps=0", "device=cuda"]),
    "Qwen2.5-0.5B shape, GSM8K-style, GRPO": ("qwen2.5-0.5b_gsm8k", "qwen", ["filter_zero_variance_groups=false"]),
    "Qwen2.5-0.5B shape, GRPO, no checkpointing": (
        "qwen2.5-0.5b_gsm8k",
        "qwen",
        ["filter_zero_variance_groups=false", "gradient_checkpointing=false"],
    ),
    "Qwen2.5-0.5B shape, PPO with a critic": (
        "qwen2.5-0.5b_gsm8k",
        "qwen",
        ["adv_estimator=gae", "use_kl_loss=false", "critic_lr=1e-5"],
    ),
}


def build_models(work: Path) -> dict[str, Path]:
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from minimal_impl import tiny_model

    tiny = tiny_model.build(work / "tiny")
    tokenizer, _ = tiny_model.load(tiny)
    qwen = work / "qwen05b_shape"
    config = Qwen2Config(**QWEN_05B_SHAPE, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.eos_token_id], pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(str(qwen))
    tokenizer.save_pretrained(str(qwen))
    return {"tiny": tiny, "qwen": qwen}


def run_case(name: str, models: dict, work: Path, steps: int) -> dict:
    import torch

    from minimal_impl.config import build_config
    from minimal_impl.memory import estimate, shape_of
    from minimal_impl.train import train

    preset, model, overrides = CASES[name]
    run_name = "".join(ch if ch.isalnum() else "_" for ch in name)
    extra = [f"model_path={models[model]}", f"data_dir={work / 'data'}", f"output_dir={work / 'runs'}", f"run_name={run_name}",
             f"total_steps={steps}", f"eval_steps={10 * steps}", f"save_steps={10 * steps}", "eval_max_samples=8", "run_baseline_eval=true"]  # fmt: skip
    if model == "qwen":
        extra += ["task=sample-gsm8k", "reward_fn=gsm8k_strict"]
    config = build_config(preset, overrides + extra)
    train(config, log=lambda message: None)
    rows = [json.loads(line) for line in (config.run_dir / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "timing/step" in r][1:]  # the first step pays for allocations and kernels' warm-up
    sequences = config.train_batch_size * config.rollout_n
    from transformers import AutoTokenizer

    from minimal_impl.data import load_rows

    tok = AutoTokenizer.from_pretrained(config.model_path)
    dataset = "sample-nq" if config.task.endswith("nq-search") else "sample-gsm8k"
    texts = [tok.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=False) for r in load_rows(work / "data" / dataset / "train.parquet")]  # fmt: skip
    prompts = [len(tok.encode(text, add_special_tokens=False)) for text in texts]
    response = max(r["response/model_tokens"] for r in rows) if model == "tiny" else config.max_new_tokens
    est = estimate(
        config,
        shape_of(str(config.model_path)),
        prompt_tokens=max(prompts),
        response_tokens=int(response) if model == "qwen" else None,
    )
    gib = 2**30
    return {
        "case": name,
        "gpu": torch.cuda.get_device_name(0),
        "step_s": statistics.median(r["timing/step"] for r in rows),
        "rollout_s": statistics.median(r["timing/rollout"] for r in rows),
        "update_s": statistics.median(r["timing/update"] for r in rows),
        "rollout_tokens_s": statistics.median(
            r["response/model_tokens"] * sequences / r["timing/rollout"] for r in rows
        ),
        "rollout_peak_gib": max(r.get("memory/rollout_peak_gib", 0.0) for r in rows),
        "update_peak_gib": max(r.get("memory/update_peak_gib", 0.0) for r in rows),
        "estimate_rollout_gib": est["rollout"] / gib,
        "estimate_update_gib": est["update"] / gib,
        "components_gib": {k: v / gib for k, v in est["components"].items()},
        "sequences": sequences,
        "max_new_tokens": config.max_new_tokens,
        "prompt_tokens_max": max(prompts),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the markdown table here (and the JSON next to it)")
    parser.add_argument("--only", nargs="*", help="run only the configurations whose name contains one of these")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("ERROR: this benchmark needs a CUDA device (the CPU numbers are in chapter 06)", file=sys.stderr)
        return 1
    if args.case:  # worker: one configuration in this process
        models = json.loads(Path(args.work, "models.json").read_text())
        print("RESULT " + json.dumps(run_case(args.case, models, Path(args.work), args.steps)), flush=True)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        models = build_models(work)
        (work / "models.json").write_text(json.dumps({k: str(v) for k, v in models.items()}))
        results = []
        names = [n for n in CASES if not args.only or any(word in n for word in args.only)]
        for name in names:
            env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
            proc = subprocess.run([sys.executable, __file__, "--case", name, "--work", str(work), "--steps", str(args.steps)],
                                  capture_output=True, text=True, env=env, cwd=ROOT)  # fmt: skip
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(f"ERROR in {name}:\n{proc.stderr[-3000:]}", file=sys.stderr)
                continue
            results.append(json.loads(line[7:]))
            print(
                f"done: {name}: " + json.dumps({k: v for k, v in results[-1].items() if k != "components_gib"}),
                flush=True,
            )
            if args.out:  # after every configuration, so that a run cut short keeps what it measured
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    lines = [f"GPU: {results[0]['gpu'] if results else '?'}; torch {torch.__version__}; `python bench/gpu_bench.py --steps {args.steps}`", "",
             "| configuration | sequences x new tokens | s / step | rollout s | update s | rollout tokens / s | peak GiB rollout (estimate) | peak GiB update (estimate) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for r in results:
        lines.append(
            f"| {r['case']} | {r['sequences']} x {r['max_new_tokens']} | {r['step_s']:.2f} | {r['rollout_s']:.2f} | {r['update_s']:.2f} | "
            f"{r['rollout_tokens_s']:,.0f} | {r['rollout_peak_gib']:.2f} ({r['estimate_rollout_gib']:.2f}) | "
            f"{r['update_peak_gib']:.2f} ({r['estimate_update_gib']:.2f}) |"
        )
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report + "\n")
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
