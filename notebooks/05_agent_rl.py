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
# Chapter 05 notes: learning_notes/05_agent_rl/README.md
#
# # Chapter 05: agent RL, tool calls and retrieval
#
# This notebook looks at the three pieces a search agent needs besides the RL algorithms: the retriever
# (`minimal_impl/bm25.py`), the mechanics that cut a turn at its tool call and inject the result
# (`minimal_impl/tool_calls.py`), and the loss mask that keeps the injected tokens out of the gradient.
# The derivations live in the [chapter notes](../learning_notes/05_agent_rl/README.md); here we look.
#
# | section | code | what to look at |
# |---|---|---|
# | 1 | | setup |
# | 2 | `tests/checks/workbook.py` | your turn: the chapter's exercises on your own package |
# | 3 | `BM25` | the worked example of the notes, term by term, okapi and lucene |
# | 4 | `compute_idf` | idf against document frequency: the df = N/2 zero and the epsilon floor |
# | 5 | `run_agent_episode` | a rollout trace with every trained token coloured |
# | 6 | `BM25.search` vs bm25s | a small live speed check, and the 60,000-document table as a bar chart |
#
# Every figure is also written to `learning_notes/05_agent_rl/figures/`, where the notes show it. The
# notebook runs in well under a minute on a laptop CPU.

# %% [markdown]
# ## 1. Setup

# %%
import re
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML, display
from matplotlib.patches import Patch
from transformers import AutoTokenizer

import minimal_impl
from minimal_impl import episode
from minimal_impl.bm25 import BM25, compute_idf, tokenize
from minimal_impl.tiny_tokenizer import build_and_save

ROOT = Path(minimal_impl.__file__).resolve().parent.parent
NOTES = ROOT / "learning_notes/05_agent_rl"
FIG = NOTES / "figures"
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
check_chapter(5, impl)

# %% [markdown]
# ## 3. BM25 on the notes' four documents
#
# The corpus of the worked example, the query `"the cat sat"`, and each query term's contribution to each
# document's score. Look at: `cat` adds nothing anywhere under okapi (df = 2 = N/2 gives idf exactly 0),
# although `d3` says "cat" twice; `the`, in three of four documents, gets the small positive floor. Under
# lucene every idf is positive, so `d3` climbs to second place.

# %% [markdown]
# **Your turn: `bm25_weights` and `top_k`** (★★☆ each), in your copy's `bm25.py`: the weight of each term in
# each document, and the k best documents of a score vector. The plots use the reference.

# %% tags=["workbook"]
my_bm25_weights = impl.bm25.bm25_weights
my_top_k = impl.bm25.top_k
check_exercise("bm25.bm25_weights", my_bm25_weights)
check_exercise("bm25.top_k", my_top_k)

# %%
DOCS = ["The cat sat", "The dog barked loudly", "The mat", "Cat chases cat"]
QUERY = tokenize("the cat sat")
corpus = [tokenize(d) for d in DOCS]

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
for ax, mode in zip(axes, ("okapi", "lucene")):
    bm25 = BM25(idf=mode).index(corpus)
    per_term = np.array([bm25.get_scores([t]) for t in QUERY])  # [terms, N]
    total = bm25.get_scores(QUERY)  # [N]
    assert np.allclose(per_term.sum(axis=0), total)  # a score is the sum of its terms' weights
    bottom = np.zeros(len(DOCS))
    for term, row in zip(QUERY, per_term):
        ax.bar(range(len(DOCS)), row, bottom=bottom, label=f"{term} (idf {bm25.idf[bm25.vocab[term]]:+.3f})")
        bottom += row
    for d, s in enumerate(total):
        ax.text(d, s + 0.02, f"{s:.3f}", ha="center", fontsize=8)
    ax.set_xticks(range(len(DOCS)), [f"d{d}\n{text}" for d, text in enumerate(DOCS)], fontsize=7)
    ax.set_title(f'{mode}: score of each document for "the cat sat"')
    ax.legend(fontsize=7)
    print(f"{mode:6s} scores {np.round(total, 6).tolist()}  ranking {bm25.search([QUERY], k=4)[0][0].tolist()}")
axes[0].set_ylabel("BM25 score (stacked by query term)")
fig.tight_layout()
plt.savefig(FIG / "bm25_worked.png", bbox_inches="tight")
plt.show()

