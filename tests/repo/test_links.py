# One source of truth: README.md#how-the-pieces-fit
"""Every formula-to-code and formula-to-test link in the notes resolves, and code points at real notes."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.check_links import ROOT, check_code_headers, check_markdown, markdown_files, slugify


@pytest.mark.parametrize("md", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_links_resolve(md: Path) -> None:
    assert md.exists(), f"{md} is missing"
    problems = check_markdown(md, fix=False)
    assert not problems, "broken links (python scripts/check_links.py --fix repairs moved lines):\n" + "\n".join(
        problems
    )


def test_code_headers_name_existing_notes() -> None:
    problems = check_code_headers()
    assert not problems, "\n".join(problems)


def test_link_checker_catches_a_wrong_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = tmp_path / "code.py"
    code.write_text("a = 1\nb = 2\n", encoding="utf-8")
    md = tmp_path / "notes.md"
    md.write_text('[b](code.py#L1 "b = 2") [c](missing.py) [d](code.py#L9)\n', encoding="utf-8")
    monkeypatch.setattr("scripts.check_links.ROOT", tmp_path)
    problems = check_markdown(md, fix=False)
    assert len(problems) == 3, problems
    check_markdown(md, fix=True)
    assert 'code.py#L2 "b = 2"' in md.read_text(encoding="utf-8")


def test_slugify_matches_github() -> None:
    assert slugify("GRPO, RLOO and Dr.GRPO") == "grpo-rloo-and-drgrpo"
    assert slugify("PPO: the clipped surrogate") == "ppo-the-clipped-surrogate"
    assert slugify("Glossary 术语表") == "glossary-术语表"
