# Chapter 06 notes: learning_notes/06_training_engineering/README.md#our-grpo-step-against-trl
"""Our GRPO step against TRL's `GRPOTrainer`, same model, prompts, group size and generation length, one run.

    python bench/grpo_step_bench.py                       # 6 steps of 8 prompts x 8 completions, 32 new tokens
    python bench/grpo_step_bench.py --steps 6 --prompts 8 --group 8 --gen 32 --out grpo_bench.md

Both trainers run the same single-turn GRPO step on the CPU: sample `group` completions for each of
`prompts` prompts (temperature 1, top-p 1, at most `gen` new tokens), score them with the same GSM8K
rule, compute group-normalised advantages, and take one AdamW step on the clipped token-mean loss with
a k3 KL term (beta 0.001) against a frozen reference. Same tiny Qwen2 model (random weights, so both
generate to the length limit), same prompts (the sample GSM8K set), same thread count.

Each trainer runs in its own process, so that its peak memory (max RSS) is its own. A step's time is
the median over the steps after the first (the first pays for allocations). Samples/s counts
completions, tokens/s generated tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def prepare(work: Path, prompts: int, steps: int) -> tuple[Path, Path]:
    """The tiny model and a train set of exactly prompts x steps sample GSM8K rows (one epoch)."""
    from minimal_impl import data, tiny_model
    from minimal_impl.sample_data import SAMPLE_DIR, read_jsonl

    model_dir = tiny_model.build(work / "model")
    raw = read_jsonl(SAMPLE_DIR / "gsm8k_train.jsonl")[: prompts * steps]
    data_dir = work / "data"
    for split in ("train", "test"):
        data.write_rows(
            data.to_rows("sample-gsm8k", raw if split == "train" else raw[:1], split), data_dir / "sample-gsm8k", split
        )
    return model_dir, data_dir


def run_ours(args: argparse.Namespace) -> dict:
    from minimal_impl.config import build_config
    from minimal_impl.train import train

    config = build_config(
        None,
        task="sample-gsm8k", reward_fn="gsm8k_strict", model_path=args.model, data_dir=args.data,
        output_dir=args.work, run_name="ours", train_batch_size=args.prompts, rollout_n=args.group,
        ppo_mini_batch_size=args.prompts, ppo_micro_batch_size=args.prompts * args.group, ppo_epochs=1,
        max_new_tokens=args.gen, max_prompt_length=256, temperature=1.0, top_p=1.0, use_kl_loss=True,
        kl_loss_coef=0.001, kl_loss_type="k3", loss_agg_mode="token-mean", filter_zero_variance_groups=False,
        actor_lr=5e-4, total_steps=args.steps, eval_steps=10_000, save_steps=10_000, eval_max_samples=1,
        warmup_sft_steps=0, seed=0,
    )  # fmt: skip
    train(config, log=lambda message: None)
    rows = [json.loads(line) for line in (Path(args.work) / "ours" / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "timing/step" in r]
    return {
        "step_s": [r["timing/step"] for r in rows],
        "tokens": [r["response/model_tokens"] * args.prompts * args.group for r in rows],
    }


def run_trl(args: argparse.Namespace) -> dict:
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from minimal_impl.data import load_rows
    from minimal_impl.rewards import gsm8k_score

    rows = load_rows(Path(args.data) / "sample-gsm8k" / "train.parquet")
    dataset = Dataset.from_list(
        [{"prompt": r["prompt"], "ground_truth": r["reward_model"]["ground_truth"]} for r in rows]
    )
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    tokenizer.padding_side = "left"

    def reward(prompts: list, completions: list, ground_truth: list, **kwargs: object) -> list[float]:
        texts = [c[0]["content"] if isinstance(c, list) else c for c in completions]
        return [gsm8k_score(t, g) for t, g in zip(texts, ground_truth)]

    class Timer(TrainerCallback):
        def __init__(self) -> None:
            self.step_s: list[float] = []
            self.tokens: list[float] = []

        def on_step_begin(self, *_: object, **__: object) -> None:
            self.start = time.perf_counter()

        def on_step_end(self, *_: object, **__: object) -> None:
            self.step_s.append(time.perf_counter() - self.start)

        def on_log(
            self, _args: object, _state: object, _control: object, logs: dict | None = None, **__: object
        ) -> None:
            if logs and "completions/mean_length" in logs:
                self.tokens.append(logs["completions/mean_length"] * args.prompts * args.group)

    config = GRPOConfig(
        output_dir=str(Path(args.work) / "trl"), use_cpu=True, bf16=False, seed=0,
        per_device_train_batch_size=args.prompts * args.group, gradient_accumulation_steps=1,
        num_generations=args.group, max_completion_length=args.gen, temperature=1.0, top_p=1.0,
        beta=0.001, loss_type="dapo", scale_rewards="group", num_iterations=1, learning_rate=5e-4,
        max_steps=args.steps, logging_steps=1, report_to="none", save_strategy="no", disable_tqdm=True,
    )  # fmt: skip
    timer = Timer()
    trainer = GRPOTrainer(model=args.model, processing_class=tokenizer, reward_funcs=[reward], args=config, train_dataset=dataset, callbacks=[timer])  # fmt: skip
    trainer.train()
    return {"step_s": timer.step_s, "tokens": timer.tokens}


def worker(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    result = run_ours(args) if args.worker == "ours" else run_trl(args)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))
    return 0


def summarise(result: dict, samples: int) -> dict:
    steps = result["step_s"][1:] or result["step_s"]
    tokens = result["tokens"][1:] or result["tokens"]
    step_s = statistics.median(steps)
    return {
        "step_s": step_s,
        "samples_s": samples / step_s,
        "tokens_s": statistics.median(tokens) / step_s,
        "rss": result["peak_rss_mb"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6, help="GRPO steps per trainer (the first is not timed)")
    parser.add_argument("--prompts", type=int, default=8, help="prompts per step")
    parser.add_argument("--group", type=int, default=8, help="completions per prompt")
    parser.add_argument("--gen", type=int, default=32, help="max new tokens per completion")
    parser.add_argument("--threads", type=int, default=min(os.cpu_count() or 1, 2), help="torch threads for both")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    parser.add_argument("--worker", choices=("ours", "trl"), help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if min(args.steps, args.prompts, args.gen) < 1 or args.group < 2:
        parser.error("--steps, --prompts and --gen must be >= 1 and --group >= 2")
    try:
        trl_version = version("trl")
    except Exception:
        print("ERROR: TRL is not installed (pip install trl); the comparison needs it.", file=sys.stderr)
        return 1
    command = "python bench/grpo_step_bench.py " + " ".join(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_dir, data_dir = prepare(work, args.prompts, args.steps)
        results = {}
        for name in ("ours", "trl"):
            cmd = [sys.executable, __file__, "--worker", name, "--model", str(model_dir), "--data", str(data_dir), "--work", str(work),
                   "--steps", str(args.steps), "--prompts", str(args.prompts), "--group", str(args.group), "--gen", str(args.gen),
                   "--threads", str(args.threads)]  # fmt: skip
            env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)}
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if proc.returncode or line is None:
                print(f"ERROR: the {name} worker failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
                return 1
            results[name] = summarise(json.loads(line[len("RESULT ") :]), args.prompts * args.group)
    ours, trl = results["ours"], results["trl"]
    import torch
    import transformers

    lines = [
        f"Command: `{command.strip()}`",
        "",
        f"One GRPO step = {args.prompts} prompts x {args.group} completions of up to {args.gen} new tokens, then one AdamW step "
        f"(token-mean clipped loss, k3 KL beta 0.001 to a frozen reference). Tiny Qwen2 model (random weights), sample GSM8K "
        f"prompts, CPU, {args.threads} torch threads; median of steps 2..{args.steps}.",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores visible; Python {platform.python_version()}, torch {torch.__version__}, "
        f"transformers {transformers.__version__}, TRL {trl_version}.",
        "",
        "| trainer | s / step | samples / s | generated tokens / s | peak RSS (MB) |",
        "| --- | --- | --- | --- | --- |",
        f"| ours (`minimal_impl.train`) | {ours['step_s']:.2f} | {ours['samples_s']:.1f} | {ours['tokens_s']:.0f} | {ours['rss']:.0f} |",
        f"| TRL `GRPOTrainer` | {trl['step_s']:.2f} | {trl['samples_s']:.1f} | {trl['tokens_s']:.0f} | {trl['rss']:.0f} |",
        f"| **ratio ours / TRL** | **{trl['step_s'] / ours['step_s']:.2f}x faster** | {ours['samples_s'] / trl['samples_s']:.2f}x | "
        f"{ours['tokens_s'] / trl['tokens_s']:.2f}x | {ours['rss'] / trl['rss']:.2f}x |",
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