# %% [markdown]
# ## 4. idf against document frequency
#
# For N = 100 documents. Look at: the okapi idf crosses zero at df = N/2 = 50 and is negative beyond;
# rank-bm25 replaces every negative idf by epsilon times the mean idf of the vocabulary (here a
# vocabulary with one term of each df), so a term in 90% of the documents is worth *more* than a term in
# exactly half of them. The lucene idf, `log(1 + (N - df + 0.5)/(df + 0.5))`, never reaches zero.

# %% [markdown]
# **Your turn: `compute_idf`** (★☆☆, about 15 minutes), in your copy's `bm25.py` or as `my_compute_idf` here.

# %% tags=["workbook"]
my_compute_idf = impl.bm25.compute_idf
check_exercise("bm25.compute_idf", my_compute_idf)

# %%
N = 100
df = np.arange(1, N + 1)
raw = np.log(N - df + 0.5) - np.log(df + 0.5)
okapi = compute_idf(df, N, mode="okapi", epsilon=0.25)
lucene = compute_idf(df, N, mode="lucene")

fig, ax = plt.subplots(figsize=(6.5, 3.6))
ax.plot(df, raw, color="gray", ls=":", label="okapi before the floor: log((N-df+0.5)/(df+0.5))")
ax.plot(df, okapi, color="C0", label="okapi (rank-bm25): negatives -> 0.25 x mean idf")
ax.plot(df, lucene, color="C1", label="lucene: log(1 + (N-df+0.5)/(df+0.5))")
ax.axvline(N / 2, color="C3", lw=0.8)
ax.annotate("df = N/2: idf = 0", (N / 2, 0), xytext=(56, 1.5), arrowprops={"arrowstyle": "->"}, fontsize=8)
ax.axhline(0, color="black", lw=0.6)
ax.set_xlabel("document frequency df (N = 100)")
ax.set_ylabel("idf")
ax.set_title("Inverse document frequency")
ax.legend(fontsize=7)
fig.tight_layout()
plt.savefig(FIG / "idf_curves.png", bbox_inches="tight")
plt.show()
print(
    f"okapi idf at df = 50: {okapi[49]:.6f}; at df = 90: {okapi[89]:.6f} (the floor); lucene at df = 50: {lucene[49]:.4f}"
)

# %% [markdown]
# ## 5. A rollout trace, coloured by loss mask
#
# A scripted "model" plays a two-search episode through `run_agent_episode`, with the project's tiny
# tokenizer saved and loaded back through `AutoTokenizer` (the same code path as Qwen2.5). The search
# is real BM25 over a four-document corpus. Every token the policy sampled gets loss mask 1 (green);
# the prompt and every injected token, `<information>` tags and newlines included, get 0 (grey, blue).

# %% [markdown]
# **Your turn: `parse_action`, `env_step` and `assemble_trajectory`** (★☆☆, ★★☆, ★☆☆), in your copy's
# `tool_calls.py`: read the model's tool call, answer it, and lay the turns out with their loss mask.

# %% tags=["workbook"]
my_parse_action = impl.tool_calls.parse_action
my_env_step = impl.tool_calls.env_step
my_assemble_trajectory = impl.tool_calls.assemble_trajectory
check_exercise("tool_calls.parse_action", my_parse_action)
check_exercise("tool_calls.env_step", my_env_step)
check_exercise("tool_calls.assemble_trajectory", my_assemble_trajectory)

# %%
KB = [
    {"id": "0", "contents": "Paris\nParis is the capital and largest city of France."},
    {"id": "1", "contents": "France\nFrance is a country in Western Europe."},
    {"id": "2", "contents": "Eiffel Tower\nThe Eiffel Tower is a lattice tower in Paris, finished in 1889."},
    {"id": "3", "contents": "Rome\nRome is the capital of Italy."},
]
retriever = BM25().index([tokenize(d["contents"]) for d in KB])


def search(query: str, k: int = 2) -> list[dict]:
    ids, scores = retriever.search([tokenize(query)], k=k)
    return [{"document": KB[i], "score": float(s)} for i, s in zip(ids[0], scores[0])]


