"""Shared pieces of the benchmarks: a sandbox server in another process, statistics, output.

The server runs as ``python -c`` calling :func:`smsclub_async.sandbox.run` on a free
port (``port=0``; the real port comes back on its stdout), so the client being measured
has the event loop and the CPU time of its own process to itself. Its statistics are
read from ``/_sandbox/stats`` afterwards.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from smsclub_async import LocalLimiter
from smsclub_async.sandbox import densest_window

ROOT = Path(__file__).resolve().parent.parent
SENDER = "VashZakaz"
CAP = 9  # requests per second per token at the gateway
PER_REQUEST = 100  # numbers per request

_SERVER = """
import signal, gc, json, sys
# Stopped with SIGINT: take it even if started with SIGINT ignored (a background job).
signal.signal(signal.SIGINT, signal.default_int_handler)
from decimal import Decimal
from smsclub_async.sandbox import Faults, Sandbox, SandboxConfig, run

options = json.loads(sys.argv[1])
if not options["gc"]:
    gc.disable()  # no collector pauses while it stores every accepted message
latency = options["latency"]
sandbox = Sandbox(
    SandboxConfig(
        rate_limit=options["rate_limit"],
        balance=Decimal(options["balance"]),
        delivery_delay=0.0,
        duplicate_window=options["duplicate_window"],
    ),
    faults=Faults(seed=options["seed"], latency=tuple(latency) if latency else None, scope="all"),
)
run(sandbox, "127.0.0.1", 0, ready=lambda server: print(server.port, flush=True))
"""


class SandboxProcess:
    """A sandbox HTTP server in a child process, for the duration of a ``with`` block.

    Args:
        rate_limit: the server's strict sliding-window cap per token (``None``: off).
        latency: ``(low, high)`` seconds of random latency on every answer, or ``None``.
        balance: each account's balance (large, so that no send runs out of money).
        duplicate_window: seconds of the 453 duplicate rule (0 turns it off).
        seed: the faults' random seed.
        gc: leave the server's garbage collector on. It stores every accepted message;
            with many stored, a collection pauses it for tens of milliseconds, and the
            requests that wait are stamped late (arrival = when it reads them).
    """

    def __init__(
        self,
        *,
        rate_limit: int | None = CAP,
        latency: tuple[float, float] | None = None,
        balance: str = "1000000000",
        duplicate_window: float = 120.0,
        seed: int = 1,
        gc: bool = True,
    ) -> None:
        self.options = {
            "rate_limit": rate_limit,
            "latency": list(latency) if latency else None,
            "balance": balance,
            "duplicate_window": duplicate_window,
            "seed": seed,
            "gc": gc,
        }
        self._process: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self._process is not None
        return self._process.pid

    def __enter__(self) -> SandboxProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SERVER, json.dumps(self.options)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.isdigit():
            self.__exit__()
            raise RuntimeError(f"the sandbox server did not start (said {line!r})")
        self.port = int(line)
        return self

    def __exit__(self, *exc_info: object) -> None:
        process, self._process = self._process, None
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

    def stats(self) -> dict[str, Any]:
        """``/_sandbox/stats``: ``total`` and ``accounts`` (by token hash)."""
        response = httpx.get(f"{self.url}/_sandbox/stats", timeout=60)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def account_stats(self, token: str) -> dict[str, Any]:
        """The server's statistics of one token (empty counts if it never arrived)."""
        empty = {"arrivals": 0, "rate_limited": 0, "densest_window": 0, "statuses": {}}
        accounts: dict[str, Any] = self.stats()["accounts"]
        return accounts.get(account_hash(token), empty)

    def arrival_times(self, token: str) -> list[float]:
        """Arrival times of the token's accepted sends (from the accepted messages)."""
        response = httpx.get(f"{self.url}/_sandbox/messages", timeout=120)
        response.raise_for_status()
        key = account_hash(token)
        return sorted(
            {m["accepted_at"] for m in response.json()["messages"] if m["account"] == key}
        )

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far."""
        return process_cpu(self.pid)


class RecordingLimiter(LocalLimiter):
    """A :class:`LocalLimiter` that also keeps every time it logged (for the report).

    With httpx's transport those are the wire times httpcore reported; with a
    transport that does not trace, the admission times the limiter fell back on. The
    densest window of these times is what the client *believes* it sent.
    """

    __slots__ = ("checks", "logged", "polls")

    def __init__(self, rate: int = CAP) -> None:
        super().__init__(rate)
        self.logged: list[float] = []
        self.checks = 0  # window checks made while admitting
        self.polls = 0  # of which "look again in 1 ms": the deciding request not yet sent

    def _wait_needed(self, now: float) -> float:
        wait = super()._wait_needed(now)
        self.checks += 1
        self.polls += wait == 0.001  # the limiter's fixed re-check interval
        return wait

    def _record(self, when: float) -> None:
        self.logged.append(when)
        super()._record(when)

    def densest(self) -> int:
        """The most logged times in any one-second window."""
        return densest_window(self.logged, 1.0)


def process_cpu(pid: int) -> float:
    """CPU seconds of a running process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def account_hash(token: str) -> str:
    """The sandbox's name for a token's account (as in its statistics)."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def unique_token(label: str) -> str:
    """A token no earlier run in this process used (each gets a fresh limiter)."""
    return f"bench-{label}-{time.monotonic_ns()}"


def phones(count: int, start: int = 0, prefix: str = "380") -> Iterator[str]:
    """``count`` distinct valid 12-digit numbers."""
    for i in range(start, start + count):
        yield f"{prefix}{i:09d}"


def chunks(items: Sequence[str], size: int = PER_REQUEST) -> list[list[str]]:
    """Split a list into lists of at most ``size``."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def summary(values: Sequence[float], digits: int = 4) -> dict[str, Any]:
    """Median, min, max and the spread ((max - min) / median) of repeated runs."""
    median = statistics.median(values)
    spread = (max(values) - min(values)) / median if median else 0.0
    return {
        "median": round(median, digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "spread": round(spread, 3),
        "runs": [round(v, digits) for v in values],
    }


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = platform.processor() or "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "httpx": _version("httpx"),
        "httpcore": _version("httpcore"),
        "aiohttp": _version("aiohttp"),
        "httpx_aiohttp": _version("httpx-aiohttp"),
        "date": datetime.date.today().isoformat(),
        "commit": commit(),
    }


