"""8. What the send journal costs: rate, client CPU per request, memory (issue 15).

* ``rate``: ``send`` of N requests x 100 numbers through a ``SqliteJournal`` to a
  sandbox server in another process with its strict 9/s window (as bench_rate);
  reported from the server's records: sustained rate, densest window, 429s.
* ``cpu``: client CPU (``time.process_time()``, the journal's thread included) per
  100-number request against the sandbox with its rate limit off, 10 in flight.
  Variants: ``none`` (no key), ``sqlite`` (``SqliteJournal()`` as it comes:
  ``synchronous=NORMAL``), ``sqlite_full`` (``synchronous="FULL"``: an fsync per
  transaction), ``redis`` (``RedisJournal`` on a throw-away local redis-server, when
  installed); all with the default ``deduplicate=True``. ``none_repeats`` and
  ``sqlite_repeats`` send with ``deduplicate=False``, where the SQLite journal must
  index every number (a repeat is sent once). Interleaved: one client per variant,
  then ``--reps`` rounds (30) of ``--cpu-requests`` requests (100, one call with a
  fresh key) through every variant in turn, order rotating; a ratio is a variant
  over ``none`` (``none_repeats`` for ``*_repeats``): of the sums, and per round.
* ``memory``: the highest RSS (``VmRSS`` sampled every 50 ms; the process's own
  ``ru_maxrss`` is set by the imports, above what a send needs) of a fresh process
  sending 10k ... 1M recipients through a journal, reading them from a generator
  and dropping each result (as ``send_iter``), against a canned
  ``httpx.MockTransport`` gateway (as bench_memory).

The journal is put in as users do: ``SmsClub(journal=...)`` and ``send_iter(...,
key=...)``; the memory part sends with ``deduplicate=False`` (a deduplicating send
holds a set of the numbers seen, which is not the journal's memory).

Goals: rate >= 8.9/s with a journal (densest <= 9, no 429); client CPU per request
with the default journal (``sqlite``) <= 1.1x without; peak RSS at 1M within 20 MB of 10k.

    python benchmarks/bench_journal.py [--parts rate,cpu,memory] [--requests 300]
        [--cpu-requests 100] [--variants none,sqlite,...] [--sizes 10000,100000,1000000]
        [--reps 30] [--json] [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import _harness as h
import httpx
import msgspec

from smsclub_async import SendResult, SmsClub
from smsclub_async.journal import Journal, RedisJournal, SqliteJournal

HIGH_RATE = 100_000
CONCURRENCY = 10

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


# ------------------------------------------------------------------ sending


async def send_all(
    sms: SmsClub,
    phones: Any,
    text: str,
    journal: Journal | None,
    *,
    on_result: Callable[[SendResult], None],
    deduplicate: bool = True,
) -> None:
    """Send ``phones``, under a fresh key if ``journal``, handing each chunk's result on."""
    options: dict[str, Any] = {} if journal is None else {"key": f"bench-{uuid.uuid4().hex}"}
    stream: AsyncIterator[SendResult] = sms.send_iter(
        phones, text, sender=h.SENDER, deduplicate=deduplicate, **options
    )
    async for part in stream:
        on_result(part)


def client(token: str, journal: Journal | None, **options: Any) -> SmsClub:
    return SmsClub(token, journal=journal, **options)


# ------------------------------------------------------------------ rate


async def rate_run(requests: int, directory: Path) -> dict[str, Any]:
    token = h.unique_token("journal-rate")
    journal = SqliteJournal(directory / f"rate-{uuid.uuid4().hex}.db")
    with h.SandboxProcess(rate_limit=h.CAP) as server:
        sent = 0

        def count(part: SendResult) -> None:
            nonlocal sent
            sent += len(part.sent)

        async with client(token, journal, base_url=server.url) as sms:
            numbers = list(h.phones(requests * h.PER_REQUEST))
            started = time.perf_counter()
            await send_all(sms, numbers, "journal rate", journal, on_result=count)
            wall = time.perf_counter() - started
        await journal.aclose()
        stats = server.account_stats(token)
        times = server.arrival_times(token)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return {
        "requests": stats["arrivals"],
        "sent": sent,
        "wall_s": round(wall, 3),
        "rate_sustained": round((len(times) - 1) / span, 3) if span else None,
        "densest_window": stats["densest_window"],
        "rate_limited": stats["rate_limited"],
    }


# ------------------------------------------------------------------ cpu

CPU_VARIANTS = ("none", "sqlite", "sqlite_full", "redis", "none_repeats", "sqlite_repeats")


def _cpu_journal(variant: str, directory: Path, redis_client: Any) -> Journal | None:
    kind = variant.removesuffix("_repeats")
    if kind == "redis":
        return RedisJournal(redis_client, prefix=f"bench:{uuid.uuid4().hex}:")
    if kind == "none":
        return None
    path = directory / f"cpu-{uuid.uuid4().hex}.db"
    return SqliteJournal(path, synchronous="FULL" if kind == "sqlite_full" else "NORMAL")


def _baseline(variant: str) -> str:
    return "none_repeats" if variant.endswith("_repeats") else "none"


