# One source of truth: README.md#how-the-pieces-fit
"""Run sections of a chapter's notebook and hand back their variables, so that a registry checks the notes'
numbers against the notebook code that prints them (not against a copy of it).

Only the setup section and the named ones run, figures are neither drawn to disk nor shown, and what the
cells print is swallowed. Workbook cells (tagged `workbook`) never run here: they check the learner's code.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from functools import cache

from scripts.check_numbers import ROOT

_HEADING = re.compile(r"^## (\d+)\.", re.MULTILINE)


def _sections(notebook: str) -> dict[int, list[str]]:
    """Section number -> the sources of its code cells (workbook cells left out), in order."""
    import jupytext

    out: dict[int, list[str]] = {}
    current = 0
    for cell in jupytext.read(ROOT / notebook).cells:
        if cell.cell_type == "markdown":
            match = _HEADING.search(cell.source)
            if match:
                current = int(match.group(1))
        elif cell.cell_type == "code" and "workbook" not in cell.metadata.get("tags", []):
            out.setdefault(current, []).append(cell.source)
    return out


@cache
def run_sections(notebook: str, *numbers: int) -> dict:
    """The namespace after running section 1 (setup) and `numbers` of `notebook` (a path from the root)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sections = _sections(notebook)
    namespace: dict = {"__name__": "__notebook__"}
    saved = plt.savefig, plt.show
    plt.savefig = plt.show = lambda *args, **kwargs: None  # the committed figures stay as they are
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            for number in (1, *numbers):
                for i, source in enumerate(sections[number]):
                    exec(compile(source, f"{notebook}: section {number}, cell {i}", "exec"), namespace)
                plt.close("all")
    finally:
        plt.savefig, plt.show = saved
    return namespace