def commit() -> str:
    """The library's commit (``BENCH_COMMIT`` for a snapshot), ``+dirty`` if edited."""
    if os.environ.get("BENCH_COMMIT"):
        return os.environ["BENCH_COMMIT"]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "smsclub_async"],
            check=False,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty else "")


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def aiohttp_transport(max_connections: int = 10) -> Any:
    """An httpx transport backed by aiohttp (``httpx-aiohttp``), or ``None`` if missing."""
    try:
        from httpx_aiohttp import AiohttpTransport  # noqa: PLC0415
    except ImportError:
        return None
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=10)
    return AiohttpTransport(limits=limits)


def has_aiohttp() -> bool:
    """Whether aiohttp and httpx-aiohttp are installed (optional benchmark variants)."""
    try:
        import aiohttp  # noqa: F401, PLC0415
        import httpx_aiohttp  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes."""
    cli = argparse.ArgumentParser(description=description)
    cli.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    cli.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    cli.add_argument("--reps", type=int, default=None, help="repetitions (default per script)")
    return cli


def emit(
    name: str,
    args: argparse.Namespace,
    results: dict[str, Any],
    render: Callable[[dict[str, Any]], str],
) -> None:
    """Print the results: JSON with ``--json``, else a human-readable table."""
    document = {"benchmark": name, "quick": args.quick, "machine": machine(), **results}
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print(render(document))


def log(args: argparse.Namespace, message: str) -> None:
    """Progress on stderr (never mixed into the JSON on stdout)."""
    if not args.json or os.environ.get("BENCH_VERBOSE"):
        print(message, file=sys.stderr, flush=True)


def ok(value: bool) -> str:
    """A goal's verdict for tables."""
    return "met" if value else "NOT met"


def run_workers(
    script: str, options: Sequence[dict[str, Any]], *, timeout: float
) -> list[dict[str, Any]]:
    """Start ``script --worker JSON`` once per options, wait until every worker says
    ``ready``, release them all at the same moment, and return each one's last JSON
    line (workers still running after ``timeout`` seconds are killed)."""
    workers = [
        subprocess.Popen(
            [sys.executable, script, "--worker", json.dumps(option)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for option in options
    ]
    try:
        for process in workers:
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise SystemExit("a worker failed to start")
        start = time.monotonic() + 0.3
        for process in workers:
            assert process.stdin is not None
            process.stdin.write(f"{start}\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=timeout)[0] for process in workers]
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return [json.loads(output.strip().splitlines()[-1]) for output in outputs]

