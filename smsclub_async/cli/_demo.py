"""``smsclub demo``: a bulk send to a sandbox on loopback, over real HTTP, at 9/s.

No token and no network: the sandbox listens on 127.0.0.1 in this process, a real
:class:`SmsClub` talks to it through httpx and the default rate limiter, and at the
end the sandbox's own record (arrivals, densest one-second window, 429s, messages
per phone) is set against what the client reported.

Then a fault drill, on a second token: a smaller send whose requests the sandbox
spoils on purpose, some before processing them (safe to retry) and some after (the
messages went out, the answer is lost: a blind retry would send them twice). The
sandbox's record shows each number delivered at most once, and the client reports
the lost answers as "unknown (probably sent)", never as "failed".
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
from ..sandbox import FaultKind, Sandbox, SandboxConfig, serve
from ._bulk import BulkOutcome, WatchOutcome, make_progress, run_bulk, watch_statuses
from ._errors import ExitCode
from ._output import (
    Output,
    balance_document,
    error_line,
    new_table,
    plural,
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
DOCS_URL = "https://smsclub-async.github.io/smsclub-async/"
DRILL_RECIPIENTS = 600
"""The fault drill's audience: 6 requests of 100."""
DRILL_FAULTS: tuple[FaultKind | None, ...] = (
    "drop_after",
    "error_before",
    "error_after",
    "drop_before",
    "drop_after",
)
"""What the sandbox does to the drill's first requests (then it answers normally):
two answers lost after the messages went out, one 5xx after processing, and two
failures before processing."""
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
    drill: FaultDrill | None = None
    elapsed: float = 0.0

    @property
    def interrupted(self) -> bool:
        """Ctrl-C stopped the send or the wait for statuses."""
        return self.send.interrupted or (self.delivery is not None and self.delivery.interrupted)

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
        if self.drill is not None:
            checks.update(self.drill.checks())
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
            "fault_drill": None if self.drill is None else self.drill.document(),
            "checks": self.checks(),
            "elapsed": round(self.elapsed, 3),
        }


