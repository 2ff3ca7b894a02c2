# Chapter 06 notes: learning_notes/06_training_engineering/README.md#see-what-the-agent-did
"""The rollout viewer: one self-contained HTML page per evaluated step, to look at episodes token by token.

    python -m minimal_impl.viewer runs/<run_name>          # (re)writes runs/<run_name>/rollouts/*.html

With `save_rollouts=true` the trainer records, at every evaluation, a sample of episodes into
`rollouts/step_XXXX.jsonl` (`record_training`, `record_eval`) and writes the pages itself. A page shows:
- the training groups of that step: the rollout_n answers to one prompt side by side with their rewards
  and advantages, and every episode token by token, coloured by role (written by the model and trained
  on, or injected by the environment and masked), with log-prob, old and reference log-prob, ratio,
  advantage and KL on hover (and in a table); tokens whose ratio left the clip range are outlined;
- the evaluation episodes: prompt, turns, reward, finish reason, searches and the retrieved documents
  (whether they held a golden answer); filters for correct, searched and finish reason.
`compare.html` answers the same evaluation questions with the baseline and the best checkpoint, and
`index.html` links everything. No server, no network, no external assets: inline CSS and JS only.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from .episode import Trajectory
from .rewards import normalize_answer
from .run_log import read_jsonl

ROLLOUTS = "rollouts"


# ------------------------------------------------------------------------------------------- records


def _token_texts(tokenizer: object, ids: list[int]) -> list[str]:
    return [tokenizer.decode([t], skip_special_tokens=False) for t in ids]


def _holds_answer(text: str, golden: list[str]) -> bool:
    seen = f" {normalize_answer(text)} "
    return any(normalize_answer(g) and f" {normalize_answer(g)} " in seen for g in golden)


def episode_record(traj: Trajectory, row: dict, reward: float, *, tokenizer: object, golden: list[str]) -> dict:
    """What the viewer needs of one episode (no tensors): text, turns, tokens with roles, searches.

    Example: {"question": "what is the capital of Neage", "reward": 1.0, "finish": "answer",
    "searches": [{"query": "...", "docs": [{"id": "12", "title": "Neage", "gold": true}]}], ...}
    """
    tokens, roles = [], []
    for ids, generated in traj.segments:
        tokens += _token_texts(tokenizer, ids)
        roles += [1 if generated else 0] * len(ids)
    searches = []
    for query, docs in zip(traj.search_queries, traj.search_results):
        entries = []
        for doc in docs:
            inner = doc.get("document", doc) if isinstance(doc, dict) else {}
            contents = str(inner.get("contents", ""))
            entries.append(
                {
                    "id": str(inner.get("id", "")),
                    "title": contents.split("\n", 1)[0][:80],
                    "gold": _holds_answer(contents, golden),
                }
            )
        searches.append({"query": query, "docs": entries})
    return {
        "question": row.get("extra_info", {}).get("question", ""),
        "golden": list(golden),
        "prompt": tokenizer.decode(traj.prompt_ids, skip_special_tokens=False),
        "reward": reward,
        "finish": traj.finish_reason,
        "answer": traj.answer,
        "turns": traj.turn_texts,
        "searches": searches,
        "found_gold": any(d["gold"] for s in searches for d in s["docs"]),
        "tokens": tokens,
        "roles": roles,
    }


def _rounded(values: torch.Tensor) -> list[float]:
    return [round(float(v), 4) for v in values.tolist()]


def training_tensors(
    batch: object, row: int, *, prompt_len: int, new_logprobs: torch.Tensor, clip: tuple[float, float]
) -> dict:
    """The per-token tensors of one training episode, aligned with its response tokens: log-prob after the
    step's update, old and reference log-probs, ratio, advantage, k3 KL to the reference, and whether the
    clip was active (the ratio left the range in the direction of the advantage).

    Position t of the batch's `[B, T]` tensors predicts token `start + 1 + t` of the row, so the row's
    response (which begins at `prompt_len`) starts at t = prompt_len - start - 1.
    """
    first = prompt_len - batch.start - 1
    n = int(batch.attention_mask[row].sum().item()) - prompt_len  # response tokens of this row
    span = slice(first, first + n)
    old, adv, mask = batch.old_logprobs[row, span], batch.advantages[row, span], batch.mask[row, span]
    ratio = torch.exp(new_logprobs[span] - old)  # pi_theta / pi_old after the update
    low, high = clip
    clipped = (((adv > 0) & (ratio > 1 + high)) | ((adv < 0) & (ratio < 1 - low))) & mask.bool()
    out = {
        "logprob": _rounded(new_logprobs[span]),
        "old": _rounded(old),
        "ratio": _rounded(ratio),
        "adv": _rounded(adv),
        "mask": [int(m) for m in mask.tolist()],
        "clipped": [int(c) for c in clipped.tolist()],
    }
    if batch.ref_logprobs is not None:
        log_ratio = batch.ref_logprobs[row, span] - old  # k3 = e^l - l - 1 with l = log pi_ref - log pi_old
        out["ref"] = _rounded(batch.ref_logprobs[row, span])
        out["kl"] = _rounded(torch.exp(log_ratio) - log_ratio - 1)
    return out


def write_records(run_dir: Path, step: int, records: list[dict], fresh: bool = False) -> Path:
    """Write records to rollouts/step_XXXX.jsonl, one JSON object per line: appended, or replacing the
    file when `fresh` (a step replayed after a resume records itself again, not twice)."""
    path = Path(run_dir) / ROLLOUTS / f"step_{step:04d}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w" if fresh else "a", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return path


def forget_after(run_dir: Path, step: int) -> None:
    """On resume: drop the records and pages of steps after `step` (they are recorded again when replayed)."""
    for path in (Path(run_dir) / ROLLOUTS).glob("step_*.*"):
        if path.stem.split("_")[1].isdigit() and int(path.stem.split("_")[1]) > step:
            path.unlink()


def read_records(path: Path) -> tuple[list[dict], int]:
    """The records of one step file and how many lines were torn or unreadable (skipped, counted)."""
    return read_jsonl(path, lambda record: isinstance(record, dict) and record.get("kind") in ("train", "eval"))


# ------------------------------------------------------------------------------------------- pages

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.2em;color:#222;max-width:1400px}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #ddd}
.episode{border:1px solid #ccc;border-radius:6px;padding:.5em .8em;margin:.6em 0}
.episode.correct{border-left:5px solid #2a8a2a}.episode.wrong{border-left:5px solid #b33}
.meta{color:#555;font-size:.92em}.tokens{font-family:ui-monospace,monospace;font-size:12.5px;white-space:pre-wrap;
line-height:1.7;margin:.4em 0}.m1{background:#dbeafe}.m0{background:#f1f1f1;color:#666}
.clip{outline:2px solid #e67e22}.tok:hover{background:#fde68a}
.group{display:flex;gap:.6em;overflow-x:auto}.group .cell{flex:0 0 220px;border:1px solid #ddd;border-radius:4px;
padding:.4em;font-size:.9em}.pos{color:#2a8a2a}.neg{color:#b33}table{border-collapse:collapse;font-size:.88em}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}.filters{position:sticky;top:0;background:#fff;
padding:.4em 0;border-bottom:1px solid #eee}.legend span{padding:0 .4em;margin-right:.6em}.note{color:#b33}
"""

