"""Several processes claiming the same numbers in one journal at the same moment."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.redis._redis_support import RedisServer
from tests.workers._support import ROOT, subprocess_env

pytestmark = pytest.mark.slow


def claim_in_processes(spec: dict[str, str], count: int = 3) -> list[list[str]]:
    """Start ``count`` claimers that begin together; what each claimed."""
    start = time.time() + 1.5  # past every interpreter's start-up
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.journal._claimer", json.dumps(spec), repr(start), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=subprocess_env(),
        )
        for n in range(count)
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        outputs.append(json.loads(out))
    return outputs


def check_disjoint(claimed: list[list[str]]) -> None:
    everything = [phone for fresh in claimed for phone in fresh]
    assert len(everything) == len(set(everything)), "a number was claimed twice"
    assert len(everything) == 1000  # 20 windows of 100 from 3 offsets cover all 1000


def test_processes_share_one_sqlite_file(tmp_path: Path) -> None:
    """Three processes on one SQLite file: each number claimed by exactly one."""
    check_disjoint(claim_in_processes({"sqlite": str(tmp_path / "j.db")}))


@pytest.mark.redis
def test_processes_share_one_redis(redis_server: RedisServer) -> None:
    """Three processes on one Redis: each number claimed by exactly one."""
    spec = {"redis": redis_server.url, "prefix": f"test:{uuid.uuid4().hex}:"}
    check_disjoint(claim_in_processes(spec))
