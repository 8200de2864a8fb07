"""6. Decoding a 100-entry send answer and a 100-entry status answer.

Ours: the msgspec decoders (``smsclub_async._decoding.decode`` with ``SendResponse`` /
``StatusResponse``), and the full step to a result (``gateways.smsclub.account_send``:
every number matched to its id; ``gateways.smsclub.status_report``: every status parsed).
Theirs: ``json.loads`` plus the dict walk a user would write to get the same ids,
phones and statuses out. Bodies are what the sandbox answers.

Each figure is the median of 7 ``timeit`` repetitions (each of many calls).

Goal: our decoders >= 2x faster than ``json.loads`` + the walk.

    python benchmarks/bench_decode.py [--reps 7] [--json] [--quick]
"""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable
from typing import Any

import _harness as h
import msgspec

from smsclub_async._decoding import decode
from smsclub_async._phones import Chunk
from smsclub_async._pipeline import Outcome
from smsclub_async.gateways._smsclub_wire import SendResponse, StatusResponse
from smsclub_async.gateways.smsclub import account_send, status_report

NUMBERS = list(h.phones(h.PER_REQUEST, start=989_361_100))
IDS = [str(1000 + i) for i in range(h.PER_REQUEST)]
STATUSES = ["DELIVRD", "ENROUTE", "UNDELIV", "EXPIRED", "REJECTD"]
SEND_BODY = msgspec.json.encode({"success_request": {"info": dict(zip(IDS, NUMBERS, strict=True))}})
STATUS_BODY = msgspec.json.encode(
    {"success_request": {"info": {i: STATUSES[n % 5] for n, i in enumerate(IDS)}}}
)
CHUNK = Chunk(phones=list(NUMBERS))
EXCHANGE = Outcome(body=SEND_BODY, error=None, maybe_processed=False, attempts=1)


def ours_send() -> Any:
    """Our decoder: the typed answer (ids -> phones, add_info)."""
    return decode(SendResponse, SEND_BODY)


def ours_send_full() -> Any:
    """Our whole interpretation: every number of the chunk matched to its id."""
    return account_send(CHUNK, EXCHANGE, endpoint="/sms/send")


def user_send() -> Any:
    """``json.loads`` and the walk to the same ids, phones and per-number errors."""
    answer = json.loads(SEND_BODY).get("success_request", {})
    sent = {str(k): str(v) for k, v in answer.get("info", {}).items()}
    failed = {str(k): str(v) for k, v in answer.get("add_info", {}).items()}
    return sent, failed


def ours_status() -> Any:
    """Our decoder: the typed status answer."""
    return decode(StatusResponse, STATUS_BODY)


def ours_status_full() -> Any:
    """Our whole step: statuses parsed to ``DeliveryStatus``, missing ids listed."""
    return status_report(IDS, STATUS_BODY)


def user_status() -> Any:
    """``json.loads`` and the walk to id -> status string, and the ids not reported."""
    answer = json.loads(STATUS_BODY).get("success_request", {})
    statuses = {str(k): str(v) for k, v in answer.get("info", {}).items()}
    missing = [i for i in IDS if i not in statuses]
    return statuses, missing


def per_call_us(function: Callable[[], Any], reps: int, number: int) -> dict[str, Any]:
    """Microseconds per call over ``reps`` timeit repetitions of ``number`` calls."""
    times = timeit.repeat(function, repeat=reps, number=number)
    return h.summary([t / number * 1e6 for t in times], 3)


def main() -> None:
    cli = h.parser(__doc__.splitlines()[0])
    args = cli.parse_args()
    reps = args.reps or (3 if args.quick else 7)
    number = 200 if args.quick else 20_000
    assert ours_send_full().sent == dict(zip(IDS, NUMBERS, strict=True))
    functions = {
        "ours_send_decode": ours_send,
        "ours_send_interpret": ours_send_full,
        "user_send_json_loads_walk": user_send,
        "ours_status_decode": ours_status,
        "ours_status_report": ours_status_full,
        "user_status_json_loads_walk": user_status,
    }
    timings = {}
    for name, function in functions.items():
        h.log(args, f"decode: {name}")
        timings[name] = per_call_us(function, reps, number)
    speedups = {
        "send_decode": timings["user_send_json_loads_walk"]["median"]
        / timings["ours_send_decode"]["median"],
        "send_interpret": timings["user_send_json_loads_walk"]["median"]
        / timings["ours_send_interpret"]["median"],
        "status_decode": timings["user_status_json_loads_walk"]["median"]
        / timings["ours_status_decode"]["median"],
        "status_report": timings["user_status_json_loads_walk"]["median"]
        / timings["ours_status_report"]["median"],
    }
    results = {
        "entries": h.PER_REQUEST,
        "repetitions": reps,
        "calls_per_repetition": number,
        "us_per_call": timings,
        "speedup_vs_json_loads_walk": {k: round(v, 2) for k, v in speedups.items()},
        "goal": {"decoder_speedup_min": 2.0},
        "goal_met": speedups["send_decode"] >= 2 and speedups["status_decode"] >= 2,
    }
    h.emit("decode", args, results, _render)


def _render(doc: dict[str, Any]) -> str:
    lines = [
        f"decoding {doc['entries']}-entry answers, us per call: median (min-max) of"
        f" {doc['repetitions']} x {doc['calls_per_repetition']} calls",
    ]
    for name, s in doc["us_per_call"].items():
        lines.append(f"{name:30} {s['median']:8.2f} ({s['min']:.2f}-{s['max']:.2f})")
    for name, x in doc["speedup_vs_json_loads_walk"].items():
        lines.append(f"speedup {name:22} {x:6.2f}x")
    lines.append(f"goal decoders >= 2x: {h.ok(doc['goal_met'])}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