FILTER_JS = """
function applyFilters(){
  const want = {};
  document.querySelectorAll('.filters select').forEach(s => { want[s.name] = s.value; });
  let shown = 0;
  document.querySelectorAll('.episode').forEach(e => {
    const ok = Object.keys(want).every(k => want[k] === 'all' || e.dataset[k] === want[k]);
    e.style.display = ok ? '' : 'none';
    shown += ok ? 1 : 0;
  });
  document.getElementById('shown').textContent = shown;
}
document.querySelectorAll('.filters select').forEach(s => s.addEventListener('change', applyFilters));
applyFilters();
document.body.dataset.ready = '1';
"""


READY_JS = "document.body.dataset.ready = '1';"


def _page(title: str, body: str, script: str = READY_JS) -> str:
    """A complete page: inline CSS and JS, nothing fetched (it opens from disk anywhere)."""
    return (
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>{body}<script>{script}</script></body></html>"
    )


def _tokens_html(record: dict) -> str:
    """The response token by token: role class, clip outline, and the numbers on hover."""
    tensors = record.get("tensors")
    spans = []
    for i, (text, role) in enumerate(zip(record["tokens"], record["roles"])):
        classes, hover = [f"tok m{role}"], "model-written, trained (mask 1)" if role else "injected, masked (mask 0)"
        if tensors is not None and i < len(tensors["adv"]):
            t = i  # training_tensors aligned the tensors with the response tokens
            hover += (
                f"\\nlogp {tensors['logprob'][t]:.4f} | old {tensors['old'][t]:.4f}"
                + (f" | ref {tensors['ref'][t]:.4f} | KL {tensors['kl'][t]:.4f}" if "ref" in tensors else "")
                + f"\\nratio {tensors['ratio'][t]:.4f} | advantage {tensors['adv'][t]:+.4f}"
            )
            if tensors["clipped"][t]:
                classes.append("clip")
                hover += "\\nclipped: the ratio left the clip range in the direction of the advantage"
        spans.append(f'<span class="{" ".join(classes)}" title="{html.escape(hover)}">{html.escape(text)}</span>')
    return "".join(spans)


