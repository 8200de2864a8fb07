"""Redis limiter: do 1, 2, 4 and 8 processes sharing a token hold 9/s together?

Each run starts N worker processes (this script with ``--worker``), each running
``--coroutines`` coroutines that call ``RedisLimiter.acquire()`` in a loop for
``--duration`` seconds at rate 9, recording ``time.monotonic()`` after every
admission (CLOCK_MONOTONIC: one clock for every process on Linux). The parent merges
the times and reports:

* the densest one-second window (goal: <= 9);
* the tightest span of 10 consecutive admissions (> 1 s means the cap held; the
  excess over 1 s is the slack left to absorb admission-to-wire jitter);
* the combined rate over the steady part, (n - 1) / span of the admissions from
  0.5 s after the start to the end (goal: >= 95 % of 9);
* the admissions of the busiest and the idlest process (fairness);
* the slots forfeited because their caller woke up too late (``late_slots``).

A throw-away ``redis-server`` is started on a free loopback port unless ``--url``
is given (``scripts/ensure-redis-server.sh`` installs one), and used once it is past
the limiter's start-up quarantine.

    python benchmarks/bench_redis_limiter.py [--duration 10] [--processes 1 2 4 8]
        [--coroutines 5] [--rate 9] [--url redis://...] [--json] [--quick]
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import _harness as h

GOAL_SHARE = 0.95
WARMUP = 0.5


# --- the worker -------------------------------------------------------------------


async def worker(url: str, token: str, rate: int, coroutines: int, duration: float) -> None:
    """Acquire in a loop from ``start`` (read from stdin) for ``duration``; print times."""
    from smsclub_async.redis import RedisLimiter  # noqa: PLC0415 - only the workers need it

    times: list[float] = []
    async with RedisLimiter.from_url(url, token=token, rate=rate) as limiter:
        await limiter.acquire()  # connects and loads the script; not counted
        print("ready", flush=True)
        start = float(await asyncio.to_thread(sys.stdin.readline))
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        deadline = start + duration

        async def run() -> None:
            while time.monotonic() < deadline:
                await limiter.acquire()
                times.append(time.monotonic())

        await asyncio.gather(*(run() for _ in range(coroutines)))
    print(json.dumps({"times": times, "late_slots": limiter.late_slots}), flush=True)


# --- the parent -------------------------------------------------------------------


@contextmanager
def redis_at(url: str | None) -> Iterator[str]:
    """The Redis at ``url`` (``--url``), or a throw-away one started here."""
    if url is not None:
        yield url
        return
    with redis_server() as started:
        yield started


@contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server on a free loopback port, without persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: run scripts/ensure-redis-server.sh or --url")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def wait_until_ready(url: str, min_uptime: int) -> None:
    """Wait until Redis answers and has been up long enough to grant slots at once."""
    import redis  # noqa: PLC0415

    deadline = time.monotonic() + 30
    while True:
        try:
            with redis.Redis.from_url(url, socket_timeout=1) as client:
                info: dict[str, Any] = client.info("server")
                if int(info["uptime_in_seconds"]) >= min_uptime:
                    return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"Redis at {url} is not ready")
        time.sleep(0.1)


def run_processes(
    url: str, processes: int, coroutines: int, rate: int, duration: float
) -> tuple[float, list[dict[str, Any]]]:
    """Start the workers, release them together; return (start, each worker's report)."""
    token = h.unique_token(f"redis-{processes}p")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(h.ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable,
        __file__,
        "--worker",
        url,
        token,
        str(rate),
        str(coroutines),
        str(duration),
    ]
    workers = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(processes)
    ]
    try:
        for worker_process in workers:
            assert worker_process.stdout is not None
            if worker_process.stdout.readline().strip() != "ready":
                raise SystemExit("a worker failed to start")
        # Release every worker before waiting for any (communicate() waits for exit).
        start = time.monotonic() + 0.2
        for worker_process in workers:
            assert worker_process.stdin is not None
            worker_process.stdin.write(f"{start}\n")
            worker_process.stdin.flush()
        outputs = [w.communicate(timeout=duration + 60)[0] for w in workers]
    finally:
        for worker_process in workers:
            if worker_process.poll() is None:
                worker_process.kill()
                worker_process.communicate()
    return start, [json.loads(output) for output in outputs]


