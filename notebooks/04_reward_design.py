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
# Chapter 04 notes: learning_notes/04_reward_design/README.md
#
# # Chapter 04: reward design, one response at a time
#
# This notebook runs the rule rewards of `minimal_impl/rewards.py` on crafted responses, honest ones
# and hacking attempts, and plots what each rule pays. The explanations live in the
# [chapter notes](../learning_notes/04_reward_design/README.md); here we look.
#
# | section | code | what to look at |
# |---|---|---|
# | 1 | | setup |
# | 2 | `tests/checks/workbook.py` | your turn: the chapter's exercises on your own package |
# | 3 | `gsm8k_score` | strict and flexible extraction on a table of GSM8K responses |
# | 4 | `em_score`, `subem_score`, `em_format_score` | exact match, substring match and format shaping on QA responses |
# | 5 | all of them | one heat map: which response earns what under which rule |
# | 6 | last-match rules vs naive rules | does answer spam pay? |
# | 7 | `extract_answer` | why the regex is cut at the last closing tag (quadratic time) |
#
# Every figure is also written to `learning_notes/04_reward_design/figures/`, where the notes show it.
# The whole notebook runs in a few seconds on a laptop CPU.

# %% [markdown]
# ## 1. Setup

# %%
import random
import re
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import minimal_impl
from minimal_impl.rewards import (
    em_format_score,
    em_score,
    extract_answer,
    extract_gsm8k_answer,
    format_reward,
    gsm8k_score,
    normalize_answer,
    subem_score,
)

ROOT = Path(minimal_impl.__file__).resolve().parent.parent
FIG = ROOT / "learning_notes/04_reward_design/figures"
FIG.mkdir(parents=True, exist_ok=True)

plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "axes.grid": True, "grid.alpha": 0.3})

# %% [markdown]
# ## 2. Your turn: the workbook
#
# The exercises of this chapter (`python scripts/make_exercises.py --list`) are functions you write in your
# own copy. Once, from the repository root:
#
# ```bash
# python scripts/make_exercises.py --out my_solutions
# RL_IMPL=my_solutions .venv/bin/jupyter lab notebooks/
# ```
#
# This cell checks every exercise of the chapter and prints your progress; the "your turn" cells below check
# one function each, next to the section that explains it. Each check runs the worked examples of the notes
# and the edge cases: `PASS`, `NOT IMPLEMENTED YET`, or `CheckFailed` naming the case, its inputs, expected and
# got. Without `RL_IMPL` they check the reference solutions, so everything passes. Edit your file and run the
# cell again: no restart needed.

# %% tags=["workbook"]
from tests.checks.workbook import check_chapter, check_exercise, learner_package

impl = learner_package()  # $RL_IMPL, default minimal_impl (the reference); or learner_package("my_solutions")
check_chapter(4, impl)

# %% [markdown]
# ## 3. GSM8K: strict versus flexible extraction
#
# The ground truth is `"72"`. Strict reads the number after the last `#### `; flexible reads the last
# number anywhere. Look at: the honest answer without `#### ` (strict 0, flexible 1); the sentence-final
# full stop glued to the number (`"72."`, wrong for flexible, and for strict when written `#### 72.`);
# the trailing "(step 2 of 3)" that fools flexible; the bare guess that both pay; the answer that sits
# more than 300 characters before the end and is never read.

# %% [markdown]
# **Your turn: `extract_gsm8k_answer`** (★★☆, about 20 minutes). Write it in your copy's `rewards.py`, or
# define `my_extract_gsm8k_answer` in this cell instead of taking it from `impl`. The table below uses the reference.

# %% tags=["workbook"]
my_extract_gsm8k_answer = impl.rewards.extract_gsm8k_answer
check_exercise("rewards.extract_gsm8k_answer", my_extract_gsm8k_answer)

