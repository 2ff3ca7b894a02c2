# Chapter 05 notes: learning_notes/05_agent_rl/README.md#bm25-at-wikipedia-scale
"""What a BM25 index costs in memory, and a compact, memory-mapped format for corpora near the limit.

The index is a CSR weight matrix W `[V, N]` plus a vocabulary. Its size is arithmetic:

    postings P = number of distinct (term, document) pairs  (about 0.8 x the tokens for passages)
    W          = P x (weight bytes + index bytes)  +  (V + 1) x indptr bytes
    per term   = idf (8) + df (indptr bytes) + max weight (8, for pruning)  + the vocabulary dict entry
    per doc    = document length (8)

float64 weights with int32 indices (scipy's choice while P < 2**31) are 12 bytes per posting; the
compact format stores float32 weights with int32 indices, 8 bytes, and memory-maps them: the operating
system pages in only the posting lists that queries touch, so resident memory is the vocabulary plus
the working set, not the file. The vocabulary stays a Python dict (about 100 bytes per term).

    python -c "from minimal_impl.bm25_scale import index_memory_bytes as m; print(m(1.5e9, 10e6, 21e6))"
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .bm25 import BM25, NUMPY_PRUNING, decode_vocab, encode_vocab

COMPACT_META = "bm25_compact.json"  # marks a directory written by save_compact
COMPACT_VERSION = 1
ARRAYS = ("data", "indices", "indptr", "idf", "doc_len", "max_weight", "vocab_bytes", "vocab_offsets")


def dict_bytes(num_keys: int) -> int:
    """Bytes of a CPython (>= 3.11) dict's hash table with `num_keys` str keys, not counting keys and values.

    The table has 2**p slots, at most 2/3 of them used; each slot costs an index (1, 2, 4 or 8 bytes,
    whatever addresses the table) and each usable entry 16 bytes (key and value pointers; str keys keep
    their hash). `dict_bytes(100_000)` -> 3,844,864 (= sys.getsizeof of such a dict): 262,144 slots, 38 bytes per key.
    """
    slots = 8
    while slots * 2 // 3 < num_keys:
        slots *= 2
    width = 1 if slots <= 128 else 2 if slots <= 1 << 15 else 4 if slots <= 1 << 31 else 8
    return 96 + slots * width + (slots * 2 // 3) * 16  # 96: the dict object and keys-object headers


def index_memory_bytes(
    num_postings: float,
    vocab_size: float,
    num_docs: float,
    weight_dtype: str = "float64",
    index_dtype: str = "int32",
    mean_term_chars: float = 8.0,
) -> dict[str, int]:
    """Bytes of a BM25 index in memory, by part, from its sizes.

    Args:
        num_postings: P, stored (term, document) pairs (`bm25.weights.nnz`).
        vocab_size: V, distinct terms.
        num_docs: N.
        weight_dtype: "float64" (the default index) or "float32" (compact).
        index_dtype: dtype of the document ids in each posting ("int32" while N < 2**31).
        mean_term_chars: mean length of a term (ASCII): a str costs 49 + length bytes in CPython.

    Returns:
        `{"weights", "indices", "indptr", "per_term", "per_doc", "vocab", "total"}` in bytes; "vocab" is the
        dict with its str keys and int values (an estimate: CPython's layout, ASCII terms), the rest exact.
        `index_memory_bytes(1_000, 100, 10)["weights"]` -> 8,000; for wiki-18,
        `index_memory_bytes(1.5e9, 10e6, 21e6)["total"]` -> about 19.5e9 (see the chapter notes).
    """
    P, V, N = int(num_postings), int(vocab_size), int(num_docs)
    indptr_bytes = 4 if P < 2**31 and np.dtype(index_dtype).itemsize == 4 else 8  # scipy widens both together
    parts = {
        "weights": P * np.dtype(weight_dtype).itemsize,
        "indices": P * np.dtype(index_dtype).itemsize,
        "indptr": (V + 1) * indptr_bytes,
        "per_term": V * (8 + indptr_bytes + 8),  # idf float64, df (indptr dtype), max weight float64
        "per_doc": N * 8,  # document lengths, int64
        # str key (49 + chars) + int value (28; 0..256 are shared) + the hash table
        "vocab": math.ceil(V * (49 + mean_term_chars) + max(V - 257, 0) * 28) + dict_bytes(V),
    }
    parts["total"] = sum(parts.values())
    return parts


def measured_memory_bytes(bm25: BM25) -> dict[str, int]:
    """The same parts as `index_memory_bytes`, measured on a built index (`.nbytes`, `sys.getsizeof`)."""
    weights = bm25._check_ready()
    vocab = sys.getsizeof(bm25.vocab) + sum(sys.getsizeof(t) for t in bm25.vocab)
    vocab += sum(sys.getsizeof(i) for i in bm25.vocab.values() if i > 256)
    parts = {
        "weights": weights.data.nbytes,
        "indices": weights.indices.nbytes,
        "indptr": weights.indptr.nbytes,
        "per_term": bm25.idf.nbytes + bm25.df.nbytes + bm25.max_weight.nbytes,
        "per_doc": bm25.doc_len.nbytes,
        "vocab": vocab,
    }
    parts["total"] = sum(parts.values())
    return parts


def compact(bm25: BM25) -> BM25:
    """A copy of the index with float32 weights and int32 document ids (8 bytes per posting, not 12).

    Weights lose precision beyond about 7 significant digits; `search` rescores its candidates in
    float64 from these weights, so the top k matches the float64 index unless two scores lie within
    about 1e-7 relative of each other (tested on the benchmark queries).
    """
    weights = bm25._check_ready()
    if bm25.num_docs >= 2**31:
        raise ValueError("int32 document ids hold at most 2**31 - 1 documents")
    out = BM25(k1=bm25.k1, b=bm25.b, epsilon=bm25.epsilon, idf=bm25.idf_mode)
    out.vocab, out.idf, out.doc_len, out.df = bm25.vocab, bm25.idf, bm25.doc_len, bm25.df
    indptr = weights.indptr.astype(np.int32 if weights.nnz < 2**31 else np.int64)
    out.weights = sp.csr_matrix(
        (weights.data.astype(np.float32), weights.indices.astype(np.int32), indptr), shape=weights.shape
    )
    return out


def save_compact(bm25: BM25, directory: str | Path) -> None:
    """Write a compact index as one `.npy` per array (memory-mappable) plus `bm25_compact.json`."""
    weights = bm25._check_ready()
    small = bm25 if weights.dtype == np.float32 else compact(bm25)
    weights = small.weights
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab_bytes, vocab_offsets = encode_vocab(small.vocab)
    arrays = {
        "data": weights.data,
        "indices": weights.indices,
        "indptr": weights.indptr,
        "idf": small.idf,
        "doc_len": small.doc_len,
        "max_weight": small.max_weight,
        "vocab_bytes": vocab_bytes,
        "vocab_offsets": vocab_offsets,
    }
    for name, array in arrays.items():
        np.save(directory / f"{name}.npy", array, allow_pickle=False)
    meta = {
        "format_version": COMPACT_VERSION,
        "k1": small.k1,
        "b": small.b,
        "epsilon": small.epsilon,
        "idf_mode": small.idf_mode,
        "shape": list(weights.shape),
        "nnz": int(weights.nnz),
        "prunable": small.prunable,
    }
    (directory / COMPACT_META).write_text(json.dumps(meta, indent=1), encoding="utf-8")


def is_compact(directory: str | Path) -> bool:
    """Whether `directory` holds an index written by `save_compact`."""
    return (Path(directory) / COMPACT_META).is_file()


def load_compact(directory: str | Path, mmap: bool = True) -> BM25:
    """Read a compact index; with `mmap`, the posting arrays stay on disk and are paged in on use.

    Raises:
        FileNotFoundError: no compact index there.
        ValueError: a missing or inconsistent array, or another format version.
    """
    directory = Path(directory)
    if not is_compact(directory):
        raise FileNotFoundError(f"no compact BM25 index at {directory} (write one with save_compact)")
    try:
        meta = json.loads((directory / COMPACT_META).read_text(encoding="utf-8"))
        if meta.get("format_version") != COMPACT_VERSION:
            raise ValueError(f"format version {meta.get('format_version')}, expected {COMPACT_VERSION}")
        mode = "r" if mmap else None
        arrays = {name: np.load(directory / f"{name}.npy", mmap_mode=mode, allow_pickle=False) for name in ARRAYS}
        num_terms, num_docs = meta["shape"]
        if len(arrays["indptr"]) != num_terms + 1 or len(arrays["data"]) != meta["nnz"] != len(arrays["indices"]):
            raise ValueError("the posting arrays disagree with bm25_compact.json")
        tokens = decode_vocab(arrays["vocab_bytes"], arrays["vocab_offsets"])
        if len(tokens) != num_terms or len(arrays["doc_len"]) != num_docs:
            raise ValueError("vocabulary or document count disagrees with bm25_compact.json")
    except (KeyError, TypeError, OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{directory} is not a readable compact BM25 index: {type(err).__name__}: {err}") from err
    bm25 = BM25(k1=meta["k1"], b=meta["b"], epsilon=meta["epsilon"], idf=meta["idf_mode"])
    bm25.vocab = {token: i for i, token in enumerate(tokens)}
    bm25.idf, bm25.doc_len = np.asarray(arrays["idf"]), np.asarray(arrays["doc_len"])
    # scipy keeps the memory-mapped arrays as they are (no copy: same dtypes, checked without reading them)
    bm25.weights = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=(num_terms, num_docs))
    bm25.df = np.diff(bm25.weights.indptr)
    bm25._max_weight, bm25._prunable = np.asarray(arrays["max_weight"]), bool(meta["prunable"])
    bm25.pruning = NUMPY_PRUNING[bm25.idf_mode]  # the compiled search would copy W into RAM (W^T)
    return bm25
