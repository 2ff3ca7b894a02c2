# One source of truth: README.md#how-the-pieces-fit
"""Check (or fix) the links from notes to code and tests, and from code back to notes.

Notes link to code lines as `[text](../../minimal_impl/gae.py#L42 "anchor")`: the file must exist, the
line must exist, and when a title ("anchor") is given, it must appear on that line (or in the range
`#L42-L50`). `--fix` moves each anchored link to the line where its anchor text now is, so editing
code never silently breaks a note. Line 1 of a Python file may name its note as
`path/README.md#heading`; that heading must exist.

    python scripts/check_links.py          # report broken links, exit 1 if any
    python scripts/check_links.py --fix    # update line numbers from the anchors, then report
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r'\[([^\]]*)\]\(([^)\s#]+)(#[^)\s]*)?(?:\s+"([^"]*)")?\)')
LINE_ANCHOR = re.compile(r"^#L(\d+)(?:-L(\d+))?$")
NOTE_REF = re.compile(r"([\w./-]+\.md)#([\w\-\u4e00-\u9fff]+)")


def slugify(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- \u4e00-\u9fff]", "", text)
    return text.replace(" ", "-")


def headings(markdown: Path) -> set[str]:
    slugs, in_code = set(), False
    for line in markdown.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            slugs.add(slugify(line.lstrip("#")))
    return slugs


def check_markdown(md: Path, fix: bool) -> list[str]:
    """Problems with the links of one markdown file (after fixing them if asked)."""
    problems: list[str] = []
    text = md.read_text(encoding="utf-8")

    def visit(match: re.Match) -> str:
        label, target, anchor, title = match.groups()
        if re.match(r"^[a-z]+://", target) or target.startswith("mailto:"):
            return match.group(0)
        path = (md.parent / target).resolve()
        where = f"{md.relative_to(ROOT)}: link [{label}]({target}{anchor or ''})"
        if not path.exists():
            problems.append(f"{where}: {target} does not exist")
            return match.group(0)
        if not anchor:
            return match.group(0)
        line_match = LINE_ANCHOR.match(anchor)
        if path.suffix == ".md" and not line_match:
            if anchor[1:] not in headings(path):
                problems.append(f"{where}: no heading '{anchor[1:]}' in {target}")
            return match.group(0)
        if not line_match:
            problems.append(f"{where}: anchor must look like #L12 or #L12-L20")
            return match.group(0)
        lines = path.read_text(encoding="utf-8").splitlines()
        start = int(line_match.group(1))
        end = int(line_match.group(2) or start)
        if title:
            hits = [i + 1 for i, line in enumerate(lines) if title in line]
            if fix and len(hits) == 1 and hits[0] != start:
                span = end - start
                start, end = hits[0], hits[0] + span
                new_anchor = f"#L{start}" + (f"-L{end}" if span else "")
                return f'[{label}]({target}{new_anchor} "{title}")'
            if len(hits) > 1:
                problems.append(f"{where}: anchor '{title}' is not unique in {target} (lines {hits})")
        if not 1 <= start <= end <= len(lines):
            problems.append(f"{where}: {target} has {len(lines)} lines")
        elif title and not any(title in lines[i - 1] for i in range(start, end + 1)):
            problems.append(f"{where}: '{title}' is not on line(s) {start}-{end} of {target}")
        return match.group(0)

    new_text = LINK.sub(visit, text)
    if fix and new_text != text:
        md.write_text(new_text, encoding="utf-8")
    return problems


def check_code_headers() -> list[str]:
    """Line 1 of each Python file that names a note must name an existing heading."""
    problems = []
    for py in sorted(ROOT.glob("*/*.py")) + sorted(ROOT.glob("*/*/*.py")) + sorted(ROOT.glob("*.py")):
        if any(part in (".venv", ".build") for part in py.parts):
            continue
        first = py.read_text(encoding="utf-8").splitlines()[:1]
        for note, anchor in NOTE_REF.findall(first[0] if first else ""):
            md = ROOT / note
            if not md.exists():
                problems.append(f"{py.relative_to(ROOT)}:1 names {note}, which does not exist")
            elif anchor not in headings(md):
                problems.append(f"{py.relative_to(ROOT)}:1 names {note}#{anchor}, which is not a heading there")
    return problems


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "learning_notes").glob("*/README.md"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fix", action="store_true", help="move anchored line links to where their anchor text is")
    args = parser.parse_args(argv)
    problems = [p for md in markdown_files() if md.exists() for p in check_markdown(md, args.fix)]
    problems += check_code_headers()
    for problem in problems:
        print(problem)
    print(f"{len(problems)} broken link(s)" if problems else "all links resolve")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
