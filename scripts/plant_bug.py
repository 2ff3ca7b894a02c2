# Chapter 06 notes: learning_notes/06_training_engineering/README.md#train-the-agent-with-your-own-code
"""Write an implementation package that re-exports ours, optionally with one planted bug, for `--impl`.

    python scripts/plant_bug.py --out my_reexport                      # exactly ours: the same run, bit for bit
    python scripts/plant_bug.py --out my_sign_flip --bug advantage_sign
    bash run_first_training.sh --impl my_sign_flip --allow-failing-checks   # watch the bug break learning

Each module of the package is `from minimal_impl.<module> import *`; a bug replaces one function. The
package is what a learner's `my_solutions` looks like to the trainer, so it shows what `--impl` does
before you have written anything yourself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minimal_impl.impl import IMPL_MODULES  # noqa: E402

BUGS = {
    "advantage_sign": (
        "grpo",
        "the GRPO advantages with their sign flipped: successes are pushed down, failures up",
        '''
from minimal_impl.grpo import grpo_advantages as _ours


def grpo_advantages(scores, group_ids, eps=1e-6, scale_by_std=True):
    """Planted bug: -(r - mean) / std instead of (r - mean) / std."""
    return -_ours(scores, group_ids, eps=eps, scale_by_std=scale_by_std)
''',
    ),
}


def write_package(out: Path, bug: str | None = None) -> Path:
    """Create `out/` (a new directory) as a re-export of minimal_impl, with `bug` planted; returns it."""
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty: not overwriting it")
    if not out.name.isidentifier():
        raise ValueError(f"{out.name!r} is not a valid package name (--impl imports it)")
    if bug is not None and bug not in BUGS:
        raise ValueError(f"unknown bug {bug!r}; known: {', '.join(BUGS)}")
    out.mkdir(parents=True, exist_ok=True)
    description = f"with a planted bug: {BUGS[bug][1]}" if bug else "exactly ours"
    (out / "__init__.py").write_text(f'"""minimal_impl re-exported ({description}); scripts/plant_bug.py."""\n')
    for module in IMPL_MODULES:
        text = f"from minimal_impl.{module} import *  # noqa: F403\n"
        if bug and BUGS[bug][0] == module:
            text += BUGS[bug][2]
        (out / f"{module}.py").write_text(text, encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the package directory to create (e.g. my_sign_flip)")
    parser.add_argument("--bug", choices=sorted(BUGS), help="the bug to plant (none: an exact re-export)")
    args = parser.parse_args(argv)
    try:
        out = write_package(args.out, args.bug)
    except (FileExistsError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out}/ ({len(IMPL_MODULES)} modules{', bug ' + args.bug if args.bug else ''})")
    print(
        f"train with it: bash run_first_training.sh --impl {out.name}" + (" --allow-failing-checks" if args.bug else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
