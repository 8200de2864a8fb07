"""Run every benchmark of issue 5, each in its own process, and print a summary.

Quick mode (tiny sizes, well under a minute) by default; ``--full`` runs the real
sizes (about half an hour: the rate-limited ones take as long as the limit says).

    python benchmarks/run_all.py [--full] [--json] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "bench_rate.py",
    "bench_bulk.py",
    "bench_peers.py",
    "bench_cpu.py",
    "bench_tokens.py",
    "bench_decode.py",
    "bench_memory.py",
]


def run(script: str, *, full: bool) -> dict[str, Any]:
    """Run one benchmark with ``--json`` (and ``--quick`` unless ``full``)."""
    command = [sys.executable, str(HERE / script), "--json"]
    if not full:
        command.append("--quick")
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        return {"script": script, "error": completed.stderr[-2000:], "elapsed_s": elapsed}
    result: dict[str, Any] = json.loads(completed.stdout)
    result["elapsed_s"] = round(elapsed, 1)
    return result


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--full", action="store_true", help="the real sizes, not quick ones")
    cli.add_argument("--json", action="store_true", help="print every result as JSON")
    cli.add_argument("--out", type=Path, help="also write the results to this file")
    args = cli.parse_args()
    results = []
    for script in SCRIPTS:
        print(f"running {script} ...", file=sys.stderr, flush=True)
        results.append(run(script, full=args.full))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for result in results:
            name = result.get("benchmark", result.get("script"))
            if "error" in result:
                print(f"{name:8} FAILED: {result['error'].strip().splitlines()[-1:]}")
            else:
                verdict = "met" if result["goal_met"] else "NOT met"
                print(f"{name:8} goal {verdict:8} ({result['elapsed_s']} s)")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
