# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# Chapter 07 notes: learning_notes/07_scaling/README.md
#
# # Chapter 07: where the GPU memory goes, and how far one GPU goes
#
# | section | what to look at |
# |---|---|
# | 1 | setup |
# | 2 | the memory arithmetic of one preset, term by term (your turn: `lora_params`) |
# | 3 | every GPU preset against a 24 GiB card |
# | 4 | the estimate against peaks measured on an H100 |
# | 5 | fully sharded data parallel: the same arithmetic over N GPUs |
# | 6 | the verl command equivalent to a preset |
# | 7 | the search agent on verl: the multi-turn settings and the agent-loop files |
#
# Everything here runs on a CPU: the estimates need only the model's shape, and the GPU measurements
# were made with `bench/gpu_bench.py` and saved in `bench/results/`.

# %% [markdown]
# ## 1. Setup

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import minimal_impl
from minimal_impl.config import build_config
from minimal_impl.memory import GIB, HEADROOM, KNOWN, estimate, format_table, shape_of

ROOT = Path(minimal_impl.__file__).resolve().parent.parent
FIG = ROOT / "learning_notes/07_scaling/figures"
FIG.mkdir(parents=True, exist_ok=True)
plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "axes.grid": True, "grid.alpha": 0.3})
GPU_PRESETS = ["qwen2.5-0.5b_gsm8k", "qwen2.5-0.5b_gsm8k_ppo", "qwen2.5-0.5b_nq_search", "qwen2.5-3b_nq_search_lora"]

# %% [markdown]
# ## 2. One preset, term by term
#
# GRPO on GSM8K with Qwen2.5-0.5B-Instruct: float32 master weights and AdamW moments (16 bytes per
# parameter with the gradient), a bf16 reference, and the two phases of a step. Which term is the
# biggest? (The logits: 151,936 float32 numbers per response token.)

# %%
config = build_config("qwen2.5-0.5b_gsm8k", [])
est = estimate(config, shape_of(str(config.model_path)))
print(format_table(est, gpu_gib=24))

# %% [markdown]
# **Your turn: `lora_params`** (★☆☆, about 10 minutes), this chapter's exercise: the adapter parameters LoRA
# adds to every attention and MLP projection (the LoRA preset below trains only these). Once, from the
# repository root, `python scripts/make_exercises.py --out my_solutions`, then open the notebooks on your copy
# with `RL_IMPL=my_solutions .venv/bin/jupyter lab notebooks/`, write the function in
# `my_solutions/memory.py` (or define `my_lora_params` in this cell) and run the cell. Without `RL_IMPL` it
# checks the reference.

# %% tags=["workbook"]
from tests.checks.workbook import check_exercise, learner_package  # noqa: E402

impl = learner_package()  # $RL_IMPL, default minimal_impl (the reference); or learner_package("my_solutions")
my_lora_params = impl.memory.lora_params
check_exercise("memory.lora_params", my_lora_params)

# %% [markdown]
# ## 3. Every GPU preset against a 24 GiB card
#
# Stacked bars: the persistent terms (weights, optimizer, reference, critic) are paid in both phases;
# the rollout adds the KV cache, the update adds gradients, activations and logits. The dashed line
# keeps the headroom `memory.fits` keeps.

# %%
persistent = ["policy weights", "AdamW moments", "reference weights", "critic weights + moments"]
rollout_only = ["autocast bf16 weight copy", "KV cache", "sampling workspace"]
update_only = ["autocast bf16 weight copy", "gradients", "activations", "logits"]
fig, ax = plt.subplots(figsize=(10, 4.5))
colors = plt.get_cmap("tab20").colors
labels_done: set[str] = set()
for i, preset in enumerate(GPU_PRESETS):
    c = estimate(build_config(preset, []), shape_of(str(build_config(preset, []).model_path)))["components"]
    for offset, phase_terms in ((-0.2, persistent + rollout_only), (0.2, persistent + update_only)):
        bottom = 0.0
        for name in phase_terms:
            color = colors[list(c).index(name) % len(colors)]
            label = name if name not in labels_done else None
            labels_done.add(name)
            ax.bar(i + offset, c[name] / GIB, 0.38, bottom=bottom, color=color, label=label)
            bottom += c[name] / GIB
        ax.text(i + offset, bottom + 0.3, "rollout" if offset < 0 else "update", ha="center", fontsize=8)
ax.axhline(24 * (1 - HEADROOM), ls="--", color="k", lw=1)
ax.text(
    len(GPU_PRESETS) - 0.5, 24 * (1 - HEADROOM) + 0.3, f"24 GiB minus {HEADROOM:.0%} headroom", fontsize=8, ha="right"
)
ax.set_ylim(0, 24)
ax.set_xticks(range(len(GPU_PRESETS)), GPU_PRESETS, fontsize=8)
ax.set_ylabel("GiB (estimate)")
ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
ax.set_title("memory.py: the two phases of a step for each GPU preset")
plt.savefig(FIG / "preset_memory.png", bbox_inches="tight")
plt.show()

