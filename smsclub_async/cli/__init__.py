"""The ``smsclub`` command line (the ``[cli]`` extra: typer and rich).

Run ``smsclub --help`` (or ``python -m smsclub_async --help``). The library never
imports this package, so it works without typer and rich installed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

_MISSING_EXTRA = (
    "smsclub: error: the command line needs typer and rich: pip install 'smsclub-async[cli]' ({})\n"
)


def main(args: Sequence[str] | None = None) -> None:
    """Run the ``smsclub`` command line; exits the process with its exit code."""
    try:
        from ._app import main as run  # noqa: PLC0415 - a missing extra gets a hint
    except ImportError as exc:
        if exc.name not in ("typer", "rich") and not str(exc.name).startswith(("typer.", "rich.")):
            raise
        sys.stderr.write(_MISSING_EXTRA.format(exc))
        raise SystemExit(2) from None
    run(args)
