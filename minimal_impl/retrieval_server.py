# Chapter 05 notes: learning_notes/05_agent_rl/README.md#the-retrieval-service
"""An HTTP retrieval service with Search-R1's API, serving the BM25 index.

    python -m minimal_impl.retrieval_server --corpus corpus.jsonl [--index DIR] [--port 8000]
        [--backend ours|ours-compact|bm25s-mmap]     # the last two serve a memory-mapped index from --index

    POST /retrieve  {"queries": ["..."], "topk": 3, "return_scores": true}
         -> 200     {"result": [[{"document": {"id", "contents"}, "score": s}, ...], ...]}
    GET  /health    -> {"status": "ok", "num_docs": N}

What Search-R1's own client sends in normal operation is answered, not refused: on a turn where no row
searched it POSTs `{"queries": []}` (-> 200 `{"result": []}`), and one request carries a whole rollout
batch of queries (512 prompts x 5 samples = 2,560), so the cap is 4,096 by default (`--max-queries`).
A blank query gets an empty list, as Pyserini's BM25 gives it: no term, no match.

Bad requests get a 4xx with a message and the server keeps serving: malformed JSON, wrong types,
NaN or infinite numbers, topk outside [1, max_topk] 422; too many queries, too long a query, too large a
body 413 (declared by Content-Length or counted while a chunked body streams in); a client that stops
sending its body gets 408 after `--body-timeout` seconds instead of holding the connection forever.
It binds 127.0.0.1 unless told otherwise: an index of your data is not for the whole network.
"""

# no `from __future__ import annotations` here: FastAPI must see the real request class, which is
# defined inside create_app because its limits are arguments
import argparse
import asyncio
import json
import math
import socket
import sys

from fastapi import FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from .retrieval import BM25Retriever, BM25sRetriever

BACKENDS = ("ours", "ours-compact", "bm25s-mmap")

DRAIN_FACTOR = 4  # an oversized body up to this many times the limit is read to its end before the 413


class BodyLimit:
    """ASGI middleware: bound the request body's size and the time between its pieces.

    The whole body is read here, before the application sees it, so the limit holds whether the client
    declares a Content-Length or streams chunks. An oversized body is still read (and discarded) up to
    DRAIN_FACTOR x the limit before the 413 goes out: a client that is still sending when the server
    closes gets a connection reset instead of the answer, so draining is what lets it read why.
    """

    def __init__(self, app, max_body_bytes: int, body_timeout: float) -> None:  # noqa: ANN001
        self.app, self.max_body_bytes, self.body_timeout = app, max_body_bytes, body_timeout

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"").decode("latin-1")
        if declared and (not declared.isdigit() or int(declared) > DRAIN_FACTOR * self.max_body_bytes):
            return await _reply(send, 413, f"request body over {self.max_body_bytes} bytes")
        chunks, size, more = [], 0, True
        while more:
            try:
                message = await asyncio.wait_for(receive(), timeout=self.body_timeout)
            except asyncio.TimeoutError:
                return await _reply(send, 408, f"no request body data for {self.body_timeout:g} s")
            if message["type"] == "http.disconnect":
                return None
            size += len(message.get("body", b""))
            if size <= self.max_body_bytes:
                chunks.append(message.get("body", b""))
            elif size > DRAIN_FACTOR * self.max_body_bytes:
                break  # stop reading: the client gets its 413 if it is still listening
            more = message.get("more_body", False)
        if size > self.max_body_bytes:
            return await _reply(send, 413, f"request body over {self.max_body_bytes} bytes")
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:  # after the body, the app may only wait for the client to go away
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


async def _reply(send, status: int, detail: str) -> None:  # noqa: ANN001
    payload = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})


def _json_safe(value: object) -> object:
    """Validation errors echo the input; NaN or inf there would make the 422 itself fail to serialise."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def create_app(
    retriever: BM25Retriever | BM25sRetriever,
    *,
    default_topk: int = 3,
    max_topk: int = 100,
    max_queries: int = 4096,
    max_query_chars: int = 4096,
    max_body_bytes: int = 8_000_000,
    body_timeout: float = 10.0,
) -> FastAPI:
    """The FastAPI application around one retriever, with the request limits as arguments."""

    class RetrieveRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        queries: list[StrictStr] = Field(description="query strings; [] is answered with []")
        topk: StrictInt | None = Field(default=None, ge=1, le=max_topk, description="documents per query")
        return_scores: StrictBool = False

    app = FastAPI(title="agentic-rl-from-scratch retrieval service")
    app.add_middleware(BodyLimit, max_body_bytes=max_body_bytes, body_timeout=body_timeout)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request, err: RequestValidationError) -> JSONResponse:  # noqa: ANN001
        return JSONResponse(status_code=422, content={"detail": _json_safe(err.errors())})

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
        asked = [i for i, q in enumerate(request.queries) if q.strip()]  # blank queries: no term, no match
        result: list[list] = [[] for _ in request.queries]
        if asked:
            found = retriever.search(
                [request.queries[i] for i in asked], topk=topk, return_scores=request.return_scores
            )
            for i, docs in zip(asked, found):
                result[i] = docs
        return {"result": result}

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a BM25 index with Search-R1's /retrieve API.")
    parser.add_argument("--corpus", required=True, help='JSONL corpus of {"id", "contents"} lines')
    parser.add_argument("--index", default=None, help="directory to load the index from, or to save it to once")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one")
    parser.add_argument("--topk", type=int, default=3, help="documents per query when a request omits topk")
    parser.add_argument("--max-queries", type=int, default=4096, help="queries in one request (Search-R1: 2,560)")
    parser.add_argument("--max-body-bytes", type=int, default=8_000_000, help="largest request body")
    parser.add_argument("--body-timeout", type=float, default=10.0, help="seconds to wait for more of a body")
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
    for name in ("topk", "max_queries", "max_body_bytes", "body_timeout"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            parser.error(f"--{name.replace('_', '-')} must be a positive number, got {value}")

    import uvicorn

    try:
        if args.backend == "bm25s-mmap":
            retriever = BM25sRetriever.from_jsonl(args.corpus, args.index)
        else:
            retriever = BM25Retriever.from_jsonl(args.corpus, args.index, compact=args.backend == "ours-compact")
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    app = create_app(
        retriever,
        default_topk=args.topk,
        max_queries=args.max_queries,
        max_body_bytes=args.max_body_bytes,
        body_timeout=args.body_timeout,
    )
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
