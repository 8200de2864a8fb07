"""The benchmarks run: each script with ``--quick --json`` emits the keys the README uses.

No timing is asserted (the machine is shared and noisy); only that every script runs
to the end on tiny sizes and prints one valid JSON document.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.loopback, pytest.mark.slow]

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

EXPECTED = {
    "bench_rate.py": ["requests_per_run", "variants"],
    "bench_bulk.py": ["sizes"],
    "bench_peers.py": ["peers", "fastest_without_429"],
    "bench_cpu.py": ["cpu_us_per_request", "ratios"],
    "bench_tokens.py": ["variants", "cap"],
    "bench_decode.py": ["us_per_call", "speedup_vs_json_loads_walk"],
    "bench_memory.py": ["rows", "send_iter_growth_mb"],
    "bench_journal.py": ["rate", "cpu", "memory"],
}


def run_quick(script: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    document: dict[str, Any] = json.loads(completed.stdout)
    return document


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_benchmark_runs_quick_and_emits_json(script: str) -> None:
    """Each benchmark finishes on tiny sizes and prints its results as JSON."""
    document = run_quick(script)
    for key in ["benchmark", "quick", "machine", "goal", "goal_met", *EXPECTED[script]]:
        assert key in document, f"{script}: no {key!r} in its JSON"
    assert document["quick"] is True
    assert isinstance(document["goal_met"], bool)
    assert {"cpu", "cores", "python", "date"} <= document["machine"].keys()
