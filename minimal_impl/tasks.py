# Chapter 06 notes: learning_notes/06_training_engineering/README.md#tasks-and-rewards
"""What a training task is: its data, its prompts, its tool (if any) and its reward.

    sample-nq-search  offline NQ-style questions over the sample corpus, searched with in-process BM25
    sample-gsm8k      offline GSM8K-style sums, single turn, no tool
    nq-search         NQ (hub) as Search-R1 prepares it; search through a retrieval service (wiki-18)
    gsm8k             GSM8K (hub), single turn

Data live in `data_dir/<dataset>/` (chapter 02's `prepare` writes them). They are prepared on first use only
into the default data directory and only when the dataset's directory does not exist yet; anything else
that is missing or incomplete is an error naming the missing file and the command that prepares it, so a
user's data is never overwritten or silently replaced by another set.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from . import bm25, data, rewards
from .episode import Trajectory
from .retrieval import BM25Retriever, RemoteRetriever, load_corpus
from .rewards import golden_answers, normalize_answer
from .tool_calls import SEARCH_R1, ToolProtocol

DATASET_OF = {"sample-nq-search": "sample-nq", "sample-gsm8k": "sample-gsm8k", "nq-search": "nq", "gsm8k": "gsm8k"}
IDK = ("i dont know", "i do not know", "unknown", "not sure", "no answer", "cannot find", "i cannot answer")


class NonFiniteReward(ValueError):
    """A reward function returned NaN, an infinity or something that is not a number."""


@dataclass
class Task:
    """A task's rows, protocol, retriever and reward."""

    name: str
    train_rows: list[dict]
    test_rows: list[dict]
    protocol: ToolProtocol | None
    retriever: object | None
    reward_fn: str
    format_score: float
    rewards: ModuleType = field(default=rewards)  # the module scoring answers (a learner's with --impl)

    def golden(self, row: dict) -> list[str]:
        """Accepted answers of a row (one string for GSM8K)."""
        return golden_answers(row["reward_model"]["ground_truth"])

    def search_batch(self, queries: list[str], topk: int) -> list[list[dict]]:
        """Documents for each query, in Search-R1's `{"document", "score"}` layout."""
        return self.retriever.search(queries, topk=topk, return_scores=True)

    def score(self, traj: Trajectory, row: dict, tokenizer: object) -> float:
        """The rule reward of one episode.

        EM and GSM8K read the text the *model* wrote (observations excluded: a passage could contain an
        answer tag); Search-R1's format-shaped EM must see the whole sequence, `<information>` included.
        """
        if self.reward_fn == "em_format":
            text = tokenizer.decode([t for ids, _ in traj.segments for t in ids], skip_special_tokens=False)
        else:
            text = "".join(traj.turn_texts)
        return self.rewards.score_response(self.reward_fn, text, self.golden(row), self.format_score)

    def score_batch(self, trajs: list[Trajectory], rows: list[dict], tokenizer: object) -> list[float]:
        """The reward of every episode; a reward that is not a finite number stops the run, naming the episode.

        A NaN reward would become NaN advantages, then NaN gradients: every optimizer step skipped, silently.
        """
        rewards = []
        for i, (traj, row) in enumerate(zip(trajs, rows)):
            value = self.score(traj, row, tokenizer)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                question = row.get("extra_info", {}).get("question", "")[:80]
                raise NonFiniteReward(
                    f"reward_fn={self.reward_fn} returned {value!r} for episode {i} (question {question!r}, answer "
                    f"{traj.answer!r}): rewards must be finite numbers. Fix the reward function (chapter 04)."
                )
            rewards.append(float(value))
        return rewards

    def found_correct_doc(self, traj: Trajectory, tokenizer: object, row: dict) -> bool:
        """Whether a golden answer appeared in any retrieved information of the episode."""
        if self.protocol is None:
            return False
        seen = " ".join(
            tokenizer.decode(ids, skip_special_tokens=False) for ids, generated in traj.segments if not generated
        )
        seen = normalize_answer(re.sub(r"<[^>]*>", " ", seen))  # tags out first: "Paris.</information>" -> "paris"
        return any(normalize_answer(a) and f" {normalize_answer(a)} " in f" {seen} " for a in self.golden(row))


def is_idk(answer: str | None) -> bool:
    """An answer that declines ("I don't know")."""
    return answer is not None and any(phrase in normalize_answer(answer) for phrase in IDK)


def load_task(
    name: str,
    data_dir: str | Path,
    reward_fn: str,
    *,
    format_score: float = 0.0,
    retriever_url: str = "",
    rewards_module: ModuleType = rewards,
    bm25_module: ModuleType = bm25,
    prepare_if_missing: bool = False,
    log: Callable[[str], None] = print,
) -> Task:
    """Prepare (if needed) and load a task's data, and build its retriever.

    `rewards_module` scores the answers and `bm25_module` indexes the corpus: ours by default, a
    learner's with `--impl` (chapter 06). `prepare_if_missing` prepares the dataset when its directory does
    not exist at all (the trainer allows it for the default data_dir only).

    Raises:
        FileNotFoundError: the dataset's directory is missing or incomplete (the message names the command).
        RuntimeError: hub data that cannot be downloaded, or NQ without a retrieval service.
    """
    dataset = DATASET_OF[name]
    directory = Path(data_dir) / dataset
    needed = ["train.parquet", "test.parquet"] + (["corpus.jsonl"] if name == "sample-nq-search" else [])
    missing = [f for f in needed if not (directory / f).is_file()]
    if missing and prepare_if_missing and not directory.exists():
        log(f"[data] preparing {dataset} into {directory}")
        data.prepare(dataset, directory)
    elif missing:
        command = f"python -m minimal_impl.data prepare --dataset {dataset} --out {directory}"
        state = "does not exist" if not directory.exists() else f"has no {', '.join(missing)}"
        raise FileNotFoundError(
            f"data: {directory} {state}. Prepare it with `{command}`"
            + ("" if directory.exists() else f" (or point data_dir at the directory that holds {dataset}/)")
            + "; nothing there is overwritten or replaced automatically."
        )
    train_rows, test_rows = data.load_rows(directory / "train.parquet"), data.load_rows(directory / "test.parquet")
    protocol, retriever = None, None
    if name.endswith("nq-search"):
        protocol = SEARCH_R1
        if retriever_url:
            retriever = RemoteRetriever(retriever_url)
        elif (directory / "corpus.jsonl").is_file():
            docs = load_corpus(directory / "corpus.jsonl")
            index = bm25_module.BM25().index([bm25_module.tokenize(d["contents"]) for d in docs])
            retriever = BM25Retriever(docs, bm25=index)
        else:
            raise RuntimeError(
                f"task {name} needs a retriever: no {directory / 'corpus.jsonl'}. For wiki-18, start a retrieval "
                "service (chapter 05) and pass retriever_url=http://127.0.0.1:8000/retrieve"
            )
    return Task(name, train_rows, test_rows, protocol, retriever, reward_fn, format_score, rewards_module)
