"""What the worker tests share: the recipe's import, a sandbox process, a worker pool.

``examples/worker`` is imported as the package ``smsclub_worker_example`` (its
modules use relative imports, so it works under any name: ``worker`` when a user
runs it from ``examples/``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "examples" / "worker"
PACKAGE = "smsclub_worker_example"


def load_recipe(module: str = "") -> ModuleType:
    """Import ``examples/worker`` (or one of its modules) under :data:`PACKAGE`."""
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, RECIPE / "__init__.py", submodule_search_locations=[str(RECIPE)]
        )
        assert spec is not None
        assert spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        try:
            spec.loader.exec_module(package)
        except BaseException:
            del sys.modules[PACKAGE]
            raise
    return importlib.import_module(f"{PACKAGE}.{module}" if module else PACKAGE)


def account_hash(token: str) -> str:
    """The sandbox's name for a token's account (in its statistics and messages)."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def subprocess_env() -> dict[str, str]:
    """The environment of child processes: the project importable, nothing else changed."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }


async def wait_for(
    condition: Callable[[], Awaitable[bool]], *, within: float, what: str, every: float = 0.05
) -> None:
    """Poll ``condition`` until it holds; fail the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(every)


# ------------------------------------------------------------------ the sandbox process

_SANDBOX = """
import signal, json, sys
# Stopped with SIGINT: take it even if started with SIGINT ignored (a background job).
signal.signal(signal.SIGINT, signal.default_int_handler)
from decimal import Decimal
from smsclub_async.sandbox import Faults, Sandbox, SandboxConfig, run

options = json.loads(sys.argv[1])
latency = options["latency"]
sandbox = Sandbox(
    SandboxConfig(rate_limit=options["rate_limit"], balance=Decimal(10**9), delivery_delay=0.0),
    faults=Faults(seed=1, latency=tuple(latency) if latency else None),
)
run(sandbox, "127.0.0.1", 0, ready=lambda server: print(server.port, flush=True))
"""


class SandboxProcess:
    """The sandbox's HTTP server on loopback in a process of its own (strict rate check).

    Args:
        rate_limit: the strict sliding-window cap per token and second.
        latency: ``(low, high)`` seconds every send waits before its answer.
    """

    def __init__(self, *, rate_limit: int = 9, latency: tuple[float, float] | None = None) -> None:
        self.options = {"rate_limit": rate_limit, "latency": list(latency) if latency else None}
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The server's base URL (always 127.0.0.1)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and read its port."""
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SANDBOX, json.dumps(self.options)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=subprocess_env(),
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.isdigit():
            self.stop()
            raise RuntimeError(f"the sandbox server did not start (said {line!r})")
        self.port = int(line)

    def stop(self) -> None:
        """Stop it (Ctrl-C, then a kill if it lingers)."""
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    async def account(self, token: str) -> dict[str, Any]:
        """``/_sandbox/stats`` of one token: arrivals, 429s, densest window, statuses."""
        async with httpx.AsyncClient(base_url=self.url, timeout=60) as client:
            response = await client.get("/_sandbox/stats")
        response.raise_for_status()
        empty = {"arrivals": 0, "rate_limited": 0, "densest_window": 0, "statuses": {}}
        accounts: dict[str, Any] = response.json()["accounts"]
        return accounts.get(account_hash(token), empty)

    async def messages(self, token: str) -> list[dict[str, Any]]:
        """Every message the token got accepted (phone, accepted_at, ...)."""
        async with httpx.AsyncClient(base_url=self.url, timeout=120) as client:
            response = await client.get("/_sandbox/messages")
        response.raise_for_status()
        key = account_hash(token)
        return [m for m in response.json()["messages"] if m["account"] == key]


def request_times(messages: Sequence[dict[str, Any]]) -> list[float]:
    """Arrival times of the accepted sends (all messages of a request share one)."""
    return sorted({message["accepted_at"] for message in messages})


def steady_rate(times: Sequence[float], *, skip: float = 0.5) -> tuple[float, float]:
    """``(requests per second, span)`` after the first ``skip`` seconds: (n - 1) / span."""
    inside = [t for t in sorted(times) if t >= times[0] + skip]
    span = inside[-1] - inside[0] if len(inside) > 1 else 0.0
    return ((len(inside) - 1) / span if span else 0.0), span


# ------------------------------------------------------------------ the worker processes


class WorkerPool:
    """Worker processes (``_taskiq_worker.py``), each a taskiq receiver on the Redis queue.

    Args:
        count: how many processes.
        config: what each is given (see ``_taskiq_worker.py``).
    """

    def __init__(self, count: int, config: dict[str, Any]) -> None:
        self.count = count
        self.config = config
        self.processes: list[subprocess.Popen[str]] = []
        self.killed: set[int] = set()
        self.outputs: dict[int, tuple[str, str]] = {}

    async def start(self) -> None:
        """Start the processes and wait until every one listens."""
        for _ in range(self.count):
            self.processes.append(
                subprocess.Popen(  # noqa: ASYNC220 - returns at once; the waits run in threads
                    [sys.executable, "-m", "tests.workers._taskiq_worker", json.dumps(self.config)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd=ROOT,
                    env=subprocess_env(),
                )
            )
        for process in self.processes:
            assert process.stdout is not None
            async with asyncio.timeout(30):
                line = await asyncio.to_thread(process.stdout.readline)
            if line.strip() != "ready":
                await self.stop()
                raise AssertionError(
                    f"worker {process.pid} did not start: {line!r}; {self.outputs[process.pid][1]}"
                )

    @property
    def pids(self) -> list[int]:
        """The processes' ids."""
        return [process.pid for process in self.processes]

    def kill(self, pid: int) -> None:
        """SIGKILL one worker: no cleanup, no record of what it was doing."""
        os.kill(pid, signal.SIGKILL)
        self.killed.add(pid)

    async def stop(self) -> None:
        """SIGTERM the live workers (they finish cleanly) and collect everyone's output."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                out, err = await asyncio.to_thread(process.communicate, timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                out, err = await asyncio.to_thread(process.communicate)
            self.outputs[process.pid] = (out, err)

    def reports(self) -> dict[int, dict[str, Any]]:
        """Per live worker: its finished jobs and its final counters (after :meth:`stop`)."""
        reports: dict[int, dict[str, Any]] = {}
        for process in self.processes:
            if process.pid in self.killed:
                continue
            out, err = self.outputs[process.pid]
            assert process.returncode == 0, (
                f"worker {process.pid} exited {process.returncode}: {err}"
            )
            lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
            jobs = [line["job"] for line in lines if "job" in line]
            finals = [line["final"] for line in lines if "final" in line]
            assert finals, f"worker {process.pid} printed no final counters: {err}"
            reports[process.pid] = {"jobs": jobs, **finals[0]}
        return reports

    async def __aenter__(self) -> WorkerPool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if not self.outputs:
            await self.stop()
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                if process.poll() is None:
                    process.kill()
