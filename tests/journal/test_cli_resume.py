"""``smsclub send --journal``: killed with SIGKILL mid-send, the same command resumes it.

The command runs in a subprocess against the sandbox's HTTP server on loopback; its
``--json`` output after the resumed run is the combined result, checked against the
sandbox's record (no phone delivered twice, every recipient in one bucket, every
issued id in ``sent`` or its phone in ``unknown``). A third run sends nothing.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import random
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smsclub_async import SmsClub
from smsclub_async.cli._app import send as cli_send
from tests.workers._support import ROOT, SandboxProcess, subprocess_env

pytestmark = [
    pytest.mark.loopback,
    pytest.mark.slow,
    pytest.mark.xfail(
        "journal" not in inspect.signature(SmsClub).parameters
        or "journal" not in inspect.signature(cli_send).parameters,
        reason="waiting for SmsClub(journal=...) and smsclub send --journal",
    ),
]


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[SandboxProcess]:
    """The sandbox's HTTP server in its own process; answers take 50-200 ms."""
    server = SandboxProcess(rate_limit=10_000, latency=(0.05, 0.2))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def command(server: SandboxProcess, token: str, phones: Path, journal: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "smsclub_async",
        "--json",
        "--token",
        token,
        "--base-url",
        server.url,
        "send",
        "--file",
        str(phones),
        "-m",
        "Sale today",
        "-s",
        "VashZakaz",
        "--journal",
        str(journal),
    ]


def run(argv: list[str], *, kill_after: float | None = None) -> tuple[int, dict[str, Any] | None]:
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env=subprocess_env(),
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=kill_after or 120)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    if process.returncode == -9:
        return -9, None
    assert process.returncode in (0, 1), err
    return process.returncode, json.loads(out)


def test_the_same_command_resumes_a_killed_send(
    sandbox_server: SandboxProcess, tmp_path: Path
) -> None:
    """Killed at a random moment, then run again: the combined result, nobody twice."""
    token = f"cli-{uuid.uuid4().hex}"
    phones = [f"38093{i:07d}" for i in range(3000)]
    (tmp_path / "phones.txt").write_text("\n".join(phones) + "\n")
    argv = command(sandbox_server, token, tmp_path / "phones.txt", tmp_path / "sends.db")
    code, _ = run(argv, kill_after=random.uniform(1.5, 3.0))
    assert code == -9, "the first run should still have been sending"
    code, document = run(argv)
    assert document is not None
    messages = asyncio.run(sandbox_server.messages(token))
    delivered = Counter(m["phone"] for m in messages)
    assert max(delivered.values()) == 1
    sent, failed, unknown = document["sent"], document["failed"], document["unknown"]
    buckets = [*sent.values(), *failed, *unknown]
    assert sorted(buckets) == sorted(phones)
    for message in messages:
        assert sent.get(message["id"]) == message["phone"] or message["phone"] in unknown
    code, again = run(argv)  # nothing left: the same result, no new message
    assert again is not None
    assert (again["sent"], again["failed"], again["unknown"]) == (sent, failed, unknown)
    assert len(asyncio.run(sandbox_server.messages(token))) == len(messages)
    show = ["--json", "journal", "show", str(tmp_path / "sends.db")]
    shown = subprocess.run(
        [sys.executable, "-m", "smsclub_async", *show],
        capture_output=True, text=True, cwd=ROOT, env=subprocess_env(), check=True,
    )  # fmt: skip
    (key,) = json.loads(shown.stdout)["keys"]
    assert key["key"].startswith("cli-")
    assert key["sent"] == len(sent)
