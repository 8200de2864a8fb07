"""Several processes sharing one token through Redis hold the cap together.

Each worker process (``_redis_worker.py``) runs coroutines that acquire in a loop
and record ``time.monotonic()`` after every admission; CLOCK_MONOTONIC is one clock
for the whole machine on Linux, so the parent can merge the times and judge them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ._redis_support import TEST_HORIZON, RedisServer
from ._redis_timing import densest_window, steady_rate, tightest_span

pytestmark = [pytest.mark.redis, pytest.mark.slow]

WORKER = Path(__file__).with_name("_redis_worker.py")
ROOT = Path(__file__).parents[2]


def run_workers(
    url: str, token: str, *, processes: int, coroutines: int, rate: int, duration: float
) -> tuple[float, list[list[float]]]:
    """Start the workers, release them together; return (start, times per process)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    arguments = [url, token, str(rate), str(coroutines), str(duration), str(TEST_HORIZON)]
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        for _ in range(processes)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = worker.stdout.readline()
            assert line.strip() == "ready", f"worker did not start: {line!r}"
        # Release every worker before waiting for any (communicate() waits for exit).
        start = time.monotonic() + 0.1
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(f"{start}\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=duration + 30) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
    per_process: list[list[float]] = []
    for worker, (stdout, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr
        per_process.append(json.loads(stdout))
    return start, per_process


@pytest.mark.parametrize(
    ("rate", "duration"),
    [(30, 4.0), (9, 2.5)],
    ids=["rate-30-for-4s", "rate-9-for-2.5s"],
)
def test_four_processes_of_five_coroutines_hold_the_cap_together(
    redis_server: RedisServer, token: str, rate: int, duration: float
) -> None:
    """4 processes x 5 coroutines: densest 1 s window <= rate, >= 95 % of the cap.

    Every process gets a fair part of the slots (at least half of an equal share).
    """
    start, per_process = run_workers(
        redis_server.url, token, processes=4, coroutines=5, rate=rate, duration=duration
    )
    times = [t for one in per_process for t in one]
    end = start + duration
    densest = densest_window(times)
    combined = steady_rate(times, start + 0.2, end)
    print(
        f"rate {rate}: {len(times)} admissions, densest 1 s window {densest},"
        f" tightest {rate + 1} admissions {tightest_span(times, rate + 1):.4f} s,"
        f" combined {combined:.2f}/s ({combined / rate:.1%} of the cap),"
        f" per process {[len(one) for one in per_process]}"
    )
    assert densest <= rate
    assert combined >= 0.95 * rate
    assert min(times) >= start
    assert min(len(one) for one in per_process) >= 0.5 * len(times) / 4