@dataclass(slots=True)
class FaultDrill:
    """A send through injected faults, and what the sandbox saw of it.

    Attributes:
        phones: the drill's recipients (distinct, valid, none blacklisted).
        sandbox: the sandbox (shared with the main send; its own token).
        token: the drill's token.
        send: what the client reported.
        retries: the client's retries.
    """

    phones: list[str]
    sandbox: Sandbox
    token: str
    send: BulkOutcome
    retries: int = 0

    def record(self) -> dict[str, Any]:
        """The sandbox's record of the drill's token."""
        arrivals = self.sandbox.stats(self.token).arrivals
        deliveries = self.sandbox.deliveries(self.token)
        faults: dict[str, int] = {}
        for arrival in arrivals:
            if arrival.fault is not None:
                faults[arrival.fault] = faults.get(arrival.fault, 0) + 1
        return {
            "requests": len(arrivals),
            "faults": dict(sorted(faults.items())),
            "processed_then_spoiled": sum(n for k, n in faults.items() if k.endswith("_after")),
            "refused_as_duplicates": sum(1 for arrival in arrivals if arrival.status == 453),
            "messages": sum(deliveries.values()),
            "delivered_twice": sum(1 for n in deliveries.values() if n > 1),
        }

    def checks(self) -> dict[str, bool]:
        """What the faults must not break."""
        record = self.record()
        result = self.send.result
        accepted = {m.phone for m in self.sandbox.messages(self.token)}
        accounted = [*result.sent.values(), *result.failed, *result.unknown]
        return {
            "with faults: no number delivered twice": record["delivered_twice"] == 0,
            "with faults: no 'failed' number got the message": not accepted & set(result.failed),
            "with faults: every recipient accounted for once": sorted(accounted)
            == sorted(self.phones),
        }

    def document(self) -> dict[str, Any]:
        """The ``fault_drill`` part of the ``--json`` document."""
        result = self.send.result
        return {
            "recipients": len(self.phones),
            "injected": list(DRILL_FAULTS),
            "sent": len(result.sent),
            "failed": len(result.failed),
            "unknown": len(result.unknown),
            "client_retries": self.retries,
            "sandbox": self.record(),
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
            _explain_undelivered(output, report.delivery)
        if not (sent.interrupted or (report.delivery and report.delivery.interrupted)):
            report.after = await client.balance()
        stats = client.stats
        report.client_stats = {
            "requests": stats.requests,
            "retries": stats.retries,
            "rate_limited": stats.rate_limited,
            "limiter_wait": round(stats.limiter_wait, 3),
        }
        if not report.interrupted:
            report.drill = await _fault_drill(output, sandbox, server.url, recipients)
    report.elapsed = loop.time() - began
    return report


def _drill_phones(recipients: DemoRecipients) -> list[str]:
    """Numbers the main send did not use (a different range of the same operator)."""
    used = set(recipients.valid)
    phones: list[str] = []
    for index in range(DRILL_RECIPIENTS * 2):
        phone = f"38050{index:07d}"
        if phone not in used:
            phones.append(phone)
        if len(phones) == DRILL_RECIPIENTS:
            break
    return phones


async def _fault_drill(
    output: Output, sandbox: Sandbox, url: str, recipients: DemoRecipients
) -> FaultDrill:
    """Send to fresh numbers while the sandbox spoils requests before and after processing."""
    phones = _drill_phones(recipients)
    token = f"drill-{secrets.token_hex(8)}"
    # The drill's own account, with money for everyone whatever the main send's size.
    sandbox.set_balance(PRICE_PER_PART * segments(MESSAGE).parts * len(phones) * 2, token=token)
    sandbox.faults.script(DRILL_FAULTS)
    try:
        async with SmsClub(token, base_url=url) as client:
            progress = make_progress(output.err)
            with progress:
                outcome = await run_bulk(
                    lambda: client.send_iter(phones, MESSAGE, sender=SENDER),
                    phones=phones,
                    progress=progress,
                    description="drill",
                )
            retries = client.stats.retries
    finally:
        sandbox.faults.script(())
    return FaultDrill(phones, sandbox, token, outcome, retries)


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


def _explain_undelivered(output: Output, delivery: WatchOutcome) -> None:
    """Say where the UNDELIV statuses come from (they are not a fault of the client)."""
    undelivered = sum(1 for status in delivery.report.values() if status.value == "UNDELIV")
    if not undelivered:
        return
    output.print(
        Text(
            f"UNDELIV {undelivered:,}: simulated. The sandbox fails delivery to every number"
            " ending in 9, as a network does for a phone that stays off or out of reach;"
            " the gateway accepted them (they were sent and paid), the phone never got them.",
            style="dim",
        )
    )


def _render_drill(output: Output, drill: FaultDrill) -> None:
    record = drill.record()
    result = drill.send.result
    after = sum(1 for kind in DRILL_FAULTS if kind is not None and kind.endswith("_after"))
    output.print(
        Text(
            f"Fault drill: {plural(len(drill.phones), 'recipient')} on a second token; the"
            f" sandbox spoiled {plural(len(DRILL_FAULTS), 'request')} on purpose, {after} of"
            " them after the messages went out (a blind retry would send those twice)",
            style="bold",
        )
    )
    table = new_table("Fault drill: the sandbox's record", "what", "value", justify_last=False)
    faults = ", ".join(f"{kind} {n}" for kind, n in record["faults"].items())
    table.add_row("requests", Text(f"{record['requests']:,} (faults injected: {faults})"))
    table.add_row(
        "processed, then the answer spoiled",
        f"{record['processed_then_spoiled']:,} (the duplicates risk)",
    )
    table.add_row("retries refused as duplicates (453)", f"{record['refused_as_duplicates']:,}")
    table.add_row("messages accepted", f"{record['messages']:,}")
    table.add_row("numbers delivered twice", f"{record['delivered_twice']:,}")
    table.add_row(
        "client: sent / unknown / failed",
        f"{len(result.sent):,} / {len(result.unknown):,} / {len(result.failed):,}",
    )
    output.print(table)
    output.print(
        Text(
            "The client retried every spoiled request within the gateway's 2-minute"
            " duplicate window: where the first attempt had been processed the gateway"
            " refused the retry, so nobody got the message twice, and those numbers are"
            ' "unknown (probably sent)": do not resend them. "failed" is only ever a'
            " number that certainly got nothing.",
            style="dim",
        )
    )


def _next_steps(output: Output) -> None:
    output.print(Text("Next:", style="bold"))
    for line in (
        "send for real: export SMSCLUB_TOKEN=... (the JSON Profile section of your account),"
        " then smsclub senders, then smsclub send 380XXXXXXXXX -m 'Hello' -s YourSender",
        "from Python: the quick start in README.md, or " + DOCS_URL + "quickstart/",
        "in your tests: smsclub_async.sandbox (" + DOCS_URL + "sandbox/)",
    ):
        output.print(Text(f"  {line}"))


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
    if report.drill is not None:
        _render_drill(output, report.drill)
    checks = new_table("Checks", "", "check", justify_last=False)
    for name, ok in report.checks().items():
        checks.add_row(Text("ok", style="green") if ok else Text("FAIL", style="red"), name)
    output.print(checks)
    output.print(Text(f"finished in {report.elapsed:.1f} s", style="bold"))
    _next_steps(output)


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
    if report.interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.OK if all(report.checks().values()) else ExitCode.INCOMPLETE
