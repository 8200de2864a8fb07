"""Fixtures of the reliability suite.

Hypothesis reports a failing example by importing ``hypothesis.extra._patching``,
which imports libcst, which triggers a DeprecationWarning in mypy_extensions; with
warnings as errors that turns any hypothesis failure into a pytest INTERNALERROR that
hides the failure. Importing it once here, with that warning silenced, keeps failures
readable. (Nothing else is imported or changed.)
"""

from __future__ import annotations

import contextlib
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    with contextlib.suppress(ImportError):
        import hypothesis.extra._patching  # noqa: F401
