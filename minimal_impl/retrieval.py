# Chapter 05 notes: learning_notes/05_agent_rl/README.md#the-retrieval-service
"""Retrievers the agent calls: in-process BM25 (the default) and a client for the HTTP service.

Both answer `search(queries, topk)` with Search-R1's result layout, one list per query:
    [{"document": {"id": "...", "contents": "title\\ntext"}, "score": 12.3}, ...]
so the rollout code does not care whether the index lives in this process or behind
`python -m minimal_impl.retrieval_server`. The corpus is JSONL, one `{"id", "contents"}` object per
line, with the title on the first line of `contents` (the FlashRAG / Search-R1 format).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from . import bm25_scale
from .bm25 import BM25, tokenize


def load_corpus(path: str | Path) -> list[dict]:
    """Read a JSONL corpus; every problem names its line.

    Args:
        path: a `.jsonl` file of `{"id": str, "contents": str}` objects ("title\\ntext").

    Returns:
        The documents, in file order. Raises FileNotFoundError or ValueError with the line number.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus file not found: {path}")
    docs = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{line_no}: not valid JSON ({err.msg})") from None
            if not isinstance(doc, dict) or not isinstance(doc.get("contents"), str):
                raise ValueError(f'{path}:{line_no}: expected an object with a string "contents" field')
            doc.setdefault("id", str(len(docs)))
            docs.append({"id": str(doc["id"]), "contents": doc["contents"]})
    if not docs:
        raise ValueError(f"{path}: the corpus is empty")
    return docs


def search_r1_layout(docs: list[dict], scores: list[float], return_scores: bool) -> list:
    """One query's results in Search-R1's layout: `{"document", "score"}` items, or bare documents.

    `search_r1_layout([{"id": "0"}], [7.2], True)` -> `[{"document": {"id": "0"}, "score": 7.2}]`;
    with `return_scores=False` -> `[{"id": "0"}]`.
    """
    return [{"document": d, "score": s} for d, s in zip(docs, scores)] if return_scores else list(docs)


class BM25Retriever:
    """BM25 over a list of documents, searched in this process (no server needed)."""

    def __init__(self, docs: list[dict], bm25: BM25 | None = None, **bm25_kwargs: float | str) -> None:
        """Index `docs` (or reuse a ready `bm25` index built over the same documents)."""
        if not docs:
            raise ValueError("cannot build a retriever over an empty corpus")
        self.docs = docs
        self.bm25 = bm25 if bm25 is not None else BM25(**bm25_kwargs).index([tokenize(d["contents"]) for d in docs])
        if self.bm25.num_docs != len(docs):
            raise ValueError(f"index has {self.bm25.num_docs} documents but the corpus has {len(docs)}")

    @classmethod
    def from_jsonl(
        cls, corpus_path: str | Path, index_path: str | Path | None = None, compact: bool = False
    ) -> BM25Retriever:
        """Load a corpus; with `index_path`, load the saved index or build and save it there once.

        compact: float32 weights, int32 ids, memory-mapped from `index_path` (`bm25_scale.py`); the
        index is built once in memory, saved, then served from the memory-mapped files.
        """
        docs = load_corpus(corpus_path)
        if index_path is None:
            retriever = cls(docs)
            return cls(docs, bm25=bm25_scale.compact(retriever.bm25)) if compact else retriever
        index_path = Path(index_path)
        if compact:
            if not bm25_scale.is_compact(index_path):
                bm25_scale.save_compact(cls(docs).bm25, index_path)
            return cls(docs, bm25=bm25_scale.load_compact(index_path, mmap=True))
        if index_path.exists():
            return cls(docs, bm25=BM25.load(index_path))
        retriever = cls(docs)
        retriever.bm25.save(index_path)
        return retriever

    def search(self, queries: list[str], topk: int = 3, return_scores: bool = True) -> list[list[dict]]:
        """Top-k documents per query, best first, in Search-R1's layout.

        Args:
            queries: query strings (an empty string returns the first k documents with score 0).
            topk: documents per query; more than the corpus size is clamped.
            return_scores: True gives `{"document", "score"}` items, False bare documents (Search-R1).
        """
        if topk < 1:
            raise ValueError(f"topk must be >= 1, got {topk}")
        indices, scores = self.bm25.search([tokenize(q) for q in queries], k=topk)  # [Q, k], [Q, k]
        return [
            search_r1_layout([self.docs[i] for i in row_idx], row_scores, return_scores)
            for row_idx, row_scores in zip(indices.tolist(), scores.tolist())
        ]


class BM25sRetriever:
    """bm25s's memory-mapped index behind the same `search`: an existing engine for corpora near the limit.

    Tokens come from our `tokenize`, scoring is bm25s's "lucene" (k1 = 1.5, b = 0.75, as ours), so the
    scores equal our `idf="lucene"` mode within float32. The index is built once (bm25s's `index` and
    `save`) into `index_dir`, then loaded with `mmap=True`: its arrays stay on disk, paged in on use.
    """

    def __init__(self, docs: list[dict], index_dir: str | Path) -> None:
        import bm25s  # optional: requirements-dev.txt

        if not docs:
            raise ValueError("cannot build a retriever over an empty corpus")
        self.docs = docs
        index_dir = Path(index_dir)
        if not (index_dir / "params.index.json").is_file():
            builder = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
            builder.index([tokenize(d["contents"]) for d in docs], show_progress=False)
            builder.save(str(index_dir), show_progress=False)
        self.index = bm25s.BM25.load(str(index_dir), mmap=True, show_progress=False)
        if self.index.scores["num_docs"] != len(docs):
            raise ValueError(f"index has {self.index.scores['num_docs']} documents but the corpus has {len(docs)}")

    @classmethod
    def from_jsonl(cls, corpus_path: str | Path, index_path: str | Path) -> BM25sRetriever:
        return cls(load_corpus(corpus_path), index_path)

    def search(self, queries: list[str], topk: int = 3, return_scores: bool = True) -> list[list[dict]]:
        """Same contract as `BM25Retriever.search` (ties may come in another order: bm25s breaks them its way)."""
        if topk < 1:
            raise ValueError(f"topk must be >= 1, got {topk}")
        topk = min(topk, len(self.docs))
        vocab = self.index.vocab_dict
        # bm25s wants known token ids; a query without any known token scores 0 everywhere: our rule
        token_ids = [[vocab[t] for t in tokenize(q) if t in vocab] for q in queries]
        results = []
        for ids in token_ids:
            if ids:
                top, scores = self.index.retrieve([ids], k=topk, show_progress=False, n_threads=0)
                pairs = list(zip(top[0].tolist(), scores[0].tolist()))
            else:
                pairs = [(i, 0.0) for i in range(topk)]
            results.append(search_r1_layout([self.docs[i] for i, _ in pairs], [s for _, s in pairs], return_scores))
        return results


class RemoteRetriever:
    """Client of the retrieval service: the same `search` as BM25Retriever, over HTTP."""

    def __init__(self, url: str = "http://127.0.0.1:8000/retrieve", timeout: float = 30.0) -> None:
        self.url = url
        self.timeout = timeout

    def search(self, queries: list[str], topk: int = 3, return_scores: bool = True) -> list[list[dict]]:
        """POST the queries; raise RuntimeError with the server's message on any error status."""
        body = json.dumps({"queries": queries, "topk": topk, "return_scores": return_scores}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())["result"]
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"retrieval service at {self.url} answered {err.code}: {err.read().decode()}") from None
        except urllib.error.URLError as err:
            raise RuntimeError(f"retrieval service at {self.url} is unreachable: {err.reason}") from None
