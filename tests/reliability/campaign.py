"""The fault campaign: bulk sends against a faulty loopback sandbox, checked against its record.

Shared by the test suite (small sizes, ``tests/reliability/test_fault_campaign.py``) and
the benchmark (10,000 recipients, ``benchmarks/bench_faults.py``). Everything is seeded:
the recipients, the blacklist and the sandbox's fault draws.

The invariant, checked after every run against the sandbox's own record
(:meth:`Sandbox.messages`, :meth:`Sandbox.deliveries`):

The same runs drive the three gateways (``gateway=``: SMS Club, SMSC.kz, SMStele) and
both transports (``transport=``: httpx's default, httpx-aiohttp), see ``gateways.py``.

1. every distinct recipient (normalised number, or the raw text of an invalid one) is in
   exactly one of ``sent`` (as a value), ``failed`` or ``unknown``, and nothing else is;
2. no phone was delivered twice;
3. every delivered phone is in ``sent`` under the id the sandbox issued, or in ``unknown``;
4. no ``failed`` phone was delivered;
5. every id in ``sent`` is one the sandbox issued, for that phone;
6. no exception escaped other than the library's own (``SmsClubError``: its ``partial``
   is then the result checked).
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from smsclub_async import RetryPolicy, SendResult, SmsClubError
from smsclub_async.gateways import normalize_phone
from smsclub_async.sandbox import Faults, Sandbox, serve

from .gateways import GATEWAYS, SMSCLUB, Gateway, Record, TransportKind, record_of

__all__ = [
    "FAULT_KINDS",
    "SCENARIOS",
    "RunReport",
    "Scenario",
    "check_invariants",
    "make_recipients",
    "run_scenario",
]

#: The sandbox's fault kinds (all of them are in the "mix" scenario).
FAULT_KINDS = (
    "error_before",
    "error_after",
    "drop_before",
    "drop_after",
    "malformed",
    "truncated",
    "wrong_content_type",
)

SENDER = "VashZakaz"
FAST_RATE = 1000  # client and sandbox, except where a scenario says otherwise


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One kind of trouble: the sandbox's faults and limits, and the client's settings.

    Attributes:
        name: the row name in the results table.
        what: one line for humans.
        probabilities: ``Faults`` keyword arguments (fault kind -> probability).
        latency: ``(low, high)`` seconds the sandbox waits before each send answer.
        read_timeout: the client's read timeout (shorter than the latency -> timeouts).
        sandbox_rate: the sandbox's requests per second (``None``: no limit).
        client_rate: the client's requests per second.
        honour_retry_after: keep the policy's waits (Retry-After is 1 s in the sandbox);
            otherwise retries are immediate (``RetryPolicy(wait=False)``).
        no_429: a 429 answer counts as a violation (the client must pace itself).
        gateways: the gateways the scenario applies to (the SMSC and REX400
            emulators have no request-rate limit: no 429 to meet).
    """

    name: str
    what: str
    probabilities: dict[str, float] = field(default_factory=dict)
    latency: tuple[float, float] | None = None
    read_timeout: float = 5.0
    sandbox_rate: int | None = FAST_RATE
    client_rate: int = FAST_RATE
    honour_retry_after: bool = False
    no_429: bool = False
    gateways: tuple[str, ...] = tuple(GATEWAYS)

    def retry_policy(self) -> RetryPolicy:
        """The send retry policy of this scenario's client."""
        if self.honour_retry_after:
            return RetryPolicy(attempts=8, backoff=0.01, max_backoff=0.05, max_retry_after=2.0)
        return RetryPolicy(attempts=5, wait=False)