def _tensor_table(record: dict) -> str:
    tensors = record.get("tensors")
    if tensors is None:
        return ""
    head = "<tr><th>#</th><th>token</th><th>mask</th><th>logp</th><th>old</th><th>ref</th><th>ratio</th><th>A</th><th>KL</th></tr>"
    rows = []
    for t, text in enumerate(record["tokens"][: len(tensors["adv"])]):
        if not tensors["mask"][t]:
            continue
        ref = f"{tensors['ref'][t]:.3f}" if "ref" in tensors else "-"
        kl = f"{tensors['kl'][t]:.4f}" if "kl" in tensors else "-"
        rows.append(
            f"<tr{' class=clip' if tensors['clipped'][t] else ''}><td>{t}</td><td>{html.escape(repr(text))}</td>"
            f"<td>1</td><td>{tensors['logprob'][t]:.3f}</td><td>{tensors['old'][t]:.3f}</td><td>{ref}</td>"
            f"<td>{tensors['ratio'][t]:.3f}</td><td>{tensors['adv'][t]:+.3f}</td><td>{kl}</td></tr>"
        )
    return f"<details><summary>token table ({len(rows)} trained tokens)</summary><table>{head}{''.join(rows)}</table></details>"


def _episode_html(record: dict, label: str) -> str:
    correct = record["reward"] >= 1.0
    searches = "".join(
        f"<li>search <b>{html.escape(s['query'])}</b> &rarr; "
        + ", ".join(
            f"{'&#9733; ' if d['gold'] else ''}doc {html.escape(d['id'])} ({html.escape(d['title'])})"
            for d in s["docs"]
        )
        + "</li>"
        for s in record["searches"]
    )
    return (
        f'<div class="episode {"correct" if correct else "wrong"}" data-correct="{"yes" if correct else "no"}" '
        f'data-searched="{"yes" if record["searches"] else "no"}" data-finish="{html.escape(record["finish"])}">'
        f'<div class="meta">{html.escape(label)} &middot; reward <b>{record["reward"]:.2f}</b> &middot; finish '
        f"{html.escape(record['finish'])} &middot; answer <b>{html.escape(str(record['answer']))}</b> &middot; golden "
        f"{html.escape(', '.join(record['golden']))}{' &middot; gold document retrieved' if record['found_gold'] else ''}</div>"
        f"<div class=meta>Q: {html.escape(record['question'])}</div>"
        + (f"<ul class=meta>{searches}</ul>" if searches else "")
        + f'<div class="tokens">{_tokens_html(record)}</div>{_tensor_table(record)}'
        + f"<details><summary>prompt</summary><pre>{html.escape(record['prompt'])}</pre></details></div>"
    )


def _groups_html(train: list[dict]) -> str:
    groups: dict[int, list[dict]] = {}
    for record in train:
        groups.setdefault(record["group"], []).append(record)
    out = []
    for g, members in groups.items():
        cells = []
        for r in sorted(members, key=lambda r: r["sample"]):
            adv = (
                r["tensors"]["adv"][next((i for i, m in enumerate(r["tensors"]["mask"]) if m), 0)]
                if r["tensors"]["adv"]
                else 0.0
            )
            cells.append(
                f"<div class=cell>#{r['sample']} reward <b>{r['reward']:.2f}</b>, advantage "
                f"<b class={'pos' if adv > 0 else 'neg'}>{adv:+.3f}</b><br>{len(r['searches'])} search(es), "
                f"{html.escape(r['finish'])}<br>answer: {html.escape(str(r['answer']))}</div>"
            )
        question = html.escape(members[0]["question"])
        out.append(f"<h3>group {g}: {question}</h3><div class=group>{''.join(cells)}</div>")
    return "".join(out)


def _filters(records: list[dict]) -> str:
    finishes = sorted({r["finish"] for r in records})

    def select(name: str, options: list[str]) -> str:
        opts = "".join(f"<option>{html.escape(o)}</option>" for o in ["all", *options])
        return f'<label>{name} <select name="{name}">{opts}</select></label> '

    return (
        f"<div class=filters>{select('correct', ['yes', 'no'])}{select('searched', ['yes', 'no'])}"
        f"{select('finish', finishes)} showing <span id=shown>{len(records)}</span> of {len(records)} episodes"
        '<div class=legend><span class="key m1">model-written, trained</span><span class="key m0">injected, masked</span>'
        '<span class="key m1 clip">ratio clipped</span> (hover a token for its numbers)</div></div>'
    )


