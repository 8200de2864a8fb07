"""Fixtures of the reliability suite (the hypothesis import fix is in tests/conftest.py)."""

from __future__ import annotations
