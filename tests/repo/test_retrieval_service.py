# Chapter 05 notes: learning_notes/05_agent_rl/README.md#the-retrieval-service
"""The retrieval service on loopback: Search-R1's API and request shapes, 4xx for every kind of bad request
(oversized bodies declared or streamed, NaN, stalled clients), and it keeps serving."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from minimal_impl.retrieval import BM25Retriever, RemoteRetriever, load_corpus

DOCS = [
    {"id": "0", "contents": "Paris\nParis is the capital and largest city of France."},
    {"id": "1", "contents": "Berlin\nBerlin is the capital of Germany, on the river Spree."},
    {"id": "2", "contents": "Madrid\nMadrid is the capital of Spain."},
    {"id": "3", "contents": "Eiffel Tower\nThe Eiffel Tower is a wrought-iron tower in Paris, built in 1889."},
    {"id": "4", "contents": "Spree\nThe Spree is a river in eastern Germany."},
    {"id": "5", "contents": "Kyoto\nKyoto was the capital of Japan for over a thousand years."},
]


BODY_LIMIT = 2_000_000  # bytes
BODY_TIMEOUT = 1.0  # seconds


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def server(corpus_file: Path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "minimal_impl.retrieval_server", "--corpus", str(corpus_file), "--port", "0"]
        + ["--max-body-bytes", str(BODY_LIMIT), "--body-timeout", str(BODY_TIMEOUT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if "serving" not in line:
        proc.kill()
        pytest.fail(f"server did not start: {line}{proc.stderr.read()}")
    url = line.split(" on ")[1].strip()
    assert url.startswith("http://127.0.0.1:"), f"must bind loopback by default, got {url}"
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _post(url: str, body: bytes | str, content_type: str = "application/json") -> tuple[int, dict]:
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_good_request_search_r1_layout(server: str) -> None:
    status, body = _post(
        server, json.dumps({"queries": ["capital of Germany", "Eiffel tower"], "topk": 2, "return_scores": True})
    )
    assert status == 200
    result = body["result"]
    assert len(result) == 2 and all(len(r) == 2 for r in result)
    assert result[0][0]["document"]["id"] == "1"
    assert result[1][0]["document"]["id"] == "3"
    assert result[0][0]["score"] >= result[0][1]["score"] > 0


def test_defaults_and_bare_documents(server: str) -> None:
    status, body = _post(server, json.dumps({"queries": ["Spree river"]}))
    assert status == 200
    assert len(body["result"][0]) == 3  # default topk
    assert set(body["result"][0][0]) == {"id", "contents"}  # return_scores false: bare documents


BAD_REQUESTS = {
    "malformed json": ('{"queries": ["a"', 422),
    "not an object": ("[1, 2, 3]", 422),
    "queries is a string": (json.dumps({"queries": "capital"}), 422),
    "queries of numbers": (json.dumps({"queries": [1, 2]}), 422),
    "missing queries": (json.dumps({"topk": 3}), 422),
    "topk as string": (json.dumps({"queries": ["a"], "topk": "3"}), 422),
    "topk zero": (json.dumps({"queries": ["a"], "topk": 0}), 422),
    "topk negative": (json.dumps({"queries": ["a"], "topk": -5}), 422),
    "topk too large": (json.dumps({"queries": ["a"], "topk": 10_000}), 422),
    "return_scores not bool": (json.dumps({"queries": ["a"], "return_scores": "yes"}), 422),
    "unknown field": (json.dumps({"queries": ["a"], "top_k": 3}), 422),
    "topk NaN": ('{"queries": ["a"], "topk": NaN}', 422),
    "topk Infinity": ('{"queries": ["a"], "topk": -Infinity}', 422),
    "topk float": (json.dumps({"queries": ["a"], "topk": 3.0}), 422),
    "too many queries": (json.dumps({"queries": ["a"] * 4097}), 413),
    "query too long": (json.dumps({"queries": ["a" * 5000]}), 413),
    "body too large": (json.dumps({"queries": ["a " * 1_100_000]}), 413),  # 2.2 MB, read to its end: a clean 413
    "empty body": ("", 422),
    "not utf-8": (b"\xff\xfe\x00garbage", 422),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_requests_get_4xx_and_server_keeps_serving(server: str, case: str) -> None:
    body, expected = BAD_REQUESTS[case]
    status, answer = _post(server, body)
    assert status == expected, f"{case}: got {status} {answer}"
    assert "detail" in answer, f"{case}: a 4xx must say what was wrong"
    status, _ = _post(server, json.dumps({"queries": ["Paris"]}))
    assert status == 200, f"server stopped serving after: {case}"


def test_search_r1_request_shapes(server: str) -> None:
    """What Search-R1's generation loop sends: [] on a turn where nobody searched, a whole batch at once."""
    assert _post(server, json.dumps({"queries": []})) == (200, {"result": []})
    batch = [*(f"capital of {c}" for c in ("France", "Germany", "Spain", "Japan")), " "] * 512  # 512 prompts x 5
    status, body = _post(server, json.dumps({"queries": batch, "topk": 3, "return_scores": True}))
    assert status == 200 and len(body["result"]) == 2560
    assert body["result"][0][0]["document"]["id"] == "0" and body["result"][3][0]["document"]["id"] == "5"
    assert all(len(r) == 3 for i, r in enumerate(body["result"]) if i % 5 != 4)
    assert all(r == [] for r in body["result"][4::5]), "a blank query matches nothing"
    assert _post(server, json.dumps({"queries": ["  ", "\t"]})) == (200, {"result": [[], []]})