def _mix() -> dict[str, float]:
    return dict.fromkeys(FAULT_KINDS, 0.03)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(name="none", what="no fault (baseline)"),
        Scenario(
            name="error_before",
            what="5xx before processing",
            probabilities={"error_before": 0.2},
        ),
        Scenario(
            name="error_after",
            what="5xx after processing",
            probabilities={"error_after": 0.2},
        ),
        Scenario(
            name="drop_before",
            what="connection dropped before processing",
            probabilities={"drop_before": 0.2},
        ),
        Scenario(
            name="drop_after",
            what="connection dropped after processing",
            probabilities={"drop_after": 0.2},
        ),
        Scenario(
            name="timeout",
            what="latency 0-100 ms against a 40 ms read timeout",
            latency=(0.0, 0.1),
            read_timeout=0.04,
        ),
        Scenario(
            name="rate_limit_storm",
            what="sandbox allows 30/s, client sends at 1000/s; Retry-After honoured",
            sandbox_rate=30,
            honour_retry_after=True,
            gateways=("smsclub",),
        ),
        Scenario(
            name="latency_spikes",
            what="latency 0-150 ms, default-size read timeout",
            latency=(0.0, 0.15),
        ),
        Scenario(
            name="malformed",
            what="200 with a body that is not JSON (after processing)",
            probabilities={"malformed": 0.2},
        ),
        Scenario(
            name="truncated",
            what="200 with half the body, then the connection closes",
            probabilities={"truncated": 0.2},
        ),
        Scenario(
            name="wrong_content_type",
            what="the real body labelled text/html",
            probabilities={"wrong_content_type": 0.2},
        ),
        Scenario(
            name="mix",
            what="all seven faults at 3% each, latency 0-60 ms vs 50 ms read timeout, "
            "sandbox limit 100/s vs client 1000/s",
            probabilities=_mix(),
            latency=(0.0, 0.06),
            read_timeout=0.05,
            sandbox_rate=100,
        ),
        Scenario(
            name="real_rate",
            what="5xx and drops before/after processing at 5% each, at the real 9/s "
            "(default client limiter vs the sandbox's strict check); a 429 is a violation",
            probabilities={
                "error_before": 0.05,
                "error_after": 0.05,
                "drop_before": 0.05,
                "drop_after": 0.05,
            },
            sandbox_rate=9,
            client_rate=9,
            honour_retry_after=True,
            no_429=True,
            gateways=("smsclub",),
        ),
    )
}


@dataclass(slots=True)
class Recipients:
    """A seeded recipient list and what the sandbox must refuse."""

    raw: list[str]
    expected: set[str]  # normalised numbers + raw invalid inputs
    blacklist: list[str]