# %% [markdown]
# ## 4. The estimate against the peaks measured on an H100
#
# `torch.cuda.max_memory_allocated` per phase, logged by the trainer as `memory/*_peak_gib`, on a
# randomly initialised model of Qwen2.5-0.5B's shape with the GSM8K preset's batch sizes
# (`python bench/gpu_bench.py --steps 2`, results in `bench/results/gpu_bench_h100.json`).

# %%
import sys  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from gpu_bench import CASES  # noqa: E402

measured = json.loads((ROOT / "bench/results/gpu_bench_h100.json").read_text())
rows, names = [], []
for case in measured:
    preset, _, overrides = CASES[case["case"]]
    cfg = build_config(preset, overrides + ["task=sample-gsm8k", "reward_fn=gsm8k_strict"])
    e = estimate(cfg, KNOWN["Qwen/Qwen2.5-0.5B-Instruct"], case["prompt_tokens_max"], case["max_new_tokens"])
    for phase in ("rollout", "update"):
        names.append(f"{case['case'].split(', ')[-1]}\n{phase}")
        rows.append((case[f"{phase}_peak_gib"], e[phase] / GIB))
        print(f"{case['case']:45s} {phase:8s} measured {rows[-1][0]:6.2f} GiB  estimate {rows[-1][1]:6.2f} GiB  "
              f"({rows[-1][1] / rows[-1][0] - 1:+.0%})")  # fmt: skip
x = np.arange(len(rows))
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.bar(x - 0.2, [m for m, _ in rows], 0.4, label="measured (H100)")
ax.bar(x + 0.2, [e for _, e in rows], 0.4, label="memory.py estimate")
ax.set_xticks(x, names, fontsize=8)
ax.set_ylabel("peak GiB")
ax.legend()
ax.set_title("Qwen2.5-0.5B shape, 160 sequences x 512 new tokens")
plt.savefig(FIG / "estimate_vs_measured.png", bbox_inches="tight")
plt.show()

# %% [markdown]
# ## 5. Fully sharded data parallel (FSDP / ZeRO-3) over N GPUs
#
# FSDP shards the float32 weights, gradients and AdamW moments (16 bytes per parameter) over the N
# GPUs of the group and gathers one layer's bf16 weights at a time for its forward and backward.
# Activations, logits and the KV cache are per GPU: they shrink only with a smaller micro-batch.
# How many H100s does full fine-tuning of Qwen2.5-7B need for the persistent terms alone?

# %%
for name in ("Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-3B-Instruct", "Qwen/Qwen2.5-7B-Instruct"):
    p = KNOWN[name].params
    per_gpu = {n: 16 * p / n / GIB for n in (1, 2, 4, 8)}
    print(f"{name:28s} {p / 1e9:5.2f}B params | weights+grads+AdamW per GPU: "
          + "  ".join(f"N={n}: {v:6.1f} GiB" for n, v in per_gpu.items()))  # fmt: skip

# %% [markdown]
# ## 6. The verl command for a preset
#
# `run_first_training.sh --engine verl --dry-run` prints this; here the same function builds it.

# %%
from minimal_impl.verl_bridge import agent_loop_files, multi_turn_overrides, untranslated, verl_overrides  # noqa: E402

for override in verl_overrides(build_config("qwen2.5-0.5b_gsm8k", [])):
    print(override)

# %% [markdown]
# ## 7. The search agent on verl
#
# A search preset adds the multi-turn settings of verl's agent loop and two YAML files: the tool config
# (our `SearchTool` over the retrieval service) and the agent-loop config (`SearchR1AgentLoop`, which
# keeps our episode rules). Which of our settings becomes which verl setting? `max_turns = 2` becomes
# 3 assistant turns and 2 user turns; the whole episode's budget is `data.max_response_length`.
# The stock `tool_agent` loop needs a character budget for observations instead: compare the two.
# (The tests run both loops on a CPU with a scripted LLM server; see the notes' mapping table.)

# %%
search = build_config("qwen2.5-0.5b_nq_search", [])
for agent_loop in ("search_r1", "tool_agent"):
    print(f"--- {agent_loop}")
    for key, value in multi_turn_overrides(search, agent_loop).items():
        print(f"{key}={value}")
print(
    "data.max_response_length =",
    search.max_response_tokens,
    "= (max_turns + 1) x max_new_tokens + max_turns x max_obs_tokens",
)
for path, text in agent_loop_files(search).items():
    print(f"--- {path.name}\n{text}")
print("\n".join(untranslated(search, "tool_agent")))
