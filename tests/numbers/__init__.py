# One source of truth: README.md#how-the-pieces-fit
"""The numbers of each chapter's notes, one module per chapter (`chNN_topic.py`), checked by
scripts/check_numbers.py and tests/repo/test_numbers.py. How to register a chapter: that script's docstring."""
