"""The sandbox: accounts, routing, rate limit, faults and introspection (no I/O)."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import Decimal

from . import _injection as injection
from . import _texts as texts
from ._accounts import Account, Sender, SentMessage, account_id, money
from ._config import APPROVED, SENDER_STATES, SandboxConfig
from ._context import Context
from ._faults import BEFORE_FAULTS, Faults
from ._introspection import INTROSPECTION_PREFIX, introspect
from ._routes import ROUTES
from ._stats import Arrival, SandboxStats
from ._wire import SandboxRequest, SandboxResponse, error_response, parse_params

__all__ = ["Sandbox"]

# Yii2's HttpBearerAuth pattern: the scheme is case-sensitive.
_BEARER = re.compile(r"Bearer\s+(.*?)")
_UNAUTHORIZED_HEADERS = (("www-authenticate", 'Bearer realm="api"'),)
_RETRY_AFTER = (("retry-after", "1"),)


class Sandbox:
    """A local SMS Club gateway: the JSON API's behaviour, state and limits.

    Each bearer token is its own account, created on first use from the
    defaults (``config``, as edited by the ``token=None`` forms of the editing
    methods). :meth:`handle` is the whole gateway; the transport, ASGI app and
    loopback server only carry bytes to and from it.

    Args:
        config: Defaults, timings and limits; ``SandboxConfig()`` if omitted.
        tokens: The accepted tokens; ``None`` accepts any non-empty token.
        clock: Seconds, for arrival times, delivery, duplicates and
            moderation; a :class:`ManualClock` lets a test jump ahead.
        faults: Fault injection; none if omitted.

    Example:
        >>> from smsclub_async.sandbox import ManualClock
        >>> clock = ManualClock()
        >>> sandbox = Sandbox(tokens=["secret"], clock=clock)
        >>> request = SandboxRequest.build(
        ...     "POST", "/sms/balance", [("Authorization", "Bearer secret")], b""
        ... )
        >>> sandbox.handle(request, clock()).body
        b'{"success_request":{"info":{"money":"1000.0000","currency":"UAH"}}}'
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        tokens: Iterable[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        faults: Faults | None = None,
    ) -> None:
        self.config = SandboxConfig() if config is None else config
        self.clock = clock
        self.faults = Faults() if faults is None else faults
        self._tokens = None if tokens is None else frozenset(tokens)
        self._accounts: dict[str, Account] = {}
        self._arrivals: list[Arrival] = []
        self._next_id = self.config.first_id
        self._template = self._fresh_template()

    def __repr__(self) -> str:
        return (
            f"Sandbox(accounts={len(self._accounts)}, arrivals={len(self._arrivals)},"
            f" next_id={self._next_id}, faults={self.faults!r})"
        )

    # -- the gateway ---------------------------------------------------------

    def handle(self, request: SandboxRequest, now: float) -> SandboxResponse:
        """Answer one request that arrived at ``now`` (on this sandbox's clock).

        Every gateway request is recorded as an arrival, counts towards its
        token's rate limit, and may draw a fault; ``/_sandbox/`` paths do none
        of that.
        """
        if request.path.startswith(INTROSPECTION_PREFIX):
            return introspect(request.path, self.messages, self._arrivals, self.config.rate_period)
        token = _bearer_token(request.headers.get("authorization", ""))
        account = self._account(token) if self._accepts(token) else None
        over_limit = account is not None and account.arrive(
            now, self.config.rate_limit, self.config.rate_period
        )
        faulted = request.path in ROUTES and self.faults.applies_to(request.path)
        fault = self.faults.next_fault() if faulted else None
        delay = self.faults.next_delay() if faulted else 0.0
        if fault in BEFORE_FAULTS:
            assert fault is not None
            response = injection.before(fault, self.faults)
        else:
            response = self._respond(request, account, over_limit, now)
            if fault is not None:
                response = injection.after(fault, response, self.faults)
        if delay:
            response = replace(response, delay=delay)
        status = None if response.disposition == "drop" else response.status
        self._arrivals.append(
            Arrival(now, account_id(token) if token else "", request.path, status, fault)
        )
        return response

    def _respond(
        self, request: SandboxRequest, account: Account | None, over_limit: bool, now: float
    ) -> SandboxResponse:
        route = ROUTES.get(request.path)
        if route is None:
            return error_response(404, "Page not found.")
        if request.method not in route.methods:
            allowed = ", ".join(sorted(route.methods))
            return error_response(
                405,
                "Method Not Allowed. This URL can only handle the following request"
                f" methods: {allowed}.",
                (("allow", allowed),),
            )
        if account is None:
            return error_response(401, texts.INVALID_CREDENTIALS, _UNAUTHORIZED_HEADERS)
        if over_limit:
            return error_response(429, texts.RATE_LIMITED, _RETRY_AFTER)
        if len(request.body) > self.config.max_body:
            return error_response(413, "Request body is too large.")
        params = parse_params(request.body)
        if isinstance(params, SandboxResponse):
            return params
        context = Context(self.config, account, now, self._issue_id)
        return route.handler(context, params)

    def _issue_id(self) -> str:
        message_id = self._next_id
        self._next_id += 1
        return str(message_id)

    def _accepts(self, token: str) -> bool:
        return bool(token) and (self._tokens is None or token in self._tokens)

    # -- accounts ------------------------------------------------------------

    def _fresh_template(self) -> Account:
        return Account(
            id="",
            balance=money(self.config.balance),
            senders={name: Sender(state) for name, state in self.config.senders.items()},
            blacklist=set(self.config.blacklist),
        )

    def _account(self, token: str) -> Account:
        key = account_id(token)
        account = self._accounts.get(key)
        if account is None:
            template = self._template
            account = Account(
                id=key,
                balance=template.balance,
                senders={name: replace(sender) for name, sender in template.senders.items()},
                blacklist=set(template.blacklist),
            )
            self._accounts[key] = account
        return account

    def _targets(self, token: str | None) -> list[Account]:
        if token is None:
            return [self._template, *self._accounts.values()]
        return [self._account(token)]

    def reset(self) -> None:
        """Forget every account, message and arrival, and restart the ids.

        The configuration, accepted tokens, clock and faults stay as they are.
        """
        self._accounts.clear()
        self._arrivals.clear()
        self._next_id = self.config.first_id
        self._template = self._fresh_template()

    def set_balance(self, amount: Decimal | float | str, *, token: str | None = None) -> None:
        """Set the balance of ``token``'s account, or of every account (now and later)."""
        for account in self._targets(token):
            account.balance = money(amount)

    def balance(self, token: str) -> Decimal:
        """The balance of ``token``'s account."""
        return self._account(token).balance

    def add_blacklist(self, *phones: str, token: str | None = None) -> None:
        """Blacklist ``phones`` for ``token``'s account, or for every account."""
        for account in self._targets(token):
            account.blacklist.update(phones)

    def remove_blacklist(self, *phones: str, token: str | None = None) -> None:
        """Take ``phones`` off the blacklist of ``token``'s account, or of every account."""
        for account in self._targets(token):
            account.blacklist.difference_update(phones)

    def add_sender(self, name: str, state: str = APPROVED, *, token: str | None = None) -> None:
        """Give ``token``'s account (or every account) the sender ``name`` in ``state``."""
        if state not in SENDER_STATES:
            raise ValueError(f"unknown sender state {state!r}; expected one of {SENDER_STATES}")
        for account in self._targets(token):
            account.senders[name] = Sender(state)

    def senders(self, token: str) -> dict[str, str]:
        """Sender name -> state (as of now) of ``token``'s account."""
        return self._account(token).sender_states(self.clock())

    # -- introspection -------------------------------------------------------

    def messages(self, token: str | None = None) -> list[SentMessage]:
        """Every accepted message of ``token`` (or of all tokens), oldest first."""
        now = self.clock()
        found = [
            message.snapshot(now)
            for account in self._select(token)
            for message in account.messages.values()
        ]
        return sorted(found, key=lambda message: int(message.id))

    def deliveries(self, token: str | None = None) -> Counter[str]:
        """Phone -> how many messages were accepted for it: more than 1 is a double send."""
        return Counter(
            message.phone
            for account in self._select(token)
            for message in account.messages.values()
        )

    def stats(self, token: str | None = None) -> SandboxStats:
        """The arrivals of ``token`` (any arrival with that bearer, accepted or not), or all."""
        if token is None:
            arrivals = tuple(self._arrivals)
        else:
            key = account_id(token)
            arrivals = tuple(a for a in self._arrivals if a.account == key)
        return SandboxStats(arrivals, self.config.rate_period)

    def _select(self, token: str | None) -> list[Account]:
        if token is None:
            return list(self._accounts.values())
        account = self._accounts.get(account_id(token))
        return [] if account is None else [account]


def _bearer_token(header: str) -> str:
    match = _BEARER.fullmatch(header)
    return match.group(1).strip() if match else ""