def _raw(server: str, head: bytes, body: bytes = b"", wait: float = 10.0) -> bytes:
    """Send bytes on a fresh connection, then read until the server closes it (or `wait` passes)."""
    host, port = server.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(head + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_body_limits_hold_for_declared_and_streamed_bodies(server: str) -> None:
    huge = (
        b"POST /retrieve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n"
    )
    assert _raw(server, huge).startswith(b"HTTP/1.1 413"), "a declared length far over the limit: 413 at once"
    host, port = server.split("//")[1].split("/")[0].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    pieces = (b'{"queries": ["' + b"a " * 32_768 for _ in range(46))  # 3 MB in 64 KB chunks, no Content-Length
    conn.request("POST", "/retrieve", body=pieces, headers={"Content-Type": "application/json"}, encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 413 and "over 2000000 bytes" in json.loads(response.read())["detail"]
    conn.close()
    assert _post(server, json.dumps({"queries": ["Paris"]}))[0] == 200


def test_a_stalled_client_times_out(server: str) -> None:
    head = b"POST /retrieve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    start = time.monotonic()
    answer = _raw(server, head, body=b'{"queries"')  # 10 of the 100 bytes it promised, then silence
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - start < BODY_TIMEOUT + 5
    assert _post(server, json.dumps({"queries": ["Paris"]}))[0] == 200


def test_wrong_method_and_path(server: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(server, timeout=10)  # GET /retrieve
    assert err.value.code == 405
    status, _ = _post(server.replace("/retrieve", "/nope"), json.dumps({"queries": ["a"]}))
    assert status == 404


def test_remote_equals_in_process(server: str, corpus_file: Path) -> None:
    queries = ["capital city", "river in Germany", "zzz unknown"]  # blank queries: see test_search_r1_request_shapes
    local = BM25Retriever.from_jsonl(corpus_file).search(queries, topk=4)
    remote = RemoteRetriever(server).search(queries, topk=4)
    assert [[d["document"]["id"] for d in r] for r in remote] == [[d["document"]["id"] for d in r] for r in local]
    for r_remote, r_local in zip(remote, local):
        assert [d["score"] for d in r_remote] == pytest.approx([d["score"] for d in r_local], rel=1e-9)


def test_remote_errors_are_clear() -> None:
    with pytest.raises(RuntimeError, match="unreachable"):
        RemoteRetriever("http://127.0.0.1:9/retrieve", timeout=2).search(["a"])


def test_index_is_saved_once_and_reloaded(corpus_file: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    first = BM25Retriever.from_jsonl(corpus_file, index)
    assert index.exists()
    second = BM25Retriever.from_jsonl(corpus_file, index)
    assert first.search(["capital"], topk=6) == second.search(["capital"], topk=6)


def test_server_cli_reports_missing_corpus(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "minimal_impl.retrieval_server", "--corpus", str(tmp_path / "none.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "corpus file not found" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "a", "contents": "x"}\n{"id": "b", "contents"\n', ":2: not valid JSON"),
        ('{"id": "a", "text": "x"}\n', ':1: expected an object with a string "contents"'),
        ("\n\n", "the corpus is empty"),
    ],
)
def test_load_corpus_errors_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_corpus(path)


def test_retriever_rejects_bad_topk(corpus_file: Path) -> None:
    with pytest.raises(ValueError, match="topk"):
        BM25Retriever.from_jsonl(corpus_file).search(["a"], topk=0)


def test_too_large_bodies_always_read_413(server: str) -> None:
    """The server reads an over-limit body before it answers, so the client sees the 413, not a broken pipe
    (it used to answer at once and close while the client was still sending: an intermittent CI failure)."""
    body = json.dumps({"queries": ["a " * 1_100_000]})
    for _ in range(5):
        status, answer = _post(server, body)
        assert status == 413 and "detail" in answer


SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "corpus.jsonl"
BACKEND_QUERIES = ["capital of France", "the river of the city", "zzz unknown", "the the of"]  # blank: answered []


@pytest.mark.parametrize("backend", ["ours", "ours-compact", "bm25s-mmap"])
def test_each_backend_serves_the_sample_corpus(backend: str, tmp_path: Path) -> None:
    """`--backend` picks the index behind the same API: rankings equal to the in-process BM25 (float64
    okapi for ours and ours-compact, lucene for bm25s), ties aside, on the shipped sample corpus."""
    if backend == "bm25s-mmap":
        pytest.importorskip("bm25s", reason="the bm25s backend needs bm25s (requirements-dev.txt)")
    index = tmp_path / "index"
    command = [sys.executable, "-m", "minimal_impl.retrieval_server", "--corpus", str(SAMPLE), "--port", "0"]
    proc = subprocess.Popen(
        [*command, "--backend", backend, "--index", str(index)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "serving 3250 documents" in line, f"{line}{proc.stderr.read() if proc.poll() is not None else ''}"
        remote = RemoteRetriever(line.split(" on ")[1].strip()).search(BACKEND_QUERIES, topk=5)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert index.exists(), "the index is saved for the next start"
    docs = load_corpus(SAMPLE)
    local = BM25Retriever(docs, idf="lucene" if backend == "bm25s-mmap" else "okapi").search(BACKEND_QUERIES, topk=5)
    for got, ref in zip(remote, local):
        assert [d["score"] for d in got] == pytest.approx([d["score"] for d in ref], rel=1e-5, abs=1e-6)
        for rank, (g, r) in enumerate(zip(got, ref)):
            untied = sum(abs(x["score"] - r["score"]) < 1e-5 for x in ref) == 1
            assert not untied or g["document"]["id"] == r["document"]["id"], f"rank {rank}"


def test_backends_other_than_ours_need_an_index_directory() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "minimal_impl.retrieval_server", "--corpus", str(SAMPLE), "--backend", "ours-compact"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--index" in result.stderr
