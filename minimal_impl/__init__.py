# Chapter index: README.md#learning-path
"""Reference solutions for agentic-rl-from-scratch.

One file per concept; each file's first line names the chapter note that explains it.
`exercises/` is generated from these files by `scripts/make_exercises.py`.
"""

__version__ = "0.1.0"