async def cpu_rounds(
    per_round: int,
    rounds: int,
    directory: Path,
    args: Any,
    redis_url: str | None,
    variants: list[str],
) -> dict[str, Any]:
    """CPU per request of each variant, interleaved: ``rounds`` rounds, each sending
    ``per_round`` requests (one call, a fresh key) through every variant in turn,
    the order rotating. One client per variant for the whole run, warmed up first.

    The machine's speed drifts by tens of per cent over seconds; short rounds side
    by side put every variant through the same drift, so the ratio of the sums (and
    the median of the per-round ratios) is steadier than long runs one after another.
    """
    import redis.asyncio  # noqa: PLC0415 - the redis extra is a dev dependency

    variants = [v for v in variants if not v.startswith("redis") or redis_url]
    redis_client = redis.asyncio.Redis.from_url(redis_url) if redis_url else None
    cpu: dict[str, list[float]] = {v: [] for v in variants}
    with h.SandboxProcess(rate_limit=None) as server:
        opened: dict[str, tuple[SmsClub, Journal | None]] = {}
        try:
            for variant in variants:
                journal = _cpu_journal(variant, directory, redis_client)
                sms = client(
                    h.unique_token(f"journal-cpu-{variant}"),
                    journal,
                    base_url=server.url,
                    rate_limit=HIGH_RATE,
                )
                await sms.__aenter__()
                opened[variant] = (sms, journal)
                warm = list(h.phones(20 * h.PER_REQUEST, prefix="381"))
                await send_all(sms, warm, "warm", journal, on_result=lambda part: None)
            for round_ in range(rounds):
                h.log(args, f"journal cpu: round {round_ + 1}/{rounds}")
                shift = round_ % len(variants)
                for variant in variants[shift:] + variants[:shift]:
                    sms, journal = opened[variant]
                    numbers = list(h.phones(per_round * h.PER_REQUEST, prefix=f"39{round_:03d}"))
                    started = time.process_time()
                    await send_all(
                        sms,
                        numbers,
                        "cpu",
                        journal,
                        on_result=lambda part: None,
                        deduplicate=not variant.endswith("_repeats"),
                    )
                    cpu[variant].append((time.process_time() - started) / per_round * 1e6)
        finally:
            for sms, journal in opened.values():
                await sms.__aexit__(None, None, None)
                if journal is not None:
                    await journal.aclose()
            if redis_client is not None:
                await redis_client.aclose()
    ratios: dict[str, Any] = {}
    for variant in variants:
        base = _baseline(variant)
        if variant.startswith("none") or base not in cpu:
            continue
        per = [a / b for a, b in zip(cpu[variant], cpu[base], strict=True)]
        ratios[variant] = {
            **h.summary(per, 3),
            "of_sums": round(sum(cpu[variant]) / sum(cpu[base]), 3),
        }
    return {
        "requests_per_round": per_round,
        "rounds": rounds,
        "cpu_us_per_request": {v: h.summary(values, 1) for v, values in cpu.items()},
        "ratios": ratios,
    }


# ------------------------------------------------------------------ memory


class _Gateway:
    """Answers each send with a fresh id per number, keeping nothing."""

    def __init__(self) -> None:
        self.next_id = 1_000_000

    def __call__(self, request: httpx.Request) -> httpx.Response:
        info = {}
        for number in _decoder.decode(request.content)["phone"]:
            info[str(self.next_id)] = number
            self.next_id += 1
        body = _encoder.encode({"success_request": {"info": info}})
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})


def _numbers(count: int) -> Iterator[str]:
    for i in range(count):
        yield f"380{i:09d}"


