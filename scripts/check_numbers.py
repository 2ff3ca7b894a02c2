# One source of truth: README.md#how-the-pieces-fit
"""Check that every worked number in the chapter notes is produced by code, asserted by a test, copied from a
committed result, or cited; and report the numbers nobody vouches for.

The link checker keeps the notes' code links honest; this keeps their numbers honest. Each chapter has a
registry module, `tests/numbers/chNN_topic.py`, listing the numbers of its note as they are written:

    NOTE = "learning_notes/03_rl_algorithms/README.md"
    COMPLETE = True            # the scanner must find no number in this note that no entry covers
    NUMBERS = [
        Computed("biased variance is\\n`42/27 ≈ 1.556`", lambda: [42 / 27, masked_var(V, M, unbiased=False)]),
        Computed("KL 0.055 (error +0.1, inside the clip) gives `0.1 · 1.0064 = 0.10064`",
                 lambda: [1.0064, adaptive(0.055, 64)], at="1.0064 = 0.10064"),
        Measured("13,991", source="learning_notes/05_agent_rl/bm25_speed.md"),
        Measured("0 to about 0.5", source="learning_notes/06_training_engineering/seed_runs.json",
                 key="final_accuracy_mean", rel=0.2),
        Asserted("19 prompt, 22 + 20\\nmodel and 50 observation tokens",
                 test="tests/repo/test_tiny_tokenizer.py::test_other_numbers_quoted_in_the_notes"),
        Cited("**0.431 with the mask and 0.343 without**", source="Search-R1, arXiv 2503.09516, Table 4"),
        Given("clip_ratio_c = 3", why="verl's default, not a result"),
    ]

How an entry is checked:
- `text` is copied from the note exactly as written (line breaks included: copy the lines); it must occur in
  the note, and every number inside it counts as covered for the scanner.
- `Computed`: `value()` returns the number(s) written in `at` (default: the whole `text`), in order; each
  written number must equal its value to the precision it is written with (0.5833 covers 0.58333, not 0.5838;
  a fraction `7/3` is exact; `≈`, `~`, `±` and a unit like `%` or `×` are decoration). `rel=` / `tol=` loosen
  this for numbers the note calls approximate ("about 2.5 times").
- `Measured`: the number(s) in `at` come from a committed results file: with `key` ("a.b.0.c" into a JSON
  file), compared like `Computed`; without `key`, each written number must appear in `source` as written.
- `Asserted`: a test asserts it: the test must exist and write each number in `at` as a literal (a number
  constant, or a string that is a number; decorators included).
- `Cited`: quoted from a paper or another project (`source` says where); nothing to compute.
- `Given`: an input of a worked example, a default or a constant the note states rather than derives (a count
  of things in a sentence); `why` says which.

The scanner reads each note outside fenced code blocks, link targets and link titles, and lists every
token that looks like a worked number: a decimal (0.5833), a fraction (42/27, 3.5 / 6), a number with a
thousands separator (2,938), or one marked approximate or scaled (≈ 3, ~35, 100%, 44×). Plain integers,
arXiv ids, versions and names such as Qwen2.5 or k1 are left alone.

    python scripts/check_numbers.py                   # check every registry, list uncovered numbers
    python scripts/check_numbers.py --note 03         # one chapter
    python scripts/check_numbers.py --uncovered 06    # only what is not covered yet, as entries to fill in

The how-to for chapter authors is /work/notes/numbers_howto.md (and this docstring).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import math
import pkgutil
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGISTRY_PACKAGE = "tests.numbers"
if str(ROOT) not in sys.path:  # `python scripts/check_numbers.py` from anywhere: the registries import tests.*
    sys.path.insert(0, str(ROOT))

MINUS = "-−"  # ASCII hyphen-minus and U+2212
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"  # 2,938 | 0.5833 | 12
TOKEN = re.compile(
    rf"(?P<pre>[≈~±]\s?)?"
    rf"(?P<sign>[{MINUS}](?=\d))?"
    rf"(?P<a>{_NUM})"
    rf"(?:\s?/\s?(?P<b>{_NUM})(?![\d.]))?"
    rf"(?P<post>[%×](?!\s?\d))?"  # 100%, 44× (a multiplier); "8 × 8" is an operator
)
# not numbers of a worked example: versions, arXiv ids, e-notation constants, sections
_SKIP = re.compile(
    r"arXiv\s+\d{4}\.\d{4,5}|Python (?:≥ ?)?\d+\.\d+\+?|\d+\.\d+\.\d+(?:\.\d+)?|\d+(?:\.\d+)?e[-+]?\d+|§\s?\d+(?:\.\d+)*|\bv\d+(?:\.\d+)*"
)
# "ln 2 / 3", "log(10/7)": a function applied to the numerator, so not a fraction
_FUNCTION_BEFORE = re.compile(r"(?:ln|log|exp|sqrt)\s?\(?$")
# [label](target#anchor "title"): the label stays, target, anchor and title are blanked (as in check_links)
_LINK_TARGET = re.compile(r'\]\(([^)\s#]+(?:#[^)\s]*)?(?:\s+"[^"]*")?)\)')


@dataclass(frozen=True)
class Number:
    """One number token as written: its text, value and the precision it is written with."""

    written: str
    value: float
    tol: float  # half a unit in the last written place (0 for an exact fraction of integers)
    start: int
    end: int
    worked: bool  # decimal, fraction, thousands separator, or marked approximate/scaled

    def matches(self, value: float, rel: float = 0.0, tol: float = 0.0) -> bool:
        if math.isnan(value) or math.isinf(value):
            return False
        # 1e-6 relative: values computed in float32 (a written 7/3 is 2.3333333 in float32)
        return abs(value - self.value) <= max(self.tol, tol, rel * abs(value)) + 1e-6 * max(1e-6, abs(value))


def _parse_plain(text: str) -> tuple[float, float]:
    """'2,938' -> (2938, 0.5); '0.5833' -> (0.5833, 0.00005): the value and half a unit in the last place."""
    plain = text.replace(",", "")
    decimals = len(plain.split(".")[1]) if "." in plain else 0
    return float(plain), 0.5 * 10.0**-decimals


def numbers_in(text: str, offset: int = 0) -> list[Number]:
    """Every number token of `text`, in order (skipping versions, arXiv ids and names such as Qwen2.5 or k1)."""
    skipped = [(m.start(), m.end()) for m in _SKIP.finditer(text)]
    out = []
    for m in TOKEN.finditer(text):
        start = m.start("a") - (1 if m.group("sign") else 0)
        if any(s <= m.start("a") < e for s, e in skipped):
            continue
        before = text[start - 1] if start > 0 else " "
        after = text[m.end("b") if m.group("b") else m.end("a") :][:1]
        if before.isalpha() or before in "_." or (after.isalpha() and not m.group("post")) or after == "_":
            continue  # part of a name: Qwen2.5, k1, e5, H100, 0.5B, x_1
        a, tol_a = _parse_plain(m.group("a"))
        if m.group("sign"):
            a = -a
        value, tol = a, tol_a
        if m.group("b") and _FUNCTION_BEFORE.search(text[max(0, start - 6) : start]):
            # "ln 2 / 3" is (ln 2) / 3 and "log(3.5 / 1.5)" a log of a ratio: two numbers, not a fraction
            end_a = m.end("a")
            b, tol_b = _parse_plain(m.group("b"))
            tol_a, tol_b = (tol if "." in s else 0.0 for tol, s in ((tol_a, m.group("a")), (tol_b, m.group("b"))))
            out.append(Number(text[start:end_a], a, tol_a, offset + start, offset + end_a, True))
            out.append(Number(m.group("b"), b, tol_b, offset + m.start("b"), offset + m.end("b"), True))
            continue
        if m.group("b"):
            b, tol_b = _parse_plain(m.group("b"))
            if b == 0:
                continue
            value = a / b
            exact_a = "." not in m.group("a")
            exact_b = "." not in m.group("b")
            tol = (
                0.0
                if exact_a and exact_b
                else abs(value) * ((0 if exact_a else tol_a / abs(a or 1)) + (0 if exact_b else tol_b / b))
            )
        if not m.group("b") and "." not in m.group("a") and not (m.group("pre") or "").strip("± "):
            tol = 0.0  # a plain integer is exact unless marked approximate (≈ 3, ~35)
        worked = bool(m.group("b") or "." in m.group("a") or "," in m.group("a") or m.group("pre") or m.group("post"))
        out.append(Number(m.group(0).strip(), value, tol, offset + m.start(), offset + m.end(), worked))
    return out


def _flatten(value: object) -> list[float]:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _flatten(item)]
    return [float(value)]


# ---------------------------------------------------------------------------------------------- entries


@dataclass
class Entry:
    """Base of the registry entries: `text` as written in the note; `at` the part(s) of it holding the numbers
    to check (a string, or a tuple of strings read in order), by default the whole text."""

    text: str
    at: str | tuple[str, ...] | None = None

    @property
    def spans(self) -> tuple[str, ...]:
        if self.at is None:
            return (self.text,)
        return (self.at,) if isinstance(self.at, str) else tuple(self.at)

    def check(self) -> list[str]:
        """Problems with this entry's numbers (the note-independent part); empty when it holds."""
        return []

    def _written(self) -> list[Number]:
        return [n for span in self.spans for n in numbers_in(span)]


