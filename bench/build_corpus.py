# Chapter 05 notes: learning_notes/05_agent_rl/README.md#bm25-speed
"""A real-text retrieval corpus nobody in this repository wrote: docstring paragraphs of installed code.

Every Python file of the standard library and of site-packages is parsed with `ast` (nothing is
imported or executed); the docstrings of modules, classes and functions are split into paragraphs
at blank lines, whitespace is collapsed, paragraphs with fewer than `min_tokens` tokens are dropped
and exact duplicates are kept once. Files are visited in sorted order, so the corpus is the same on
every run of the same environment (files are read in a seeded shuffle of their sorted list, so that a
small corpus still samples every package). Test directories and `__pycache__` are skipped.

    python bench/build_corpus.py --docs 60000                   # build, cache under .build/, print the sources
    python bench/build_corpus.py --docs 60000 --kind passages   # the real-length corpus (see collect_passages)
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import random
import sys
import sysconfig
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from minimal_impl.bm25 import tokenize  # noqa: E402

SKIP_DIRS = {"__pycache__", "test", "tests", "testing", "site-packages", "dist-packages", "idlelib", "lib2to3"}
CACHE_DIR = ROOT / ".build"
CORPUS_KINDS = ("paragraphs", "passages")


def source_roots() -> list[tuple[str, Path]]:
    """(label, directory) of the standard library and of every distinct site-packages directory."""
    paths = sysconfig.get_paths()
    roots = [("stdlib", Path(paths["stdlib"]))]
    for key in ("purelib", "platlib"):
        path = Path(paths[key])
        if path.is_dir() and all(path != p for _, p in roots):
            roots.append(("site-packages", path))
    return roots


def python_files(root: Path) -> list[Path]:
    """Every .py file under `root`, sorted by relative path, skipping tests and nested site-packages."""
    found = []
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).parts
        if not any(part in SKIP_DIRS for part in parts[:-1]):
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def raw_docstrings(path: Path) -> Iterator[str]:
    """Every docstring of one file (module, classes, functions), cleaned by `ast.get_docstring`; none if the
    file does not parse."""
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, UnicodeDecodeError, RecursionError, MemoryError, OSError):
        return
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        if isinstance(node, kinds) and (doc := ast.get_docstring(node, clean=True)):
            yield doc


def docstring_paragraphs(path: Path, min_tokens: int) -> Iterator[str]:
    """Paragraphs (blank-line separated, whitespace collapsed) of every docstring in one file."""
    for doc in raw_docstrings(path):
        for block in doc.split("\n\n"):
            text = " ".join(block.split())
            if len(tokenize(text)) >= min_tokens:
                yield text


def docstrings(path: Path) -> Iterator[str]:
    """Every docstring of one file (module, classes, functions), whitespace collapsed to single spaces."""
    for doc in raw_docstrings(path):
        yield " ".join(doc.split())


def metadata_description(path: Path) -> str:
    """The long description of an installed package: the body of its `*.dist-info/METADATA` (README text).

    METADATA is an e-mail style header block, a blank line, then the description (Markdown or reST).
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    _, _, body = text.partition("\n\n")
    return " ".join(body.split())


def passages(text: str, words: int = 100, min_tokens: int = 50) -> Iterator[str]:
    """Consecutive windows of `words` whitespace-separated words (DPR's 100-word Wikipedia passages, the
    format of Search-R1's wiki-18), keeping the windows of at least `min_tokens` tokens.

    `list(passages("a b c d e", words=2, min_tokens=2))` -> `["a b", "c d"]` ("e" is too short).
    """
    split = text.split()
    for start in range(0, len(split), words):
        window = " ".join(split[start : start + words])
        if len(tokenize(window)) >= min_tokens:
            yield window


def unique_texts(
    pieces: Iterable[tuple[str, str]], limit: int | None, progress: bool, desc: str
) -> tuple[list[str], list[str]]:
    """The first `limit` distinct texts of `(text, source)` pairs, in order, and their sources.

    `unique_texts([("a", "x"), ("a", "y"), ("b", "z")], None, False, "")` -> `(["a", "b"], ["x", "z"])`.
    `pieces` is read lazily, so nothing past the `limit`-th distinct text is read.
    """
    texts: list[str] = []
    sources: list[str] = []
    seen: set[str] = set()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=limit or None, desc=desc, unit="doc", mininterval=1.0)
    for text, source in pieces:
        if text in seen:
            continue
        seen.add(text)
        texts.append(text)
        sources.append(source)
        if bar is not None:
            bar.update(1)
        if limit is not None and len(texts) >= limit:
            break
    if bar is not None:
        bar.close()
    return texts, sources