def _size_mb(path: str) -> float:
    return Path(path).stat().st_size / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _rss_mb() -> float:
    """The resident set size now (``VmRSS``), not the peak since start-up."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _Sampler:
    """The highest RSS seen, sampled every 50 ms while a send runs.

    The process's own peak (``ru_maxrss``) is set at start-up by the imports, above
    what a send needs, so it hides growth; samples do not.
    """

    def __init__(self) -> None:
        self.highest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.highest = max(self.highest, _rss_mb())
            await asyncio.sleep(0.05)

    def __enter__(self) -> _Sampler:
        self._task = asyncio.ensure_future(self._run())
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.highest = max(self.highest, _rss_mb())
        if self._task is not None:
            self._task.cancel()


async def memory_child(size: int, path: str) -> dict[str, Any]:
    """One size in this (fresh) process."""
    journal = SqliteJournal(path)
    transport = httpx.MockTransport(_Gateway())
    token = h.unique_token("journal-memory")
    sent = 0

    def count(part: SendResult) -> None:
        nonlocal sent
        sent += len(part.sent)

    async with client(token, journal, transport=transport, rate_limit=HIGH_RATE) as sms:
        await send_all(
            sms, ["380999999999"], "warm up", journal, on_result=lambda p: None, deduplicate=False
        )
        baseline = _rss_mb()
        started = time.perf_counter()
        with _Sampler() as sampler:
            await send_all(
                sms, _numbers(size), "memory", journal, on_result=count, deduplicate=False
            )
        wall = time.perf_counter() - started
    await journal.aclose()
    return {
        "recipients": size,
        "sent": sent,
        "baseline_mb": round(baseline, 1),
        "peak_mb": round(sampler.highest, 1),
        "process_peak_mb": round(_peak_mb(), 1),
        "wall_s": round(wall, 2),
        "journal_mb": round(await asyncio.to_thread(_size_mb, path), 1),
    }


def memory_sizes(sizes: list[int], directory: Path, args: Any) -> dict[str, Any]:
    rows = []
    for size in sizes:
        h.log(args, f"journal memory: {size}")
        path = directory / f"memory-{size}.db"
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", str(size), str(path)],
            capture_output=True,
            text=True,
            check=True,
            cwd=h.ROOT,
        ).stdout
        rows.append(json.loads(out))
    growth = round(rows[-1]["peak_mb"] - rows[0]["peak_mb"], 1) if len(rows) > 1 else None
    return {"rows": rows, "growth_mb": growth}


# ------------------------------------------------------------------ main


async def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(await memory_child(int(sys.argv[2]), sys.argv[3])))
        return
    cli = h.parser(__doc__.splitlines()[0])
    cli.add_argument("--parts", default="rate,cpu,memory")
    cli.add_argument("--requests", type=int, default=None)
    cli.add_argument("--cpu-requests", type=int, default=None)
    cli.add_argument("--sizes", default=None)
    cli.add_argument("--no-redis", action="store_true", help="skip the RedisJournal variant")
    cli.add_argument("--variants", default=",".join(CPU_VARIANTS))
    args = cli.parse_args()
    parts = args.parts.split(",")
    results: dict[str, Any] = {}
    goals: list[bool] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        if "rate" in parts:
            requests = args.requests or (12 if args.quick else 300)
            h.log(args, f"journal rate: {requests} requests")
            run = await rate_run(requests, directory)
            met = (
                (run["rate_sustained"] or 0) >= 8.9
                and run["densest_window"] <= h.CAP
                and run["rate_limited"] == 0
            )
            results["rate"] = {**run, "goal_met": met}
            goals.append(met)
        if "cpu" in parts:
            requests = args.cpu_requests or (10 if args.quick else 100)
            rounds = args.reps or (1 if args.quick else 30)
            with contextlib.ExitStack() as stack:
                redis_url = None
                if shutil.which("redis-server") and not args.no_redis:
                    from bench_redis_limiter import redis_server, wait_until_ready  # noqa: PLC0415

                    redis_url = stack.enter_context(redis_server())
                    wait_until_ready(redis_url, 0)
                cpu = await cpu_rounds(
                    requests, rounds, directory, args, redis_url, args.variants.split(",")
                )
            met = "sqlite" in cpu["ratios"] and cpu["ratios"]["sqlite"]["of_sums"] <= 1.1
            results["cpu"] = {**cpu, "goal_met": met}
            goals.append(met)
        if "memory" in parts:
            default = "1000,5000" if args.quick else "10000,100000,1000000"
            sizes = [int(s) for s in (args.sizes or default).split(",")]
            memory = await asyncio.to_thread(memory_sizes, sizes, directory, args)
            met = memory["growth_mb"] is not None and memory["growth_mb"] <= 20
            results["memory"] = {**memory, "goal_met": met}
            goals.append(met)
    results["goal"] = {
        "rate_sustained_min": 8.9,
        "cpu_ratio_max": 1.1,
        "memory_growth_mb_max": 20,
    }
    results["goal_met"] = all(goals)
    h.emit("journal", args, results, _render)


def _render(doc: dict[str, Any]) -> str:
    lines = ["send journal costs"]
    if "rate" in doc:
        r = doc["rate"]
        lines.append(
            f"rate: {r['requests']} requests, sustained {r['rate_sustained']}/s, densest"
            f" {r['densest_window']}, 429s {r['rate_limited']}: {h.ok(r['goal_met'])}"
        )
    if "cpu" in doc:
        c = doc["cpu"]
        for variant, s in c["cpu_us_per_request"].items():
            ratio = c["ratios"].get(variant)
            extra = (
                f", {ratio['of_sums']:.3f}x of sums, per round median {ratio['median']:.3f}x"
                f" ({ratio['min']:.3f}-{ratio['max']:.3f})"
                if ratio
                else ""
            )
            spread = f"({s['min']:.1f}-{s['max']:.1f})"
            lines.append(f"cpu {variant:14} {s['median']:8.1f} us/request {spread}{extra}")
        lines.append(f"cpu goal (sqlite <= 1.1x): {h.ok(c['goal_met'])}")
    if "memory" in doc:
        m = doc["memory"]
        for row in m["rows"]:
            lines.append(
                f"memory {row['recipients']:>9}: highest {row['peak_mb']} MB (baseline"
                f" {row['baseline_mb']}), {row['wall_s']} s, journal file {row['journal_mb']} MB"
            )
        lines.append(f"memory growth {m['growth_mb']} MB (goal <= 20): {h.ok(m['goal_met'])}")
    return "\n".join(lines)


if __name__ == "__main__":
    asyncio.run(main())