@dataclass
class Computed(Entry):
    value: Callable[[], object] | None = None
    rel: float = 0.0
    tol: float = 0.0

    def __init__(
        self, text: str, value: Callable[[], object], at: str | None = None, rel: float = 0.0, tol: float = 0.0
    ) -> None:
        super().__init__(text, at)
        self.value, self.rel, self.tol = value, rel, tol

    def check(self) -> list[str]:
        written = self._written()
        try:
            values = _flatten(self.value())
        except Exception as err:  # a broken computation is a finding, reported with the entry
            return [f"computing it raised {type(err).__name__}: {err}"]
        return _compare(written, values, self.rel, self.tol)


def _compare(written: Sequence[Number], values: Sequence[float], rel: float, tol: float) -> list[str]:
    if len(written) != len(values):
        return [
            f"{len(written)} number(s) written ({[n.written for n in written]}) but {len(values)} computed {values}"
        ]
    return [
        f"written {n.written}, computed {v:.6g}"
        + (f" (written to within {n.tol:.2g})" if n.tol else " (written as exact)")
        for n, v in zip(written, values)
        if not n.matches(v, rel, tol)
    ]


@dataclass
class Measured(Entry):
    source: str = ""
    key: str | None = None
    rel: float = 0.0
    tol: float = 0.0

    def __init__(
        self,
        text: str,
        source: str,
        key: str | None = None,
        at: str | None = None,
        rel: float = 0.0,
        tol: float = 0.0,
    ) -> None:
        super().__init__(text, at)
        self.source, self.key, self.rel, self.tol = source, key, rel, tol

    def check(self) -> list[str]:
        path = ROOT / self.source
        if not path.exists():
            return [f"results file {self.source} does not exist"]
        written = self._written()
        content = path.read_text(encoding="utf-8")
        if self.key is None:
            return [f"{n.written} does not appear in {self.source}" for n in written if _bare(n.written) not in content]
        node: object = json.loads(content)
        for part in self.key.split("."):
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]  # type: ignore[index]
            except (KeyError, IndexError, ValueError, TypeError):
                return [f"key {self.key!r} not found in {self.source} (at {part!r})"]
        return _compare(written, _flatten(node), self.rel, self.tol)