# %%
TRUTH = "72"
gsm8k_cases = {
    "honest, GSM8K format": "48/2 = 24 in May, 48 + 24 = 72 in total.\n#### 72",
    "honest, no ####": "48/2 = 24 in May, so 48 + 24 = 72",
    "honest, ends with '72.'": "48/2 = 24 in May. The answer is 72.",
    "#### 72. (full stop)": "48 + 24 = 72\n#### 72.",
    "#### $72": "48 + 24 = 72\n#### $72",
    "#### 1,072 vs truth 1072": "#### 1,072",
    "trailing number": "48 + 24 = 72. So the answer is 72 (step 2 of 3)",
    "bare guess": "I have no idea. 72",
    "spam: #### 70 ... #### 73": "#### 70\n#### 71\n#### 72\n#### 73",
    "echoed format after answer": "#### 72\nRemember to end with '#### 0'",
    "answer, then 300 characters": "#### 72\n" + "Let me double-check that. " * 12,
}
gsm8k_truths = {"#### 1,072 vs truth 1072": "1072"}

print(f"{'response':30s} {'strict answer':>14s} {'score':>6s} {'flexible answer':>16s} {'score':>6s}")
gsm8k_rows = {}
for label, text in gsm8k_cases.items():
    truth = gsm8k_truths.get(label, TRUTH)
    row = []
    for method in ("strict", "flexible"):
        answer = extract_gsm8k_answer(text, method=method)
        row += [repr(answer), gsm8k_score(text, truth, method=method)]
    gsm8k_rows[label] = (row[1], row[3])
    print(f"{label:30s} {row[0]:>14s} {row[1]:6.1f} {row[2]:>16s} {row[3]:6.1f}")

# %% [markdown]
# ## 4. QA: exact match, substring match, format
#
# The golden answers are `["Eiffel Tower", "the Eiffel Tower in Paris"]` for the question "Which
# landmark ...?". Normalisation makes `"The Eiffel Tower."` equal to `"eiffel tower"`. Look at: the
# answer outside the tags (0 everywhere, even for format); the listing of candidates that substring match
# pays; the well-formatted wrong answer that the shaped reward pays 0.2; the right answer with sloppy
# format that it pays 0.8; the answer spam, paid by no rule because only the last block counts.

# %% [markdown]
# **Your turn: `normalize_answer`, `extract_answer` and `is_valid_sequence`** (★☆☆, ★☆☆, ★★★), in your
# copy's `rewards.py`: the normalisation behind exact match, the last `<answer>` block, and the format check
# the shaped reward pays for.

# %% tags=["workbook"]
my_normalize_answer = impl.rewards.normalize_answer
my_extract_answer = impl.rewards.extract_answer
my_is_valid_sequence = impl.rewards.is_valid_sequence
check_exercise("rewards.normalize_answer", my_normalize_answer)
check_exercise("rewards.extract_answer", my_extract_answer)
check_exercise("rewards.is_valid_sequence", my_is_valid_sequence)

# %%
GOLDS = ["Eiffel Tower", "the Eiffel Tower in Paris"]
THINK = "<think>The landmark is in Paris.</think>\n"
SEARCHED = (
    THINK + "<search>famous Paris landmark</search>\n"
    "<information>Doc 1: The Eiffel Tower is a landmark in Paris.</information>\n"
    "<think>It is the Eiffel Tower.</think>\n"
)
qa_cases = {
    "right, formatted": THINK + "<answer>The Eiffel Tower.</answer>",
    "right, after a search": SEARCHED + "<answer>eiffel tower</answer>",
    "right, no think (sloppy)": "<answer>Eiffel Tower</answer>",
    "right, text before": "Sure! <answer>Eiffel Tower</answer>",
    "answer outside tags": "The answer is the Eiffel Tower.",
    "wrong, formatted": THINK + "<answer>Louvre</answer>",
    "wrong after a good search": SEARCHED + "<answer>Louvre</answer>",
    "empty answer block": THINK + "<answer></answer>",
    "listing candidates": THINK + "<answer>Louvre, Eiffel Tower, Notre-Dame</answer>",
    "spam, right one first": "<answer>Eiffel Tower</answer><answer>Louvre</answer>",
    "spam, right one last": "<answer>Louvre</answer><answer>Eiffel Tower</answer>",
}
scorers = {
    "EM": lambda t: em_score(t, GOLDS),
    "subEM": lambda t: subem_score(t, GOLDS),
    "format": lambda t: format_reward(t),
    "EM + format\n(Search-R1)": lambda t: em_format_score(t, GOLDS, retrieval_score=0.1),
}
print(f"{'response':28s} {'extracted':>32s} " + " ".join(f"{name.split(chr(10))[0]:>11s}" for name in scorers))
qa_rows = {}
for label, text in qa_cases.items():
    qa_rows[label] = [fn(text) for fn in scorers.values()]
    print(f"{label:28s} {extract_answer(text)!r:>32.32s} " + " ".join(f"{v:11.2f}" for v in qa_rows[label]))

