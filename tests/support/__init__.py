"""Fixtures and harnesses shared by tests (and by bench/, which imports them from here)."""