def make_recipients(count: int, seed: int, gateway: Gateway = SMSCLUB) -> Recipients:
    """``count`` distinct valid numbers, some repeated in another format, a few invalid,
    a few refused per number by the gateway (SMS Club: blacklisted in the sandbox,
    refused in ``add_info``; SMSC: an undeliverable prefix; SMStele: no route).

    For SMS Club the refused numbers are among the ``count``; for the others they
    are extra numbers, appended to ``raw`` and ``expected``."""
    rng = random.Random(seed)
    space = 10 ** (gateway.length - len(gateway.prefix))
    numbers = [gateway.number(n) for n in rng.sample(range(space), count)]
    raw = list(numbers)
    for phone in rng.sample(numbers, max(1, count // 100)):  # ~1% repeats, formatted
        raw.insert(rng.randrange(len(raw)), f"+{phone[:2]} ({phone[2:5]}) {phone[5:8]}-{phone[8:]}")
    invalid = [f"bad-{i}" for i in range(max(1, count // 200))]
    for item in invalid:
        raw.insert(rng.randrange(len(raw)), item)
    if gateway is SMSCLUB:
        blacklist = rng.sample(numbers, max(1, count // 200))
    else:
        blacklist = [gateway.refused_number(n) for n in range(max(1, count // 200))]
        for item in blacklist:
            raw.insert(rng.randrange(len(raw)), item)
    return Recipients(
        raw=raw, expected=set(numbers) | set(invalid) | set(blacklist), blacklist=blacklist
    )


@dataclass(slots=True)
class RunReport:
    """What one run did and whether the invariant held.

    ``requests``, ``rate_limited``, ``faults`` and ``statuses`` are the sandbox's count;
    ``client_*`` what the client saw (``client_transport_errors``: no answer at all --
    dropped connections, truncated bodies and timeouts).
    """

    scenario: str
    seed: int
    recipients: int
    seconds: float
    sent: int
    failed: int
    unknown: int
    delivered: int
    requests: int
    retries: int
    client_server_errors: int
    client_rate_limited: int
    client_transport_errors: int
    rate_limited: int
    faults: dict[str, int]
    statuses: dict[str, int]
    raised: str | None
    violations: list[str]
    gateway: str = "smsclub"
    transport: str = "httpx"

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def check_invariants(
    expected: Iterable[str],
    result: SendResult,
    sandbox: Sandbox | Record | Any,
    token: str,
    *,
    complete: bool = True,
) -> list[str]:
    """Every violation of the campaign invariant (see the module docstring); [] if none.

    Args:
        expected: the distinct recipients (see :func:`expected_numbers`).
        result: the result, or the ``partial`` of the exception that ended the call.
        sandbox: the emulator whose record is the truth (any of the three, see
            :func:`~.gateways.record_of`), or that :class:`~.gateways.Record`.
        token: the token (SMS Club) or login the send used.
        complete: require every expected recipient in the result. A cancelled send
            only accounts for the numbers it had read: pass ``False``.
    """
    violations: list[str] = []
    expected = set(expected)
    buckets = Counter([*result.sent.values(), *result.failed, *result.unknown])
    for phone, times in buckets.items():
        if times > 1:
            violations.append(f"{phone} is in {times} places of sent/failed/unknown")
        if phone not in expected:
            violations.append(f"{phone} is in the result but was never asked for")
    if complete:
        violations.extend(f"{phone} is not accounted for" for phone in expected - set(buckets))

    record = sandbox if isinstance(sandbox, Record) else record_of(sandbox, token)
    for phone, times in record.deliveries.items():
        if times > 1:
            violations.append(f"{phone} was delivered {times} times")
    issued = record.pairs()
    for message_id, phone in issued:
        if result.sent.get(message_id) != phone and phone not in result.unknown:
            where = "failed" if phone in result.failed else "neither sent (with its id) nor unknown"
            violations.append(f"{phone} was delivered as {message_id} but is {where}")
    known = set(issued)
    for message_id, phone in result.sent.items():
        if (message_id, phone) not in known:
            violations.append(f"sent[{message_id}] = {phone}, the sandbox issued no such id")
    return violations


class CountingFaults(Faults):
    """:class:`Faults` that count what they drew (the gateway emulators keep no stats)."""

    __slots__ = ("drawn",)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.drawn: Counter[str] = Counter()

    def next_fault(self) -> Any:
        """Draw as :class:`Faults` does, and count it."""
        fault = super().next_fault()
        if fault is not None:
            self.drawn[fault] += 1
        return fault


async def run_scenario(
    scenario: Scenario,
    *,
    recipients: int,
    seed: int,
    personalized: bool = False,
    gateway: str = "smsclub",
    transport: TransportKind = "httpx",
) -> RunReport:
    """One bulk send of ``recipients`` numbers against a loopback emulator with faults.

    ``personalized`` uses ``send_personalized`` (one text per number) instead of
    ``send``; ``gateway`` picks the emulator and client, ``transport`` the client's
    HTTP transport (httpx's default or httpx-aiohttp).
    """
    gw = GATEWAYS[gateway]
    people = make_recipients(recipients, seed, gw)
    token = f"campaign-{scenario.name}-{seed}-{uuid.uuid4().hex}"
    faults = CountingFaults(seed=seed, latency=scenario.latency, **scenario.probabilities)
    emulator = gw.emulator(
        faults=faults,
        rate_limit=scenario.sandbox_rate,
        blacklist=people.blacklist if gw is SMSCLUB else None,
    )
    raised: str | None = None
    started = time.perf_counter()
    async with serve(emulator) as server:
        async with gw.client(
            token,
            base_url=server.url,
            transport=transport,
            rate_limit=scenario.client_rate,
            send_retry=scenario.retry_policy(),
            timeout=httpx.Timeout(scenario.read_timeout, connect=5.0),
        ) as sms:
            try:
                if personalized:
                    texts = [(raw, f"campaign {seed}: hello {raw}") for raw in people.raw]
                    result = await sms.send_personalized(iter(texts), sender=gw.sender)
                else:
                    result = await sms.send(people.raw, f"campaign {seed}", sender=gw.sender)
            except SmsClubError as exc:
                raised = type(exc).__name__
                result = exc.partial
            except Exception as exc:
                raised = f"escaped {type(exc).__name__}"
                result = getattr(exc, "partial", None) or SendResult()
        seconds = time.perf_counter() - started
        client = sms.stats
    violations = check_invariants(people.expected, result, emulator, token)
    if raised is not None and raised.startswith("escaped"):
        violations.insert(0, f"an exception that is not the library's: {raised}")
    rate_limited, statuses, requests = 0, {}, len(getattr(emulator, "requests", ()))
    if isinstance(emulator, Sandbox):
        stats = emulator.stats(token)
        requests, rate_limited = stats.count, stats.rate_limited
        statuses = {str(k): v for k, v in sorted(stats.statuses.items())}
        if scenario.no_429 and stats.rate_limited:
            densest = stats.densest_window()
            violations.append(f"{stats.rate_limited} answers were 429 (densest window {densest})")
    return RunReport(
        scenario=scenario.name + (" (v2)" if personalized else ""),
        seed=seed,
        recipients=len(people.expected),
        seconds=round(seconds, 3),
        sent=len(result.sent),
        failed=len(result.failed),
        unknown=len(result.unknown),
        delivered=sum(record_of(emulator, token).deliveries.values()),
        requests=requests,
        retries=client.retries,
        client_server_errors=client.server_errors,
        client_rate_limited=client.rate_limited,
        client_transport_errors=client.transport_errors,
        rate_limited=rate_limited,
        faults=dict(faults.drawn),
        statuses=statuses,
        raised=raised,
        violations=violations,
        gateway=gateway,
        transport=transport,
    )


def expected_numbers(raw: Iterable[str]) -> set[str]:
    """The distinct recipients a send of ``raw`` must account for."""
    return {normalize_phone(item) or item for item in raw}