def _bare(written: str) -> str:
    """The digits as a results file would hold them: '≈ 0.5' -> '0.5', '−3' -> '-3', '44×' -> '44'."""
    return written.strip("≈~± %×").replace("−", "-")


@dataclass
class Asserted(Entry):
    test: str = ""

    def __init__(self, text: str, test: str, at: str | None = None) -> None:
        super().__init__(text, at)
        self.test = test

    def check(self) -> list[str]:
        path_text, _, name = self.test.partition("::")
        path = ROOT / path_text
        if not path.exists():
            return [f"test file {path_text} does not exist"]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        node = next((n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name), None)
        if node is None:
            return [f"no test {name} in {path_text}"]
        literals = _numeric_literals(node)
        return [f"{n.written} is not a literal in {self.test}" for n in self._written() if abs(n.value) not in literals]


def _numeric_literals(node: ast.AST) -> set[float]:
    """The numbers a test writes as literals (decorators included): int and float constants, and strings
    that are a number ("0.50"); not digits inside other strings or format specs."""
    out: set[float] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, (int, float)) and not isinstance(sub.value, bool):
            out.add(abs(float(sub.value)))
        elif (
            isinstance(sub, ast.Constant) and isinstance(sub.value, str) and re.fullmatch(r"-?\d+(?:\.\d+)?", sub.value)
        ):
            out.add(abs(float(sub.value)))
    return out


@dataclass
class Cited(Entry):
    source: str = ""

    def __init__(self, text: str, source: str, at: str | None = None) -> None:
        super().__init__(text, at)
        self.source = source

    def check(self) -> list[str]:
        return [] if self.source.strip() else ["a citation needs its source"]


@dataclass
class Given(Entry):
    why: str = ""

    def __init__(self, text: str, why: str) -> None:
        super().__init__(text, None)
        self.why = why

    def check(self) -> list[str]:
        return [] if self.why.strip() else ["say why it is not a worked number"]


# ---------------------------------------------------------------------------------------------- notes


def scannable(markdown: str) -> str:
    """The note with fenced code blocks and link targets/titles blanked out (same length, same offsets)."""
    out = list(markdown)
    in_code = False
    pos = 0
    for line in markdown.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            in_code = not in_code
            out[pos : pos + len(line)] = " " * len(line.rstrip("\n")) + ("\n" if line.endswith("\n") else "")
        elif in_code:
            out[pos : pos + len(line)] = " " * len(line.rstrip("\n")) + ("\n" if line.endswith("\n") else "")
        pos += len(line)
    text = "".join(out)
    return _LINK_TARGET.sub(lambda m: "](" + " " * len(m.group(1)) + ")", text)


