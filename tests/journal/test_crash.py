"""Kill -9 at chosen and at random moments, rerun, and check against the sandbox's record.

A campaign is sent by a child process (``_crash_child.py``) through a journal to the
sandbox's HTTP server on loopback. Runs are SIGKILLed before a start mark is
written, between the start mark and the request, between the gateway's answer and
reading it, between reading it and the done mark, and at a random moment; then a
last run completes. Its result is checked against the sandbox's own record
(``/_sandbox/messages``):

1. no phone was delivered twice;
2. every recipient is in exactly one of ``sent``, ``failed``, ``unknown``;
3. every id the gateway issued is in ``sent`` (for its phone), or its phone is in
   ``unknown``; every id in ``sent`` was issued for that phone;
4. no ``failed`` phone was delivered.

``engine="wrapper"`` wraps ``SmsClub.send`` in ``journaled()`` by hand (the journal on
its own); ``engine="client"`` is ``SmsClub(journal=...).send(key=...)``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smsclub_async import SmsClub
from smsclub_async.journal import INTERRUPTED
from tests.redis._redis_support import RedisServer
from tests.workers._support import ROOT, SandboxProcess, subprocess_env

pytestmark = [pytest.mark.loopback, pytest.mark.slow]

PLUMBED = "journal" in inspect.signature(SmsClub).parameters
NEEDS_PLUMBING = pytest.mark.xfail(
    not PLUMBED, reason="waiting for engine plumbing (SmsClub(journal=...), send(key=...))"
)
ENGINES = ["wrapper", pytest.param("client", marks=NEEDS_PLUMBING)]
TEXT = "Sale today"


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[SandboxProcess]:
    """The sandbox's HTTP server in its own process; answers take 20-150 ms."""
    server = SandboxProcess(rate_limit=10_000, latency=(0.02, 0.15))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def recipients(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"38097{n:07d}" for n in rng.sample(range(10**7), count)]


class Campaign:
    """One campaign's runs: the child processes, the last result, the checks."""

    def __init__(
        self, server: SandboxProcess, journal: dict[str, str], phones: list[str], engine: str
    ) -> None:
        self.server = server
        self.token = f"crash-{uuid.uuid4().hex}"
        self.options: dict[str, Any] = {
            "url": server.url,
            "token": self.token,
            "journal": journal,
            "key": f"campaign-{uuid.uuid4().hex[:8]}",
            "phones": phones,
            "text": TEXT,
            "engine": engine,
        }
        self.phones = phones
        self.processes: list[subprocess.Popen[str]] = []

    def __enter__(self) -> Campaign:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Leave no child behind, whatever the test did."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.communicate()

    def start(self, kill: dict[str, Any] | None = None) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.journal._crash_child",
                json.dumps({**self.options, "kill": kill}),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=subprocess_env(),
        )
        self.processes.append(process)
        return process

    def killed(self, kill: dict[str, Any] | None = None, *, after: float | None = None) -> int:
        """A run that dies (at ``kill``'s point, or SIGKILLed ``after`` seconds); its code."""
        process = self.start(kill)
        if after is not None:
            try:
                process.wait(timeout=after)
            except subprocess.TimeoutExpired:
                process.kill()
        _, err = process.communicate(timeout=60)  # reaped: its pid is gone
        assert process.returncode in (0, -9), err
        return process.returncode

    def complete(self) -> dict[str, dict[str, str]]:
        """A run to the end; its result."""
        process = self.start()
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        result: dict[str, dict[str, str]] = json.loads(out.strip().splitlines()[-1])
        return result

    def check(self, result: dict[str, dict[str, str]]) -> None:
        messages = asyncio.run(self.server.messages(self.token))
        delivered = Counter(message["phone"] for message in messages)
        twice = [phone for phone, n in delivered.items() if n > 1]
        assert not twice, f"delivered twice: {twice[:5]}"
        sent, failed, unknown = result["sent"], result["failed"], result["unknown"]
        buckets = list(sent.values()) + list(failed) + list(unknown)
        assert len(buckets) == len(set(buckets)), "a recipient in two buckets"
        assert set(buckets) == set(self.phones), "a recipient missing, or a stranger"
        issued = {message["id"]: message["phone"] for message in messages}
        for message_id, phone in issued.items():
            assert sent.get(message_id) == phone or phone in unknown, (message_id, phone)
        for message_id, phone in sent.items():
            assert issued.get(message_id) == phone, (message_id, phone)
        assert not set(failed) & set(delivered)


def journal_spec(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    if kind == "sqlite":
        return {"sqlite": str(tmp_path / "sends.db")}
    server: RedisServer = request.getfixturevalue("redis_server")
    return {"redis": server.url, "prefix": f"test:{uuid.uuid4().hex}:"}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_killed_at_every_moment_then_resumed(
    engine: str,
    kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    sandbox_server: SandboxProcess,
) -> None:
    """Four kills at the four moments, one at random, a last run: every check holds."""
    phones = recipients(4000, seed=len(engine) * 10 + len(kind))
    with Campaign(
        sandbox_server, journal_spec(kind, tmp_path, request), phones, engine
    ) as campaign:
        resume_after_kills(campaign)


def resume_after_kills(campaign: Campaign) -> None:
    """Kill it at each moment, then at random; a last run completes it; check."""
    for point, n in (("claim", 3), ("request", 1), ("response", 1), ("record", 1)):
        assert campaign.killed({"at": point, "n": n}) == -9, f"the run did not die at {point}"
    campaign.killed(after=random.uniform(0.5, 1.5))
    result = campaign.complete()
    campaign.check(result)
    interrupted = [p for p, reason in result["unknown"].items() if reason == INTERRUPTED]
    # "request" left 100 numbers started and unsent, "response" and "record" sent ones.
    assert len(interrupted) >= 300
    again = campaign.complete()  # a further run sends nothing and says the same
    assert again == result


@pytest.mark.redis
@pytest.mark.parametrize("engine", ENGINES)
def test_several_processes_on_one_redis_journal(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest, sandbox_server: SandboxProcess
) -> None:
    """Four processes send one campaign at once, two are killed; a rerun completes it."""
    phones = recipients(2000, seed=7)
    with Campaign(
        sandbox_server, journal_spec("redis", tmp_path, request), phones, engine
    ) as campaign:
        several_at_once(campaign)


def several_at_once(campaign: Campaign) -> None:
    """Four runs at once, two killed; the survivors and a rerun each complete it."""
    processes = [campaign.start() for _ in range(4)]
    time.sleep(random.uniform(0.4, 1.0))
    for process in processes[:2]:
        process.kill()
    results = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        if process.returncode == 0:
            results.append(json.loads(out.strip().splitlines()[-1]))
        else:
            assert process.returncode == -9, err
    for result in results:  # the survivors each report the whole campaign
        campaign.check(result)
    final = campaign.complete()
    campaign.check(final)
