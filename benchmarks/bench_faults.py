"""Fault campaign: bulk sends under every fault, checked against the sandbox's own record.

For each scenario (5xx before/after processing, dropped connections before/after,
timeouts, 429 storms, latency spikes, malformed and truncated bodies, wrong content
types, a mix of all, and the faults at the real 9/s rate) and each seed: one bulk
``send`` of 10,000 recipients (plus ~1% repeats in another format, 0.5% invalid
numbers and 0.5% blacklisted ones) to a seeded faulty sandbox served on loopback by
``serve()`` in this process. After each run the invariant of
``tests/reliability/campaign.py`` is checked against ``Sandbox.messages()`` and
``Sandbox.deliveries()``: every recipient in exactly one of sent/failed/unknown, no
phone delivered twice, every delivery in ``sent`` with its id or in ``unknown``, no
``failed`` phone delivered, only the library's exceptions.

Goal: zero invariant violations in every run.

    python benchmarks/bench_faults.py [--recipients 10000] [--seeds 1,2,3]
        [--scenarios mix,timeout] [--personalized] [--json] [--quick]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from collections import Counter
from typing import Any

import _harness as h

sys.path.insert(0, str(h.ROOT))  # the campaign lives with the tests that use it

from tests.reliability.campaign import SCENARIOS, RunReport, run_scenario


def row(name: str, runs: list[RunReport]) -> dict[str, Any]:
    """One scenario's runs, summed (counts) or as medians (times, outcomes)."""
    faults: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for run in runs:
        faults.update(run.faults)
        statuses.update(run.statuses)
    violations = [v for run in runs for v in run.violations]
    return {
        "scenario": name,
        "what": SCENARIOS[name].what,
        "runs": len(runs),
        "seeds": [run.seed for run in runs],
        "recipients_per_run": runs[0].recipients,
        "recipients_total": sum(run.recipients for run in runs),
        "requests_total": sum(run.requests for run in runs),
        "retries_total": sum(run.retries for run in runs),
        "faults_injected": dict(sorted(faults.items())),
        "rate_limited_total": sum(run.rate_limited for run in runs),
        "client_server_errors_total": sum(run.client_server_errors for run in runs),
        "client_rate_limited_total": sum(run.client_rate_limited for run in runs),
        "client_transport_errors_total": sum(run.client_transport_errors for run in runs),
        "statuses": dict(sorted(statuses.items())),
        "seconds": h.summary([run.seconds for run in runs], 3),
        "sent_median": statistics.median(run.sent for run in runs),
        "failed_median": statistics.median(run.failed for run in runs),
        "unknown_median": statistics.median(run.unknown for run in runs),
        "delivered_total": sum(run.delivered for run in runs),
        "raised": dict(Counter(run.raised or "-" for run in runs)),
        "violations": len(violations),
        "violation_examples": violations[:10],
        "details": [run.as_json() for run in runs],
    }


def render(document: dict[str, Any]) -> str:
    """The results as the Markdown table of docs/reliability.md."""
    lines = [
        f"Fault campaign on {document['endpoint']}: {document['recipients']} recipients per run,"
        f" seeds "
        f"{document['seeds']} (goal: zero violations -- {h.ok(document['goal_met'])})",
        "",
        "| fault | runs | recipients | requests | retries | faults injected "
        "| client saw 5xx / 429 / no answer | sent / failed / unknown (median) "
        "| s per run (median) | violations |",
        "|---|---:|---:|---:|---:|---:|---|---|---:|---:|",
    ]
    for r in document["scenarios"]:
        injected = sum(r["faults_injected"].values())
        saw = (
            f"{r['client_server_errors_total']:,} / {r['client_rate_limited_total']:,}"
            f" / {r['client_transport_errors_total']:,}"
        )
        outcome = f"{r['sent_median']:g} / {r['failed_median']:g} / {r['unknown_median']:g}"
        lines.append(
            f"| {r['scenario']} | {r['runs']} | {r['recipients_total']:,} "
            f"| {r['requests_total']:,} | {r['retries_total']:,} | {injected:,} "
            f"| {saw} | {outcome} | {r['seconds']['median']:.2f} | {r['violations']} |"
        )
    totals = document["totals"]
    lines.append(
        f"| **all** | {totals['runs']} | {totals['recipients']:,} | {totals['requests']:,} "
        f"| {totals['retries']:,} | {totals['faults_injected']:,} | | | "
        f"| **{totals['violations']}** |"
    )
    for r in document["scenarios"]:
        for example in r["violation_examples"]:
            lines.append(f"  {r['scenario']}: {example}")
    return "\n".join(lines)


async def main() -> None:
    cli = h.parser(__doc__.splitlines()[0])
    cli.add_argument("--recipients", type=int, default=None, help="per run (default 10000)")
    cli.add_argument("--seeds", default=None, help="comma-separated seeds (default 1,2,3)")
    cli.add_argument("--scenarios", default=None, help=f"comma-separated, of {list(SCENARIOS)}")
    cli.add_argument(
        "--personalized",
        action="store_true",
        help="send_personalized (/v2/sms/send, one text per number) instead of send",
    )
    args = cli.parse_args()
    recipients = args.recipients or (300 if args.quick else 10_000)
    reps = args.reps or (1 if args.quick else 3)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(range(1, reps + 1))
    names = args.scenarios.split(",") if args.scenarios else list(SCENARIOS)
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        cli.error(f"unknown scenarios {sorted(unknown)}; choose from {list(SCENARIOS)}")

    rows = []
    for name in names:
        runs = []
        for seed in seeds:
            h.log(args, f"faults: {name}, seed {seed}, {recipients} recipients")
            runs.append(
                await run_scenario(
                    SCENARIOS[name],
                    recipients=recipients,
                    seed=seed,
                    personalized=args.personalized,
                )
            )
        rows.append(row(name, runs))
    totals = {
        "runs": sum(r["runs"] for r in rows),
        "recipients": sum(r["recipients_total"] for r in rows),
        "requests": sum(r["requests_total"] for r in rows),
        "retries": sum(r["retries_total"] for r in rows),
        "faults_injected": sum(sum(r["faults_injected"].values()) for r in rows),
        "rate_limited": sum(r["rate_limited_total"] for r in rows),
        "violations": sum(r["violations"] for r in rows),
    }
    results = {
        "endpoint": "/v2/sms/send" if args.personalized else "/sms/send",
        "recipients": recipients,
        "seeds": seeds,
        "scenarios": rows,
        "totals": totals,
        "goal": "zero invariant violations in every run",
        "goal_met": totals["violations"] == 0,
    }
    h.emit("faults", args, results, render)


if __name__ == "__main__":
    asyncio.run(main())
