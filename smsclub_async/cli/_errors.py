"""Exit codes and the one-line errors of the command line."""

from __future__ import annotations

import enum

from .._errors import (
    AuthenticationError,
    ConfigurationError,
    DuplicateError,
    NotFoundError,
    ValidationError,
)

__all__ = ["CliError", "ExitCode", "exit_code_for", "one_line"]


class ExitCode(enum.IntEnum):
    """What the process exit status means."""

    OK = 0
    """Everything was done: every recipient sent, every status known (and final)."""
    INCOMPLETE = 1
    """Some recipients failed or are unknown, or a request failed (network, gateway)."""
    USAGE = 2
    """Bad input or options: nothing (more) was sent."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C (128 + SIGINT)."""


class CliError(Exception):
    """An error to show as one line on stderr, then exit with ``exit_code``."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


# Errors the user fixes by changing the command (token, names, input); the others
# are the network's or the gateway's, and may go away on their own.
_INPUT_ERRORS = (
    ConfigurationError,
    ValidationError,
    AuthenticationError,
    NotFoundError,
    DuplicateError,
    ValueError,
)


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code of an error: 2 when the input is at fault, else 1."""
    if isinstance(error, CliError):
        return error.exit_code
    if isinstance(error, _INPUT_ERRORS):
        return ExitCode.USAGE
    return ExitCode.INCOMPLETE


def one_line(text: str) -> str:
    """Collapse whitespace so a message is exactly one line."""
    return " ".join(text.split())