@dataclass
class Chapter:
    module: str  # the registry module, e.g. tests.numbers.ch03_rl_algorithms
    note: Path
    entries: list[Entry]
    complete: bool


def chapters() -> list[Chapter]:
    """Every registry module under tests/numbers/, in name order."""
    package = importlib.import_module(REGISTRY_PACKAGE)
    out = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{REGISTRY_PACKAGE}.{info.name}")
        out.append(
            Chapter(module.__name__, ROOT / module.NOTE, list(module.NUMBERS), bool(getattr(module, "COMPLETE", False)))
        )
    return out


def _rel(path: Path) -> str:
    """`path` relative to the repository when it is inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def entry_problems(chapter: Chapter) -> list[str]:
    """Entries whose text is not in the note, or whose numbers do not hold."""
    note = chapter.note.read_text(encoding="utf-8")
    rel = _rel(chapter.note)
    problems = []
    for entry in chapter.entries:
        label = f"{rel}: {type(entry).__name__}({entry.text[:60]!r}{'...' if len(entry.text) > 60 else ''})"
        if entry.text not in note:
            problems.append(f"{label}: this text is not in the note (edited? copy it again, line breaks included)")
            continue
        outside = [span for span in entry.spans if span not in entry.text]
        if outside:
            problems.append(f"{label}: at={outside[0]!r} is not part of its text")
            continue
        if not isinstance(entry, Given) and not entry._written():
            problems.append(f"{label}: no number in {entry.spans!r}")
            continue
        problems += [f"{label}: {p}" for p in entry.check()]
    return problems


def uncovered(chapter: Chapter) -> list[tuple[int, Number, str]]:
    """(line, number, context) for every worked-looking number of the note that no entry covers."""
    note = chapter.note.read_text(encoding="utf-8")
    covered: list[tuple[int, int]] = []
    for entry in chapter.entries:
        start = note.find(entry.text)
        while start != -1:
            covered.append((start, start + len(entry.text)))
            start = note.find(entry.text, start + 1)
    text = scannable(note)
    out = []
    for number in numbers_in(text):
        if not number.worked or any(s <= number.start and number.end <= e for s, e in covered):
            continue
        line_start = note.rfind("\n", 0, number.start) + 1
        line_end = note.find("\n", number.end)
        out.append((_line_of(note, number.start), number, note[line_start : line_end if line_end != -1 else None]))
    return out


def _select(all_chapters: Iterable[Chapter], prefix: str | None) -> list[Chapter]:
    return [c for c in all_chapters if prefix is None or c.note.parent.name.startswith(prefix)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--note", help="only the chapter whose folder starts with this (03, 05_agent_rl)")
    parser.add_argument("--uncovered", metavar="NOTE", help="list a chapter's uncovered numbers, nothing else")
    args = parser.parse_args(argv)
    if args.uncovered:
        selected = _select(chapters(), args.uncovered)
        notes = [c.note for c in selected] or sorted((ROOT / "learning_notes").glob(f"{args.uncovered}*/README.md"))
        for note in notes:
            chapter = next((c for c in selected if c.note == note), Chapter("(none)", note, [], False))
            for line, number, context in uncovered(chapter):
                print(f"{_rel(note)}:{line}: {number.written:>12}   {context.strip()[:100]}")
        return 0
    failed = False
    for chapter in _select(chapters(), args.note):
        problems = entry_problems(chapter)
        missing = uncovered(chapter)
        counts = {
            kind: sum(len(e._written()) for e in chapter.entries if isinstance(e, cls)) for kind, cls in KINDS.items()
        }
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
        print(f"{_rel(chapter.note)}: {sum(counts.values())} numbers in {len(chapter.entries)} entries ({summary})")
        for problem in problems:
            print(f"  FAIL {problem}")
        for line, number, context in missing:
            print(
                f"  {'FAIL' if chapter.complete else 'todo'} line {line}: {number.written} is not covered: {context.strip()[:90]}"
            )
        failed |= bool(problems) or (chapter.complete and bool(missing))
    print("numbers: FAIL" if failed else "numbers: all registered numbers hold")
    return 1 if failed else 0


KINDS = {"computed": Computed, "measured": Measured, "asserted": Asserted, "cited": Cited, "given": Given}

if __name__ == "__main__":
    # the registries import their entry classes from scripts.check_numbers: run that module, not a copy of it
    from scripts.check_numbers import main as _main

    sys.exit(_main())