def densest_window(times: Sequence[float], width: float = 1.0) -> int:
    """The most admissions any closed window ``[t, t + width]`` holds."""
    ordered = sorted(times)
    best = first = 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] > width:
            first += 1
        best = max(best, last - first + 1)
    return best


def tightest_span(times: Sequence[float], count: int) -> float | None:
    """The shortest time ``count`` consecutive admissions took."""
    ordered = sorted(times)
    spans = [ordered[i + count - 1] - ordered[i] for i in range(len(ordered) - count + 1)]
    return min(spans) if spans else None


def steady_rate(times: Sequence[float], start: float, end: float) -> float:
    """(n - 1) / span of the admissions between ``start`` and ``end``."""
    inside = sorted(t for t in times if start <= t <= end)
    if len(inside) < 2:
        return 0.0
    return (len(inside) - 1) / (inside[-1] - inside[0])


def measure(
    url: str, processes: int, coroutines: int, rate: int, duration: float
) -> dict[str, Any]:
    """One run of ``processes`` x ``coroutines`` at ``rate`` for ``duration`` seconds."""
    start, reports = run_processes(url, processes, coroutines, rate, duration)
    per_process: list[list[float]] = [report["times"] for report in reports]
    times = [t for one in per_process for t in one]
    combined = steady_rate(times, start + WARMUP, start + duration)
    span = tightest_span(times, rate + 1)
    return {
        "processes": processes,
        "coroutines": coroutines,
        "admissions": len(times),
        "densest_window": densest_window(times),
        "tightest_span": round(span, 4) if span is not None else None,
        "combined_rate": round(combined, 3),
        "share_of_cap": round(combined / rate, 4),
        "busiest_process": max(len(one) for one in per_process),
        "idlest_process": min(len(one) for one in per_process),
        "late_slots": sum(report["late_slots"] for report in reports),
        "cap_held": densest_window(times) <= rate,
        "goal_met": densest_window(times) <= rate and combined >= GOAL_SHARE * rate,
    }


def render(document: dict[str, Any]) -> str:
    rate = document["rate"]
    lines = [
        f"Redis limiter, rate {rate}/s, {document['duration']} s per run,"
        f" {document['coroutines']} coroutines per process",
        f"{'procs':>5} {'admitted':>8} {'densest 1s':>10} {f'tightest {rate + 1}':>12}"
        f" {'rate/s':>7} {'of cap':>7} {'per proc':>10} {'late':>5}  goal",
    ]
    for run in document["runs"]:
        lines.append(
            f"{run['processes']:>5} {run['admissions']:>8} {run['densest_window']:>10}"
            f" {run['tightest_span']!s:>12} {run['combined_rate']:>7.3f}"
            f" {run['share_of_cap']:>7.1%} {run['idlest_process']:>4}-{run['busiest_process']:<5}"
            f" {run['late_slots']:>5}  {h.ok(run['goal_met'])}"
        )
    lines.append(f"goal: densest window <= {rate} and >= {GOAL_SHARE:.0%} of the cap")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        url, token, rate, coroutines, seconds = sys.argv[2:7]
        asyncio.run(worker(url, token, int(rate), int(coroutines), float(seconds)))
        return
    cli = h.parser(__doc__.splitlines()[0] if __doc__ else "Redis limiter benchmark")
    cli.add_argument("--duration", type=float, default=None, help="seconds per run (10)")
    cli.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4, 8])
    cli.add_argument("--coroutines", type=int, default=5, help="per process")
    cli.add_argument("--rate", type=int, default=h.CAP)
    cli.add_argument("--url", default=None, help="an existing Redis (default: start one)")
    args = cli.parse_args()
    duration = args.duration or (3.0 if args.quick else 10.0)

    from smsclub_async.redis import DEFAULT_HORIZON  # noqa: PLC0415

    runs = []
    with redis_at(args.url) as url:
        h.log(args, f"waiting for Redis at {url} to be past its start-up quarantine")
        wait_until_ready(url, int(DEFAULT_HORIZON) + 2)
        for processes in args.processes:
            h.log(args, f"{processes} process(es) x {args.coroutines} coroutines, {duration} s")
            runs.append(measure(url, processes, args.coroutines, args.rate, duration))
    h.emit(
        "redis_limiter",
        args,
        {"rate": args.rate, "duration": duration, "coroutines": args.coroutines, "runs": runs},
        render,
    )


if __name__ == "__main__":
    main()
