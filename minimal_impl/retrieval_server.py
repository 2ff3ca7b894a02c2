# Chapter 05 notes: learning_notes/05_agent_rl/README.md#the-retrieval-service
"""An HTTP retrieval service with Search-R1's API, serving the BM25 index.

    python -m minimal_impl.retrieval_server --corpus corpus.jsonl [--index DIR] [--port 8000]
        [--backend ours|ours-compact|bm25s-mmap]     # the last two serve a memory-mapped index from --index

    POST /retrieve  {"queries": ["..."], "topk": 3, "return_scores": true}
         -> 200     {"result": [[{"document": {"id", "contents"}, "score": s}, ...], ...]}
    GET  /health    -> {"status": "ok", "num_docs": N}

Bad requests get a 4xx with a message and the server keeps serving: malformed JSON or wrong types
422, an empty query list 422, topk outside [1, max_topk] 422, too many queries or too large a body
413. It binds 127.0.0.1 unless told otherwise: an index of your data is not for the whole network.
"""

# no `from __future__ import annotations` here: FastAPI must see the real request class, which is
# defined inside create_app because its limits are arguments
import argparse
import socket
import sys

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from .retrieval import BM25Retriever, BM25sRetriever

BACKENDS = ("ours", "ours-compact", "bm25s-mmap")

DRAIN_FACTOR = 8  # a too-large body up to this many times the limit is read (and dropped) before the 413


def create_app(
    retriever: BM25Retriever | BM25sRetriever,
    default_topk: int = 3,
    max_topk: int = 100,
    max_queries: int = 512,
    max_query_chars: int = 4096,
    max_body_bytes: int = 2_000_000,
) -> FastAPI:
    """The FastAPI application around one retriever, with the request limits as arguments."""

    class RetrieveRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        queries: list[StrictStr] = Field(min_length=1, description="one or more query strings")
        topk: StrictInt | None = Field(default=None, ge=1, le=max_topk, description="documents per query")
        return_scores: StrictBool = False

    app = FastAPI(title="agentic-rl-from-scratch retrieval service")

    @app.middleware("http")
    async def limit_body_size(request: Request, call_next):  # noqa: ANN001, ANN202
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body_bytes):
            if length.isdigit() and int(length) <= DRAIN_FACTOR * max_body_bytes:
                # read the body to the end before answering: closing on a client that is still sending
                # makes the kernel reset the connection, and the client sees a broken pipe, not the 413
                async for _ in request.stream():
                    pass
            return JSONResponse(
                status_code=413,
                content={"detail": f"request body over {max_body_bytes} bytes"},
                headers={"Connection": "close"},
            )
        return await call_next(request)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "num_docs": len(retriever.docs)}

    @app.post("/retrieve")
    def retrieve(request: RetrieveRequest) -> dict:
        if len(request.queries) > max_queries:
            raise HTTPException(413, f"{len(request.queries)} queries in one request; the limit is {max_queries}")
        too_long = [i for i, q in enumerate(request.queries) if len(q) > max_query_chars]
        if too_long:
            raise HTTPException(413, f"queries {too_long[:5]} are longer than {max_query_chars} characters")
        topk = request.topk if request.topk is not None else default_topk
        return {"result": retriever.search(request.queries, topk=topk, return_scores=request.return_scores)}

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a BM25 index with Search-R1's /retrieve API.")
    parser.add_argument("--corpus", required=True, help='JSONL corpus of {"id", "contents"} lines')
    parser.add_argument("--index", default=None, help="directory to load the index from, or to save it to once")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one")
    parser.add_argument("--topk", type=int, default=3, help="documents per query when a request omits topk")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="ours",
        help="ours: float64 BM25 in memory (rank-bm25's scores); ours-compact: float32, memory-mapped from "
        "--index; bm25s-mmap: bm25s's memory-mapped index in --index (lucene scoring)",
    )
    args = parser.parse_args(argv)
    if args.backend != "ours" and args.index is None:
        parser.error(f"--backend {args.backend} serves a memory-mapped index: give it a directory with --index")

    import uvicorn

    try:
        if args.backend == "bm25s-mmap":
            retriever = BM25sRetriever.from_jsonl(args.corpus, args.index)
        else:
            retriever = BM25Retriever.from_jsonl(args.corpus, args.index, compact=args.backend == "ours-compact")
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    app = create_app(retriever, default_topk=args.topk)
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)  # connections queue from now on, even before uvicorn starts accepting
    host, port = sock.getsockname()[:2]
    print(f"serving {len(retriever.docs)} documents on http://{host}:{port}/retrieve", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
