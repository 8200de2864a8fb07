"""7. Peak memory as the job grows: ``send_iter`` and ``send`` over 10k to 1M recipients.

Each size runs in a fresh subprocess; the figure is its peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``), next to the RSS after imports and
client set-up (the baseline). Numbers come from a generator, so only the client holds
them. The rate limit is raised (``rate_limit=100000``) so nothing waits.

The gateway is a tiny canned ``httpx.MockTransport`` that answers every send with an
id per number: the sandbox stores every accepted message (its memory grows with the
job), which would hide the client's, and it cannot be told not to.

* ``send_iter``: results consumed and dropped chunk by chunk; grows only by the
  de-duplication set (about 16 bytes per distinct number).
* ``send_iter_unique``: the same with ``deduplicate=False`` (input already unique):
  should be flat.
* ``send``: one merged result (id -> phone for every recipient); grows with it.

Goal: ``send_iter``'s peak at 1M within 20 MB of its peak at 10k.

    python benchmarks/bench_memory.py [--sizes 10000,100000,1000000] [--json] [--quick]
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _harness as h
import httpx
import msgspec

from smsclub_async import SmsClub

HIGH_RATE = 100_000
_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class _Gateway:
    """Answers each send with a fresh id per number, keeping nothing."""

    def __init__(self) -> None:
        self.next_id = 1_000_000

    def __call__(self, request: httpx.Request) -> httpx.Response:
        numbers = _decoder.decode(request.content)["phone"]
        info = {}
        for number in numbers:
            info[str(self.next_id)] = number
            self.next_id += 1
        body = _encoder.encode({"success_request": {"info": info}})
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})


def _numbers(count: int) -> Iterator[str]:
    for i in range(count):
        yield f"380{i:09d}"


async def child(mode: str, size: int) -> dict[str, Any]:
    """Measure one mode and size in this (fresh) process."""
    transport = httpx.MockTransport(_Gateway())
    token = h.unique_token("memory")
    async with SmsClub(token, transport=transport, rate_limit=HIGH_RATE) as sms:
        await sms.send(["380999999999"], "warm up", sender=h.SENDER)
        baseline = _peak_mb()
        started = time.perf_counter()
        if mode in ("send_iter", "send_iter_unique"):
            sent = 0
            stream = sms.send_iter(
                _numbers(size), "memory", sender=h.SENDER, deduplicate=mode == "send_iter"
            )
            async for part in stream:
                sent += len(part.sent)
        else:
            result = await sms.send(_numbers(size), "memory", sender=h.SENDER)
            sent = len(result.sent)
        wall = time.perf_counter() - started
    return {
        "mode": mode,
        "recipients": size,
        "sent": sent,
        "baseline_mb": round(baseline, 1),
        "peak_mb": round(_peak_mb(), 1),
        "wall_s": round(wall, 2),
    }


def run_child(mode: str, size: int) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter and return what it measured."""
    script = str(Path(__file__).resolve())
    out = subprocess.run(
        [sys.executable, script, "--child", mode, str(size)],
        capture_output=True,
        text=True,
        check=True,
        cwd=h.ROOT,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(asyncio.run(child(sys.argv[2], int(sys.argv[3])))))
        return
    cli = h.parser(__doc__.splitlines()[0])
    cli.add_argument("--sizes", default=None)
    cli.add_argument("--modes", default="send_iter,send_iter_unique,send")
    args = cli.parse_args()
    sizes = [
        int(s)
        for s in (args.sizes or ("1000,5000" if args.quick else "10000,100000,1000000")).split(",")
    ]
    reps = args.reps or 1
    rows = []
    for mode in args.modes.split(","):
        for size in sizes:
            runs = []
            for rep in range(reps):
                h.log(args, f"memory: {mode} {size}, run {rep + 1}/{reps}")
                runs.append(run_child(mode, size))
            rows.append(
                {
                    "mode": mode,
                    "recipients": size,
                    "peak_mb": h.summary([r["peak_mb"] for r in runs], 1),
                    "baseline_mb": h.summary([r["baseline_mb"] for r in runs], 1),
                    "wall_s": h.summary([r["wall_s"] for r in runs], 2),
                    "all_sent": all(r["sent"] == size for r in runs),
                }
            )
    iter_rows = [r for r in rows if r["mode"] == "send_iter"]
    growth = None
    if len(iter_rows) >= 2:
        growth = round(iter_rows[-1]["peak_mb"]["median"] - iter_rows[0]["peak_mb"]["median"], 1)
    results = {
        "repetitions": reps,
        "rows": rows,
        "send_iter_growth_mb": growth,
        "goal": {"send_iter_growth_mb_max": 20},
        "goal_met": growth is not None and growth <= 20,
    }
    h.emit("memory", args, results, _render)


def _render(doc: dict[str, Any]) -> str:
    lines = [
        "peak RSS (MB) by job size, fresh process each",
        f"{'mode':10} {'recipients':>10} {'baseline':>9} {'peak':>8} {'wall s':>8}",
    ]
    for r in doc["rows"]:
        lines.append(
            f"{r['mode']:10} {r['recipients']:>10} {r['baseline_mb']['median']:>9.1f}"
            f" {r['peak_mb']['median']:>8.1f} {r['wall_s']['median']:>8.2f}"
        )
    lines.append(
        f"send_iter growth smallest -> largest: {doc['send_iter_growth_mb']} MB"
        f" (goal <= 20: {h.ok(doc['goal_met'])})"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
