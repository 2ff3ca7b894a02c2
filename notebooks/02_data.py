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
# Chapter 02 notes: learning_notes/02_data/README.md
#
# # Chapter 02: data in verl's format, checked, and a tiny model to read it
#
# | section | code | what to look at |
# |---|---|---|
# | 1 | | setup |
# | 2 | `minimal_impl.data` | prepare the two offline sample sets; one row, field by field (your turn: `nq_row`) |
# | 3 | `datasets` | the same rows through Hugging Face's parquet loader |
# | 4 | `minimal_impl.tiny_model` | build the tiny model; prompt lengths in its tokens |
# | 5 | | what the sample sets ask: question types, answers, corpus passages |
# | 6 | `check_data.py` | a file with mistakes, and what the checker says |
#
# Figures go to `learning_notes/02_data/figures/`. The notebook runs in about half a minute on a CPU.

# %% [markdown]
# ## 1. Setup

# %%
import json
import re
import tempfile
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from datasets import load_dataset

import minimal_impl
from minimal_impl import data, tiny_model

ROOT = Path(minimal_impl.__file__).resolve().parent.parent
FIG = ROOT / "learning_notes/02_data/figures"
FIG.mkdir(parents=True, exist_ok=True)
WORK = Path(tempfile.mkdtemp())
plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "axes.grid": True, "grid.alpha": 0.3})

# %% [markdown]
# ## 2. Prepare the sample sets
#
# The same call as `python -m minimal_impl.data prepare --dataset sample-nq --out DIR`. With internet,
# `--dataset gsm8k` and `--dataset nq` go through the same row functions with the hub's data.

# %%
for name in ("sample-nq", "sample-gsm8k"):
    counts = data.prepare(name, WORK / name)
    print(name, counts, sorted(p.name for p in (WORK / name).iterdir()))

row = data.load_rows(WORK / "sample-nq" / "train.parquet")[0]
print(json.dumps(row, indent=2)[:1200])

# %% [markdown]
# **Your turn: `nq_row`** (★☆☆, about 10 minutes), this chapter's exercise: build the row above from a question
# and its answers. Once, from the repository root, `python scripts/make_exercises.py --out my_solutions`, then
# open the notebooks on your copy with `RL_IMPL=my_solutions .venv/bin/jupyter lab notebooks/`, write the
# function in `my_solutions/data.py` (or define `my_nq_row` in this cell) and run the cell: `PASS`,
# `NOT IMPLEMENTED YET`, or `CheckFailed` naming the first field that differs. Without `RL_IMPL` it checks the
# reference.

# %% tags=["workbook"]
from tests.checks.workbook import check_exercise, learner_package  # noqa: E402

impl = learner_package()  # $RL_IMPL, default minimal_impl (the reference); or learner_package("my_solutions")
my_nq_row = impl.data.nq_row
check_exercise("data.nq_row", my_nq_row)

# %% [markdown]
# ## 3. Through Hugging Face `datasets`
#
# verl reads the parquet with `datasets`; here is its view of the schema. `prompt` is a list of chat
# messages, `reward_model.ground_truth` a string (GSM8K) or `{"target": [...]}` (NQ).

# %%
for name in ("sample-nq", "sample-gsm8k"):
    ds = load_dataset("parquet", data_files=str(WORK / name / "train.parquet"), split="train")
    print(name, ds.num_rows, "rows")
    print(" ", ds.features)

# %% [markdown]
# ## 4. The tiny model, and prompt lengths in its tokens
#
# Prompt length decides memory and speed (chapter 01's arithmetic). Look at: the search prompt is about
# 100 tokens (the instruction is most of it), the GSM8K prompt about 40; with Qwen2.5's tokenizer the
# same texts are somewhat shorter, its vocabulary being 75 times larger.

# %%
model_dir = tiny_model.build(WORK / "tiny_model")
tokenizer, model = tiny_model.load(model_dir)
print(
    f"{type(model).__name__}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, vocabulary {len(tokenizer)}"
)
print(model.config)


def prompt_tokens(path: Path) -> list[int]:
    """Tokens of each prompt after the chat template, as the rollout will feed it to the model."""
    texts = [
        tokenizer.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=False)
        for r in data.load_rows(path)
    ]
    return [len(ids) for ids in tokenizer(texts).input_ids]


lengths = {name: prompt_tokens(WORK / name / "train.parquet") for name in ("sample-nq", "sample-gsm8k")}
fig, ax = plt.subplots(figsize=(6.5, 3.4))
for name, values in lengths.items():
    ax.hist(
        values,
        bins=range(min(values) - 1, max(values) + 2),
        alpha=0.7,
        label=f"{name} (median {np.median(values):.0f})",
    )
ax.set_xlabel("prompt length in tiny-tokenizer tokens (chat template included)")
ax.set_ylabel("training prompts")
ax.set_title("Prompt lengths of the sample sets")
ax.legend(fontsize=8)
fig.tight_layout()
plt.savefig(FIG / "prompt_lengths.png", bbox_inches="tight")
plt.show()

# %% [markdown]
# ## 5. What the sample sets ask
#
# Left: the four NQ-style question types and how often each occurs. Middle: GSM8K-style answers, small
# whole numbers. Right: passage lengths of the retrieval corpus in words. Every NQ answer is an invented
# name that appears in exactly one passage, the one titled with the entity the question names.

# %%
nq_rows = data.load_rows(WORK / "sample-nq" / "train.jsonl")
kinds = Counter(re.sub(r"[A-Z]\w+( [A-Z]\w+)?", "X", r["extra_info"]["question"]) for r in nq_rows)  # names -> X
gsm_answers = [int(r["reward_model"]["ground_truth"]) for r in data.load_rows(WORK / "sample-gsm8k" / "train.jsonl")]
corpus = [json.loads(line) for line in (WORK / "sample-nq" / "corpus.jsonl").open()]
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), gridspec_kw={"width_ratios": [1.3, 1, 1]})
axes[0].barh(list(kinds), list(kinds.values()), color="C0")
axes[0].set_title("NQ-style question types")
axes[0].invert_yaxis()
axes[1].hist(gsm_answers, bins=range(0, max(gsm_answers) + 2), color="C1")
axes[0].tick_params(axis="y", labelsize=7)
axes[1].set_title("GSM8K-style answers")
axes[1].set_xlabel("answer")
axes[2].hist([len(d["contents"].split()) for d in corpus], bins=20, color="C2")
axes[2].set_title(f"corpus: {len(corpus)} passages")
axes[2].set_xlabel("words per passage")
fig.tight_layout()
plt.savefig(FIG / "sample_sets.png", bbox_inches="tight")
plt.show()
print(corpus[0]["contents"])

# %% [markdown]
# ## 6. What `check_data.py` says about a broken file
#
# Three rows: a good one, one with a wrong role and a GSM8K answer with a comma, one with a duplicate
# index. Each problem names its row and field.

# %%
import sys  # noqa: E402

sys.path.insert(0, str(ROOT))
import check_data  # noqa: E402

good = data.gsm8k_row("What is 2 + 3?", "2 + 3 = 5\n#### 5", "train", 0, "sample/gsm8k")
bad = json.loads(json.dumps(good))
bad["prompt"][0]["role"] = "human"
bad["reward_model"]["ground_truth"] = "1,234"
bad["extra_info"]["index"] = 1
dup = json.loads(json.dumps(good))
path = WORK / "broken.jsonl"
path.write_text("".join(json.dumps(r) + "\n" for r in (good, bad, dup)))
status = check_data.main([str(path)])
print("exit status:", status)