def step_page(step: int, records: list[dict], skipped: int) -> str:
    """One evaluated step: its training groups with token tensors, then its evaluation episodes."""
    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    body = '<p><a href="index.html">index</a> &middot; <a href="compare.html">baseline vs best</a></p>'
    if skipped:
        body += f"<p class=note>{skipped} torn or unreadable line(s) of step_{step:04d}.jsonl were skipped.</p>"
    if not records:
        body += "<p class=note>No episodes were recorded for this step.</p>"
    body += _filters(records)
    if train:
        body += f"<h2>Training groups of step {step} ({len(train)} episodes)</h2>" + _groups_html(train)
        body += "".join(_episode_html(r, f"train group {r['group']} sample {r['sample']}") for r in train)
    if evals:
        accuracy = sum(r["reward"] >= 1 for r in evals) / len(evals)
        body += f"<h2>Evaluation at step {step}: {len(evals)} greedy episodes, accuracy {accuracy:.2f}</h2>"
        body += "".join(_episode_html(r, f"eval question {r['index']}") for r in evals)
    return _page(f"step {step}: rollouts", body, FILTER_JS)


def compare_page(baseline: list[dict], best: list[dict], best_step: int | None) -> str:
    """The same evaluation questions, answered by the baseline (step 0) and the best checkpoint."""
    body = '<p><a href="index.html">index</a></p>'
    if not baseline or not best:
        body += (
            "<p class=note>Nothing to compare yet: it needs the baseline's and the best step's evaluation episodes.</p>"
        )
        return _page("baseline vs best", body)
    by_index = {r["index"]: r for r in best}
    rows = []
    for r in baseline:
        b = by_index.get(r["index"])
        if b is None:
            continue
        rows.append(
            f"<tr><td>{html.escape(r['question'])}</td><td>{html.escape(', '.join(r['golden']))}</td>"
            f"<td>{html.escape(str(r['answer']))} ({r['reward']:.0f}, {len(r['searches'])} search)</td>"
            f"<td>{html.escape(str(b['answer']))} ({b['reward']:.0f}, {len(b['searches'])} search)</td></tr>"
        )
    body += (
        f"<table><tr><th>question</th><th>golden</th><th>baseline (step 0)</th><th>best (step {best_step})</th></tr>"
        f"{''.join(rows)}</table>"
    )
    return _page("baseline vs best checkpoint", body)


def render_run(run_dir: str | Path, log: Callable[[str], None] = print) -> Path:
    """Write every page of a run's rollouts/ and return the index page's path.

    Raises FileNotFoundError (with what to do) when the run recorded no rollouts.
    """
    folder = Path(run_dir) / ROLLOUTS
    files = sorted(folder.glob("step_*.jsonl")) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(
            f"{folder} has no step_*.jsonl: the run recorded no rollouts. Train with save_rollouts=true "
            "(on in the tiny_sample_nq preset); pages are written at every evaluation."
        )
    steps = {}
    for path in files:
        records, skipped = read_records(path)
        step = int(path.stem.split("_")[1])
        steps[step] = records
        if skipped:
            log(f"[viewer] {path.name}: skipped {skipped} torn or unreadable line(s)")
        (folder / f"step_{step:04d}.html").write_text(step_page(step, records, skipped), encoding="utf-8")
    best_meta = Path(run_dir) / "best_model" / "metadata.json"
    best_step = json.loads(best_meta.read_text()).get("step") if best_meta.is_file() else None
    evals = {s: [r for r in rs if r["kind"] == "eval"] for s, rs in steps.items()}
    (folder / "compare.html").write_text(compare_page(evals.get(0, []), evals.get(best_step, []), best_step), "utf-8")
    items = "".join(
        f'<li><a href="step_{s:04d}.html">step {s}</a>: {sum(r["kind"] == "train" for r in rs)} training and '
        f"{len(evals[s])} evaluation episodes{(', accuracy ' + format(sum(r['reward'] >= 1 for r in evals[s]) / len(evals[s]), '.2f')) if evals[s] else ''}</li>"
        for s, rs in sorted(steps.items())
    )
    index = folder / "index.html"
    index.write_text(
        _page(
            f"rollouts of {Path(run_dir).name}", f'<p><a href="compare.html">baseline vs best</a></p><ul>{items}</ul>'
        ),
        "utf-8",
    )
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the rollout viewer's pages of a run (RUN_DIR/rollouts/).")
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    try:
        index = render_run(args.run_dir)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"rollout viewer: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
