"""Fixtures for the command-line tests: a runner with a clean environment."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from smsclub_async import SmsClub
from smsclub_async.cli._app import app
from smsclub_async.cli._gateways import GATEWAYS, GatewayName
from smsclub_async.sandbox import Sandbox, SandboxConfig, SandboxTransport

REPO = Path(__file__).resolve().parents[2]
SENDER = "VashZakaz"

Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No token, base URL or sender leaks in from the machine running the tests."""
    for name in list(os.environ):
        if name.startswith(("SMSCLUB_", "SMSC_", "SMSTELE_")):
            monkeypatch.delenv(name)


@pytest.fixture
def invoke() -> Invoke:
    """Run ``smsclub ARGS...`` in process, as a user would type it."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return run


def cli_env() -> dict[str, str]:
    """The environment for a subprocess: this one without the gateways' variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMSCLUB_", "SMSC_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def smsclub_command(*args: str) -> list[str]:
    """``python -m smsclub_async ARGS...``."""
    return [sys.executable, "-m", "smsclub_async", *args]


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``python -m smsclub_async`` subprocesses; any still running is killed after."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # A runner that starts the suite in the background passes SIGINT on as
        # ignored, and a child that inherits that never sees Ctrl-C. A handler (unlike
        # SIG_IGN) is not inherited across exec, so the children get the default.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            smsclub_command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=cli_env(),
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Sandbox]:
    """Make ``--sandbox`` answer from a sandbox the test holds (and can inspect).

    Call it with :class:`SandboxConfig` fields to change the defaults.
    """

    def install(**config: Any) -> Sandbox:
        sandbox = Sandbox(SandboxConfig(**config))
        spec = GATEWAYS[GatewayName.SMSCLUB]

        def factory(token: str) -> SmsClub:
            return SmsClub(token, transport=SandboxTransport(sandbox))

        monkeypatch.setitem(
            GATEWAYS, GatewayName.SMSCLUB, dataclasses.replace(spec, sandbox=factory)
        )
        return sandbox

    return install
