"""``smsclub demo``: a bulk send to a sandbox on loopback, over real HTTP, at 9/s.

No token and no network: the sandbox listens on 127.0.0.1 in this process, a real
:class:`SmsClub` talks to it through httpx and the default rate limiter, and at the
end the sandbox's own record (arrivals, densest one-second window, 429s, messages
per phone) is set against what the client reported.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.text import Text

from .._phones import normalize_phone
from .._results import Balance
from .._segments import segments
from ..gateways.smsclub import SmsClub
from ..sandbox import Sandbox, SandboxConfig, serve
from ._bulk import BulkOutcome, WatchOutcome, make_progress, run_bulk, watch_statuses
from ._errors import ExitCode
from ._output import (
    Output,
    balance_document,
    error_line,
    new_table,
    render_send,
    render_status_counts,
    render_watch_end,
    send_document,
    status_document,
)

__all__ = ["DemoRecipients", "generate_recipients", "run_demo"]

SENDER = "VashZakaz"
MESSAGE = "smsclub-async demo: your order is ready for pickup. Reply STOP to opt out."
PRICE_PER_PART = Decimal("0.50")
STATUS_TIMEOUT = 60.0
# Ukrainian mobile operator codes, for numbers that look real.
_OPERATORS = ("50", "63", "66", "67", "68", "73", "93", "95", "96", "97", "98", "99")
_INVALID_SHAPES = (
    "380{code}{n:03d}",  # too short
    "380{code}{n:012d}",  # too long
    "+380 {code} ABC {n:04d}",  # letters
    "{code}-{n}",  # a fragment
)


@dataclass(slots=True)
class DemoRecipients:
    """The generated audience.

    Attributes:
        raw: every number in the order sent, as a user might paste them (repeats,
            formatting and bad entries included).
        valid: the distinct valid numbers, normalised, in first-seen order.
        invalid: the entries that are not phone numbers.
        repeats: how many entries repeat an earlier number (some reformatted).
        blacklisted: valid numbers put on the sandbox's blacklist.
    """

    raw: list[str] = field(default_factory=list)
    valid: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    repeats: int = 0
    blacklisted: list[str] = field(default_factory=list)


def _formatted(phone: str) -> str:
    """+380 (50) 123-45-67: the same number as people write it."""
    return f"+{phone[:3]} ({phone[3:5]}) {phone[5:8]}-{phone[8:10]}-{phone[10:]}"


def _distinct_numbers(rng: random.Random, count: int) -> Iterator[str]:
    seen: set[str] = set()
    while len(seen) < count:
        phone = f"380{rng.choice(_OPERATORS)}{rng.randrange(10_000_000):07d}"
        if phone not in seen:
            seen.add(phone)
            yield phone


def generate_recipients(count: int, seed: int) -> DemoRecipients:
    """``count`` entries: ~1% invalid, ~2% repeats, ~1.5% of the rest blacklisted."""
    rng = random.Random(seed)  # noqa: S311 - made-up numbers, not secrets
    invalid_count = count // 100
    repeat_count = count * 2 // 100
    valid_count = max(1, count - invalid_count - repeat_count)
    invalid_count = min(invalid_count, count - valid_count)
    repeat_count = count - valid_count - invalid_count
    valid = list(_distinct_numbers(rng, valid_count))
    entries = list(valid)
    for index in range(repeat_count):
        again = rng.choice(valid)
        entries.append(_formatted(again) if index % 2 else again)
    invalid = [
        _INVALID_SHAPES[index % len(_INVALID_SHAPES)].format(code=rng.choice(_OPERATORS), n=index)
        for index in range(invalid_count)
    ]
    entries += invalid
    # The first sighting of a number (perhaps a formatted repeat) is the one sent.
    rng.shuffle(entries)
    recipients = DemoRecipients(raw=entries, invalid=invalid)
    seen: set[str] = set()
    for entry in entries:
        phone = normalize_phone(entry)
        if phone is None:
            continue
        if phone in seen:
            recipients.repeats += 1
        else:
            seen.add(phone)
            recipients.valid.append(phone)
    blacklist_count = min(len(recipients.valid) - 1, max(1, len(recipients.valid) * 3 // 200))
    recipients.blacklisted = sorted(rng.sample(recipients.valid, max(0, blacklist_count)))
    return recipients


@dataclass(slots=True)
class DemoReport:
    """Everything the demo measured (the JSON document is built from it)."""

    url: str
    recipients: DemoRecipients
    sandbox: Sandbox
    token: str
    before: Balance
    send: BulkOutcome
    delivery: WatchOutcome | None = None
    after: Balance | None = None
    client_stats: dict[str, Any] = field(default_factory=dict)
    elapsed: float = 0.0

    def sandbox_record(self) -> dict[str, Any]:
        """What the sandbox itself saw from the demo's token."""
        stats = self.sandbox.stats(self.token)
        deliveries = self.sandbox.deliveries(self.token)
        return {
            "requests": stats.count,
            "paths": dict(sorted(stats.paths.items())),
            "densest_window": stats.densest_window(),
            "rate_limit": self.sandbox.config.rate_limit,
            "rate_limited": stats.rate_limited,
            "messages": sum(deliveries.values()),
            "phones_delivered": len(deliveries),
            "delivered_twice": sum(1 for n in deliveries.values() if n > 1),
        }

    def checks(self) -> dict[str, bool]:
        """The properties the demo is there to show, each true or false."""
        record = self.sandbox_record()
        result = self.send.result
        accounted: list[str] = [*result.sent.values(), *result.failed, *result.unknown]
        expected = {*self.recipients.valid, *self.recipients.invalid}
        accepted = {m.phone for m in self.sandbox.messages(self.token)}
        checks = {
            "every recipient accounted for once": len(accounted) == len(set(accounted))
            and set(accounted) == expected,
            "every message id matches the sandbox": accepted == set(result.sent.values())
            and record["messages"] == len(result.sent),
            "no number delivered twice": record["delivered_twice"] == 0,
            "no 429 (rate limited) answers": record["rate_limited"] == 0,
            "at most 9 requests in any second": record["densest_window"]
            <= (record["rate_limit"] or record["densest_window"]),
        }
        if self.delivery is not None:
            checks["every delivery status final"] = not self.delivery.pending
        return checks

    def document(self) -> dict[str, Any]:
        """The ``--json`` document."""
        recipients = self.recipients
        return {
            "server": self.url,
            "recipients": {
                "generated": len(recipients.raw),
                "distinct_valid": len(recipients.valid),
                "invalid": len(recipients.invalid),
                "repeats": recipients.repeats,
                "blacklisted": len(recipients.blacklisted),
            },
            "generated": recipients.raw,
            "blacklisted": recipients.blacklisted,
            "message": {"text": MESSAGE, "sender": SENDER, **_segments_document()},
            "balance_before": balance_document(self.before),
            "send": send_document(self.send),
            "delivery": None
            if self.delivery is None
            else status_document(self.delivery.report, self.delivery.ids),
            "balance_after": None if self.after is None else balance_document(self.after),
            "sandbox": self.sandbox_record(),
            "client": self.client_stats,
            "checks": self.checks(),
            "elapsed": round(self.elapsed, 3),
        }


