"""What ``--help`` shows: value names not Python types, required marks, examples, completion."""

from __future__ import annotations

import pytest

from .conftest import Invoke

COMMANDS = [
    "send",
    "send-personalized",
    "status",
    "balance",
    "senders",
    "sender-status",
    "register-sender",
    "sandbox",
    "demo",
]


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Help laid out on 200 columns, so a line is never cut inside a word."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.mark.parametrize("command", [[], *([name] for name in COMMANDS)])
def test_help_names_values_not_python_types(invoke: Invoke, command: list[str]) -> None:
    """No ``<bool>``, ``<str>``, ``<list[str]>``, ``<int range>``; no ``[ID...]...``."""
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.stderr
    for label in (
        "<bool>",
        "<str>",
        "<list[str]>",
        "range>",
        "<float",
        "<int",
        "<file>",
        "...]...",
    ):
        assert label not in result.stdout, label
    assert "Examples:" in result.stdout or not command
    if command:
        assert f"smsclub {command[0]}" in result.stdout.split("Examples:")[1]


def test_send_help_marks_the_message_required_and_shows_value_names(invoke: Invoke) -> None:
    result = invoke("send", "--help")
    lines = result.stdout.splitlines()
    message = next(line for line in lines if "--message" in line)
    assert "*" in message
    assert "TEXT" in message
    assert "[required]" in message
    assert "Usage: smsclub send [OPTIONS] [PHONE]..." in result.stdout
    assert any("--lifetime" in line and "MINUTES" in line for line in lines)
    dry_run = next(line for line in lines if "--dry-run" in line)
    assert "TEXT" not in dry_run  # a flag takes no value


def test_the_required_mark_is_for_help_only(invoke: Invoke) -> None:
    """After the help marked --message required, sending without it still gets the
    command's own one-line error (not click's), and --dry-run still needs no sender."""
    invoke("send", "--help")
    result = invoke("--sandbox", "send", "380501234567", "-s", "VashZakaz")
    assert result.exit_code == 2
    assert "missing --message" in result.stderr


def test_status_usage_has_one_ellipsis(invoke: Invoke) -> None:
    result = invoke("status", "--help")
    assert "Usage: smsclub status [OPTIONS] [ID]..." in result.stdout


def test_shell_completion_is_offered(invoke: Invoke) -> None:
    result = invoke("--help")
    assert "--install-completion" in result.stdout
    assert "--show-completion" in result.stdout


def test_show_completion_prints_a_script_for_the_shell(invoke: Invoke) -> None:
    result = invoke("--show-completion", "bash")
    assert result.exit_code == 0, result.stderr
    assert "_smsclub_completion" in result.stdout
    assert "complete" in result.stdout