tok = AutoTokenizer.from_pretrained(str(build_and_save(Path(tempfile.mkdtemp()) / "tiny_tokenizer")))
prompt_text = tok.apply_chat_template(
    [{"role": "user", "content": "When was the tower in the capital of France finished?"}],
    add_generation_prompt=True,
    tokenize=False,
)
turns = [
    "<think> First the capital of France. </think>\n<search> capital of France </search>",
    "<think> Paris. Now the tower. </think>\n<search> Eiffel Tower Paris finished </search>",
    "<think> It was finished in 1889. </think>\n<answer> 1889 </answer>",
]
scripted = iter([tok.encode(t, add_special_tokens=False) for t in turns])
traj = episode.run_agent_episode(
    generate_turn=lambda context_ids: next(scripted),
    search=search,
    tokenizer=tok,
    prompt_ids=tok.encode(prompt_text, add_special_tokens=False),
    max_turns=3,
    max_obs_tokens=120,
)
out = traj.assemble()
print("stats:", traj.stats())
print(f"{len(out['input_ids'])} tokens: {out['response_start']} prompt, {sum(out['loss_mask'])} trained")

# %% [markdown]
# The first tokens of the response, one per row: id, text, and the two masks. The information block
# begins with `\n\n<information>`, and every one of its tokens has loss mask 0 but attention mask 1
# (the model reads it; it is not trained to write it).

# %%
start = out["response_start"]
rows = episode.render_trajectory(tok, out["input_ids"], out["loss_mask"])
print(f"{'pos':>4} {'id':>5}  {'text':16s} attn loss")
for pos in range(start + 12, start + 34):
    text = repr(rows[pos][0])[1:-1]
    print(f"{pos:4d} {out['input_ids'][pos]:5d}  {text:16s} {out['attention_mask'][pos]:4d} {out['loss_mask'][pos]:4d}")

# %%
COLORS = {"prompt": "#d9d9d9", "observation": "#c6dbef", "model": "#a1d99b"}


def segment_kinds(out: dict) -> list[str]:
    """One label per token: prompt, model (loss mask 1) or observation (injected, loss mask 0)."""
    start = out["response_start"]
    return ["prompt" if i < start else ("model" if m else "observation") for i, m in enumerate(out["loss_mask"])]


def runs_of(kinds: list[str]) -> list[tuple[int, int, str]]:
    runs, begin = [], 0
    for i in range(1, len(kinds) + 1):
        if i == len(kinds) or kinds[i] != kinds[begin]:
            runs.append((begin, i, kinds[begin]))
            begin = i
    return runs


kinds = segment_kinds(out)
html = "".join(
    f'<span style="background:{COLORS[kind]};white-space:pre-wrap">'
    f"{tok.decode(out['input_ids'][a:b]).replace('<', '&lt;')}</span>"
    for a, b, kind in runs_of(kinds)
)
display(HTML(f'<div style="font-family:monospace;font-size:12px">{html}</div>'))


def draw_trace(ax: plt.Axes, texts: list[tuple[str, str]], width: int = 96) -> None:
    """Lay coloured text runs out in a monospace grid, wrapping at `width` characters and at newlines."""
    line, col, cells = 0, 0, []
    for text, kind in texts:
        for ch in text:
            if ch == "\n":
                cells.append((line, col, "⏎", kind))
                line, col = line + 1, 0
                continue
            if col >= width:
                line, col = line + 1, 0
            cells.append((line, col, ch, kind))
            col += 1
    for ln, c, ch, kind in cells:
        ax.add_patch(plt.Rectangle((c, -ln - 1), 1, 1, color=COLORS[kind], lw=0))
        ax.text(c + 0.5, -ln - 0.5, ch, ha="center", va="center", family="monospace", fontsize=7)
    ax.set_xlim(0, width)
    ax.set_ylim(-line - 1.2, 0.2)
    ax.axis("off")