def collect_passages(
    roots: list[tuple[str, Path]],
    limit: int | None = None,
    seed: int = 0,
    words: int = 100,
    min_tokens: int = 50,
    progress: bool = False,
) -> tuple[list[str], list[str]]:
    """Unique passages of real-length text: package descriptions, then whole docstrings; and their sources.

    The descriptions (`site-packages/*.dist-info/METADATA`, a few thousand passages) come first, then the
    docstrings of the files in `corpus_files` order, each cut into `passages`, until `limit` are found.
    """

    def pieces() -> Iterator[tuple[str, str]]:
        for label, root in roots:
            if label == "site-packages":
                for meta in sorted(root.glob("*.dist-info/METADATA")):
                    name = meta.parent.name.split("-")[0].lower()
                    for passage in passages(metadata_description(meta), words, min_tokens):
                        yield passage, f"metadata/{name}"
        for label, root, path in corpus_files(roots, seed):
            for doc in docstrings(path):
                for passage in passages(doc, words, min_tokens):
                    yield passage, f"{label}/{_package(root, path)}"

    return unique_texts(pieces(), limit, progress, "passages")


def corpus_files(roots: list[tuple[str, Path]], seed: int = 0) -> list[tuple[str, Path, Path]]:
    """(label, root, file) of every Python file under the roots, in a seeded shuffle of the sorted list.

    Shuffling the files (not the paragraphs) lets `collect` stop as soon as it has enough paragraphs
    while still drawing them from every package, in the same order on every run.
    """
    files = [(label, root, path) for label, root in roots for path in python_files(root)]
    random.Random(seed).shuffle(files)
    return files


def _package(root: Path, path: Path) -> str:
    """The top-level package (or module) of a file under a root: `numpy` for `numpy/linalg/_linalg.py`."""
    return path.relative_to(root).parts[0].removesuffix(".py")


def collect(
    roots: list[tuple[str, Path]],
    limit: int | None = None,
    seed: int = 0,
    min_tokens: int = 6,
    progress: bool = False,
) -> tuple[list[str], list[str]]:
    """Unique docstring paragraphs and, for each, its source (`stdlib/json`, `site-packages/numpy`).

    Files are read in `corpus_files` order until `limit` paragraphs are found (all of them if None).
    """
    pieces = (
        (text, f"{label}/{_package(root, path)}")
        for label, root, path in corpus_files(roots, seed)
        for text in docstring_paragraphs(path, min_tokens)
    )
    return unique_texts(pieces, limit, progress, "docstring paragraphs")


def build_corpus(
    num_docs: int, seed: int = 0, cache_dir: Path | None = CACHE_DIR, progress: bool = True, kind: str = "paragraphs"
) -> tuple[list[str], list[str]]:
    """`num_docs` documents from the standard library and site-packages, cached as JSON in `cache_dir`.

    kind: "paragraphs" (docstring paragraphs, about 25 tokens each) or "passages" (`collect_passages`:
    100-word passages of package descriptions and whole docstrings, 50+ tokens each).
    Returns fewer than `num_docs` when the environment does not have that many: the caller decides.
    """
    if kind not in CORPUS_KINDS:
        raise ValueError(f"unknown corpus kind {kind!r}; expected one of {CORPUS_KINDS}")
    roots = source_roots()
    key_parts = [sys.version, [str(p) for _, p in roots], num_docs, seed] + ([kind] if kind != "paragraphs" else [])
    key = json.dumps(key_parts, sort_keys=True)
    name = "bm25_corpus" if kind == "paragraphs" else f"bm25_{kind}"
    cache = None if cache_dir is None else cache_dir / f"{name}_{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    if cache is not None and cache.exists():
        data = json.loads(cache.read_text(encoding="utf-8"))
        return data["texts"], data["sources"]
    collector = collect if kind == "paragraphs" else collect_passages
    texts, sources = collector(roots, limit=num_docs, seed=seed, progress=progress)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"texts": texts, "sources": sources}), encoding="utf-8")
    return texts, sources


def source_summary(sources: list[str], top: int = 12, unit: str = "paragraphs") -> str:
    """'stdlib: 31,204 (email 812, ...); site-packages: 28,796 (torch 6,010, ...)'."""
    by_root: dict[str, Counter] = {}
    for source in sources:
        label, package = source.split("/", 1)
        by_root.setdefault(label, Counter())[package] += 1
    parts = []
    for label, counts in by_root.items():
        biggest = ", ".join(f"{name} {n:,}" for name, n in counts.most_common(top))
        parts.append(f"{label}: {sum(counts.values()):,} {unit} from {len(counts)} packages ({biggest}, ...)")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=60_000)
    parser.add_argument("--kind", choices=CORPUS_KINDS, default="paragraphs")
    args = parser.parse_args(argv)
    texts, sources = build_corpus(args.docs, kind=args.kind)
    unit = "paragraphs" if args.kind == "paragraphs" else "passages"
    print(f"{len(texts):,} documents; {source_summary(sources, unit=unit)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