# %% [markdown]
# ## 5. One picture: who pays what
#
# Rows are the responses above, columns the rules. Green is reward. Look at: no single rule pays
# exactly the honest rows; each has its blind spot, and each blind spot is a test in `tests/test_rewards.py`.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), gridspec_kw={"width_ratios": [2, 4]})
panels = [
    (axes[0], gsm8k_rows, ["strict", "flexible"], "GSM8K, truth '72'"),
    (axes[1], qa_rows, list(scorers), "QA, golden 'Eiffel Tower'"),
]
for ax, rows, columns, title in panels:
    matrix = np.array(list(rows.values()), dtype=float)
    ax.imshow(matrix, cmap="Greens", vmin=0, vmax=1.25, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, fontsize=8)
    ax.set_yticks(range(len(rows)), list(rows), fontsize=8)
    ax.grid(False)
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=8, color="white" if value > 0.7 else "black")
    ax.set_title(title, fontsize=10)
fig.suptitle("Rule rewards on crafted responses (honest answers and hacking attempts)", fontsize=11)
fig.tight_layout()
plt.savefig(FIG / "reward_table.png", bbox_inches="tight")
plt.show()

# %% [markdown]
# ## 6. Does answer spam pay?
#
# A "policy" that does not know the answer writes k distinct guesses out of 100 equally likely
# numbers (the truth is one of them). Each rule reads the response its own way:
#
# - **last-match rules** (what we implement): `#### g` per guess with strict, the guesses as text with
#   flexible, one `<answer>` block per guess with EM; only the last guess counts;
# - **substring EM**: all the guesses in one `<answer>` block;
# - **a naive rule**: "reward if *any* `<answer>` block matches", which no one should write.
#
# Look at: the last-match rules stay at chance (1/100) whatever k is, so spam earns nothing and the
# gradient does not push towards it; the naive rule pays k/100 and substring EM even more, so a
# policy learns to list everything.

# %%
rng = random.Random(0)
N_RESPONSES, CANDIDATES = 1000, [str(n) for n in range(100)]
ks = [1, 2, 5, 10, 20, 35, 50, 75, 100]


def any_block_matches(text, golds):
    """The naive rule: reward if any answer block matches (do not do this)."""
    blocks = re.findall(r"<answer>(.*?)</answer>", text, flags=re.DOTALL)
    return float(any(normalize_answer(b) == normalize_answer(g) for b in blocks for g in golds))


rules = {
    "strict (#### per guess)": lambda guesses, truth: gsm8k_score("".join(f"#### {g}\n" for g in guesses), truth),
    "flexible (guesses as text)": lambda guesses, truth: gsm8k_score(
        "Maybe " + ", or ".join(guesses), truth, method="flexible"
    ),
    "EM (a block per guess)": lambda guesses, truth: em_score("".join(f"<answer>{g}</answer>" for g in guesses), truth),
    "substring EM (one block)": lambda guesses, truth: subem_score(f"<answer>{' '.join(guesses)}</answer>", truth),
    "naive: any block matches": lambda guesses, truth: any_block_matches(
        "".join(f"<answer>{g}</answer>" for g in guesses), [truth]
    ),
}
mean_reward = {name: [] for name in rules}
for k in ks:
    draws = [(rng.sample(CANDIDATES, k), rng.choice(CANDIDATES)) for _ in range(N_RESPONSES)]
    for name, rule in rules.items():
        mean_reward[name].append(np.mean([rule(guesses, truth) for guesses, truth in draws]))