texts = [(tok.decode(out["input_ids"][a:b]), kind) for a, b, kind in runs_of(kinds)]
n_lines = sum(t.count("\n") + len(t) // 96 + 1 for t, _ in texts)
fig, ax = plt.subplots(figsize=(7.4, 0.15 * n_lines + 0.6))
draw_trace(ax, texts)
ax.legend(
    handles=[
        Patch(color=COLORS["prompt"], label="prompt (loss mask 0)"),
        Patch(color=COLORS["model"], label="sampled by the policy (loss mask 1)"),
        Patch(color=COLORS["observation"], label="injected by the environment (loss mask 0)"),
    ],
    loc="upper center",
    bbox_to_anchor=(0.5, 0.0),
    ncol=3,
    fontsize=8,
    frameon=False,
)
ax.set_title("One search-agent trajectory: what the loss sees", fontsize=10)
fig.tight_layout()
plt.savefig(FIG / "rollout_trace.png", bbox_inches="tight")
plt.show()

# %% [markdown]
# Without the mask, the gradient would also push up the log-probability of every document token, as if
# the policy had written Wikipedia. The share of such tokens is large even in this short episode:

# %%
n_response = len(out["input_ids"]) - start
n_trained = sum(out["loss_mask"])
print(f"response tokens: {n_response}; sampled by the policy: {n_trained} ({n_trained / n_response:.0%}); "
      f"injected: {n_response - n_trained} ({1 - n_trained / n_response:.0%})")  # fmt: skip

# %% [markdown]
# ## 6. Speed: ours against bm25s
#
# First a small live check on 3,000 docstring paragraphs of the standard library (real text nobody
# here wrote; `bench/build_corpus.py`), single-threaded, same tokens, same k1 and b, both in lucene
# scoring. Then the full benchmark (60,000 documents, `bench/bm25_bench.py`), whose table the notes
# quote, as a bar chart. The live numbers are small-corpus numbers; the ratio grows with N because
# bm25s scores every document per query and ours only the documents that share a term with it.

# %%
from bench.build_corpus import collect, source_roots  # noqa: E402

texts, _ = collect([r for r in source_roots() if r[0] == "stdlib"], limit=3000, seed=0)
small = [tokenize(t) for t in texts]
rng = np.random.default_rng(0)
queries = [list(rng.choice(small[d], size=min(5, len(small[d])), replace=False)) for d in rng.integers(0, 3000, 300)]

ours = BM25(idf="lucene").index(small)
start = time.perf_counter()
ours_ids, ours_scores = ours.search(queries, k=10)
ours_s = time.perf_counter() - start
try:
    import bm25s

    peer = bm25s.BM25(k1=1.5, b=0.75, method="lucene", backend="numpy")
    peer.index(small, show_progress=False)
    start = time.perf_counter()
    res = peer.retrieve(queries, k=10, n_threads=0, show_progress=False, backend_selection="numpy")
    peer_s = time.perf_counter() - start
    same = np.allclose(ours_scores, np.asarray(res.scores), rtol=1e-5)
    print(f"{len(small)} docs, {len(queries)} queries: ours {len(queries) / ours_s:,.0f} q/s, "
          f"bm25s {len(queries) / peer_s:,.0f} q/s, ratio {peer_s / ours_s:.1f}x; same top-10 scores: {same}")  # fmt: skip
except ImportError:
    print("bm25s is not installed (requirements-dev.txt); skipping the live comparison")

# %%
table = (NOTES / "bm25_speed.md").read_text(encoding="utf-8")
rows = [
    [cell.strip() for cell in line.strip("|").split("|")]
    for line in table.splitlines()
    if line.startswith("| ") and not line.startswith("| library") and not line.startswith("| ---")
]
labels = [f"{r[0]}\n{r[1]}, {r[8].split(',')[0].strip('`')}" for r in rows]
qps = [float(r[4].replace(",", "")) for r in rows]
corpus_line = next(line for line in table.splitlines() if line.startswith("Corpus:"))
n_docs = re.search(r"Corpus: ([\d,]+)", corpus_line).group(1)

fig, ax = plt.subplots(figsize=(7.5, 3.4))
colors = ["C0" if r[0] == "ours" else "C7" for r in rows]
ax.barh(range(len(rows)), qps, color=colors)
for i, q in enumerate(qps):
    ax.text(q * 1.1, i, f"{q:,.0f}", va="center", fontsize=8)
ax.set_yticks(range(len(rows)), labels, fontsize=7)
ax.invert_yaxis()
ax.set_xscale("log")
ax.set_xlim(1, max(qps) * 8)
ax.set_xlabel("queries per second, single thread (log scale)")
ax.set_title(f"BM25 top-10 search on {n_docs} documents (bench/bm25_bench.py)")
fig.tight_layout()
plt.savefig(FIG / "bm25_speed.png", bbox_inches="tight")
plt.show()
print(table)