def _segments_document() -> dict[str, Any]:
    info = segments(MESSAGE)
    return {"encoding": info.encoding, "parts": info.parts, "units": info.units}


async def _demo(output: Output, recipients: DemoRecipients, delivery_delay: float) -> DemoReport:
    loop = asyncio.get_running_loop()
    began = loop.time()
    parts = segments(MESSAGE).parts
    sandbox = Sandbox(
        SandboxConfig(
            delivery_delay=delivery_delay,
            price_per_part=PRICE_PER_PART,
            # Enough for everyone, with change left to see the cost.
            balance=PRICE_PER_PART * parts * len(recipients.valid) * 2,
        )
    )
    sandbox.add_blacklist(*recipients.blacklisted)
    token = f"demo-{secrets.token_hex(8)}"
    async with serve(sandbox) as server, SmsClub(token, base_url=server.url) as client:
        output.note(
            f"sandbox listening on {server.url} (in this process; nothing leaves this machine)",
            style="",
        )
        before = await client.balance()
        _intro(output, recipients, before)
        progress = make_progress(output.err)
        with progress:
            sent = await run_bulk(
                lambda: client.send_iter(recipients.raw, MESSAGE, sender=SENDER),
                phones=recipients.valid,
                total=len(recipients.valid) + len(recipients.invalid),
                progress=progress,
            )
        report = DemoReport(server.url, recipients, sandbox, token, before, sent)
        render_send(output, sent, ids_saved_to=None, show_ids=False)
        if sent.result.sent and not sent.interrupted:
            progress = make_progress(output.err, rate=False)
            with progress:
                report.delivery = await watch_statuses(
                    client,
                    list(sent.result.sent),
                    timeout=STATUS_TIMEOUT + delivery_delay,
                    interval=0.5,
                    max_interval=1.0,
                    progress=progress,
                )
            render_status_counts(output, report.delivery.report, report.delivery.ids)
            render_watch_end(output, report.delivery)
        if not (sent.interrupted or (report.delivery and report.delivery.interrupted)):
            report.after = await client.balance()
        stats = client.stats
        report.client_stats = {
            "requests": stats.requests,
            "retries": stats.retries,
            "rate_limited": stats.rate_limited,
            "limiter_wait": round(stats.limiter_wait, 3),
        }
    report.elapsed = loop.time() - began
    return report