fig, ax = plt.subplots(figsize=(7, 4))
styles = [("o-", 9), ("s-", 6), ("^-", 3), ("D--", 4), ("v--", 4)]  # big markers under small: they coincide
for (name, values), (style, size) in zip(mean_reward.items(), styles):
    ax.plot(ks, values, style, label=name, ms=size, mfc="none" if size > 4 else None)
ax.annotate(
    "strict, flexible and EM coincide:\neach reads only the last guess",
    xy=(60, 0.015),
    xytext=(55, 0.22),
    fontsize=8,
    arrowprops={"arrowstyle": "->", "color": "gray"},
)
ax.plot(ks, np.array(ks) / 100, color="gray", ls=":", lw=1, label="k / 100")
ax.axhline(0.01, color="k", lw=0.6)
ax.set_xlabel("number of guesses k in the response")
ax.set_ylabel(f"mean reward over {N_RESPONSES} responses")
ax.set_title("Answer spam: paid only by rules that read more than the last answer")
ax.legend(fontsize=8)
fig.tight_layout()
plt.savefig(FIG / "answer_spam.png", bbox_inches="tight")
plt.show()

print("k:", ks)
for name, values in mean_reward.items():
    print(f"{name:28s}", " ".join(f"{v:5.2f}" for v in values))

# %% [markdown]
# The naive rule pays exactly the chance that the truth is among the k distinct guesses, k/100. Substring
# EM pays more: a truth "4" is also a substring of a guess "42" or "14", so even one guess (k = 1) is
# paid about 3% of the time instead of 1%. Substring matching has false positives of its own.

# %% [markdown]
# ## 7. A performance trap: the lazy regex on unclosed tags
#
# `re.findall(r"<answer>(.*?)</answer>", text, re.DOTALL)` tries a match from every `<answer>`, and when no
# `</answer>` follows, each try scans to the end of the text: quadratic time. A degenerate policy that
# emits thousands of `<answer>` tags can stall the reward worker. `extract_answer` first cuts the text
# after the last `</answer>` (everything later cannot be inside a block), which makes the regex linear.
# Look at: the naive curve grows four-fold when the input doubles.

# %%
sizes = [250, 500, 1000, 2000, 4000]
naive_s, ours_s = [], []
for n in sizes:
    text = "<think>hmm</think>" + "<answer>" * n
    start = time.perf_counter()
    re.findall(r"<answer>(.*?)</answer>", text, flags=re.DOTALL)
    naive_s.append(time.perf_counter() - start)
    start = time.perf_counter()
    extract_answer(text)
    ours_s.append(time.perf_counter() - start)

fig, ax = plt.subplots(figsize=(6, 3.6))
ax.loglog(sizes, naive_s, "o-", color="C3", label="naive re.findall")
ax.loglog(sizes, np.maximum(ours_s, 1e-7), "s-", color="C0", label="extract_answer (cut at the last </answer>)")
ax.loglog(sizes, naive_s[-1] * (np.array(sizes) / sizes[-1]) ** 2, color="gray", ls=":", label="slope 2 (quadratic)")
ax.set_xticks(sizes, [str(n) for n in sizes])
ax.minorticks_off()
ax.set_xlabel("unclosed <answer> tags in the response")
ax.set_ylabel("seconds")
ax.set_title("Answer extraction time on unclosed-tag spam")
ax.legend(fontsize=8)
fig.tight_layout()
plt.savefig(FIG / "regex_timing.png", bbox_inches="tight")
plt.show()
for n, a, b in zip(sizes, naive_s, ours_s):
    print(f"{n:5d} tags ({8 * n:6d} characters): naive {a * 1e3:8.2f} ms, extract_answer {b * 1e3:6.3f} ms")
