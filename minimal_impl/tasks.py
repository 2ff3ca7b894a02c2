# Chapter 06 notes: learning_notes/06_training_engineering/README.md#tasks-and-rewards
"""What a training task is: its data, its prompts, its tool (if any) and its reward.

    sample-nq-search  offline NQ-style questions over the sample corpus, searched with in-process BM25
    sample-gsm8k      offline GSM8K-style sums, single turn, no tool
    nq-search         NQ (hub) as Search-R1 prepares it; search through a retrieval service (wiki-18)
    gsm8k             GSM8K (hub), single turn

Data are prepared on first use into `data_dir/<dataset>/` (chapter 02's `prepare`).
"""

from __future__ import annotations

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
    log: Callable[[str], None] = print,
) -> Task:
    """Prepare (if needed) and load a task's data, and build its retriever.

    `rewards_module` scores the answers and `bm25_module` indexes the corpus: ours by default, a
    learner's with `--impl` (chapter 06).

    Raises:
        RuntimeError: hub data that cannot be downloaded, or NQ without a retrieval service.
    """
    dataset = DATASET_OF[name]
    directory = Path(data_dir) / dataset
    if not (directory / "train.parquet").is_file() or not (directory / "test.parquet").is_file():
        log(f"[data] preparing {dataset} into {directory}")
        data.prepare(dataset, directory)
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