def _intro(output: Output, recipients: DemoRecipients, before: Balance) -> None:
    output.print(
        Text(
            f"{len(recipients.raw):,} generated recipients: {len(recipients.valid):,} distinct"
            f" valid ({len(recipients.blacklisted):,} of them blacklisted),"
            f" {len(recipients.invalid):,} invalid, {recipients.repeats:,} repeats",
        )
    )
    output.print(Text(f"message from {SENDER}: {MESSAGE!r}"))
    output.print(Text(f"  {segments(MESSAGE)}"))
    output.print(Text(f"balance before: {before}"))


def _render(output: Output, report: DemoReport) -> None:
    record = report.sandbox_record()
    record_table = new_table("The sandbox's own record", "what", "value", justify_last=False)
    paths = ", ".join(f"{path} {n:,}" for path, n in record["paths"].items())
    record_table.add_row("requests", Text(f"{record['requests']:,} ({paths})"))
    record_table.add_row(
        "densest 1-second window", f"{record['densest_window']} (limit {record['rate_limit']})"
    )
    record_table.add_row("429 answers", f"{record['rate_limited']:,}")
    record_table.add_row("messages accepted", f"{record['messages']:,}")
    record_table.add_row("numbers delivered twice", f"{record['delivered_twice']:,}")
    client = report.client_stats
    record_table.add_row(
        "client: requests / retries / 429s",
        f"{client.get('requests', 0):,} / {client.get('retries', 0):,}"
        f" / {client.get('rate_limited', 0):,}",
    )
    output.print(record_table)
    if report.after is not None:
        spent = report.before.money - report.after.money
        output.print(
            Text(f"balance after: {report.after} (spent {spent:.2f} {report.after.currency})")
        )
    checks = new_table("Checks", "", "check", justify_last=False)
    for name, ok in report.checks().items():
        checks.add_row(Text("ok", style="green") if ok else Text("FAIL", style="red"), name)
    output.print(checks)
    output.print(Text(f"finished in {report.elapsed:.1f} s", style="bold"))


def run_demo(output: Output, *, recipients: int, seed: int, delivery_delay: float) -> ExitCode:
    """Run the demo, print it, and return the exit code (1 if a check failed)."""
    audience = generate_recipients(recipients, seed)
    try:
        report = asyncio.run(_demo(output, audience, delivery_delay))
    except KeyboardInterrupt:
        error_line("interrupted")
        return ExitCode.INTERRUPTED
    if output.json:
        output.emit(report.document())
    _render(output, report)
    if report.send.interrupted or (report.delivery is not None and report.delivery.interrupted):
        return ExitCode.INTERRUPTED
    return ExitCode.OK if all(report.checks().values()) else ExitCode.INCOMPLETE
