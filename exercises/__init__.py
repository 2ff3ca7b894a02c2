# Exercise harness: README.md#exercise-mode
"""Your implementations: generated stubs of minimal_impl/ (see README.md#exercise-mode)."""
