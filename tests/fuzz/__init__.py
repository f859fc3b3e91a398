"""Mutations of the real saved pages, for the fuzz tests (tests/test_fuzz.py, issue #17)."""
