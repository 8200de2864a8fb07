"""A process that sends a campaign with a journal, and may SIGKILL itself at a set moment.

    python -m tests.journal._crash_child '<json options>'

Options: ``url`` (the sandbox), ``token``, ``journal`` (``{"sqlite": path}`` or
``{"redis": url, "prefix": p}``), ``key``, ``phones`` (list), ``text``, ``engine``
(``"client"``: ``SmsClub(journal=...).send(key=...)``; ``"wrapper"``: ``journaled()``
around ``SmsClub.send`` per chunk, to test the journal without the client's plumbing),
``kill`` (``null`` or ``{"at": point, "n": k}``: SIGKILL at the k-th ``claim`` (before
the start mark is written), ``request`` (start marks written, the request not sent),
``response`` (the gateway answered, the answer not read), ``record`` (answer read,
done mark not written)).

Prints the result as one JSON line: ``{"sent": {...}, "failed": {...}, "unknown": {...}}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

import httpx
import redis.asyncio

from smsclub_async import SendResult, SmsClub, SmsClubError
from smsclub_async._phones import Chunk, chunk_phones
from smsclub_async.journal import (
    Claim,
    Journal,
    Outcome,
    RedisJournal,
    SqliteJournal,
    fingerprint,
    journaled,
)

SENDER = "VashZakaz"


class Killer:
    """SIGKILLs this process at the n-th event of one kind."""

    def __init__(self, spec: dict[str, Any] | None) -> None:
        self.at = spec["at"] if spec else None
        self.n = spec["n"] if spec else 0
        self.seen = 0

    def event(self, point: str) -> None:
        if point == self.at:
            self.seen += 1
            if self.seen >= self.n:
                os.kill(os.getpid(), signal.SIGKILL)


def killing(journal: Journal, killer: Killer) -> Journal:
    """The journal, killing the process before the n-th claim or record is written."""
    base = type(journal)

    class Killing(base):  # type: ignore[valid-type,misc]
        async def claim(
            self,
            key: str,
            phones: Sequence[str],
            *,
            owner: str,
            lease: float,
            distinct: bool = False,
        ) -> Claim:
            killer.event("claim")
            return await base.claim(  # type: ignore[no-any-return]
                self, key, phones, owner=owner, lease=lease, distinct=distinct
            )

        if hasattr(base, "claim_many"):  # SqliteJournal: the claims of a group, one write

            def claim_many(
                self, key: str, phone_lists: Sequence[Sequence[str]], **options: Any
            ) -> Any:
                for _ in phone_lists:
                    killer.event("claim")
                return base.claim_many(self, key, phone_lists, **options)

        async def record(
            self, key: str, outcomes: Sequence[Outcome], *, owner: str, attempt: str | None = None
        ) -> None:
            killer.event("record")
            await base.record(self, key, outcomes, owner=owner, attempt=attempt)

    journal.__class__ = Killing
    return journal


async def main(options: dict[str, Any]) -> None:
    killer = Killer(options.get("kill"))
    spec = options["journal"]
    client = None
    if "sqlite" in spec:
        journal: Journal = SqliteJournal(spec["sqlite"])
    else:
        client = redis.asyncio.Redis.from_url(spec["redis"])
        journal = RedisJournal(client, prefix=spec["prefix"])
    journal = killing(journal, killer)

    async def on_request(request: httpx.Request) -> None:
        killer.event("request")

    async def on_response(response: httpx.Response) -> None:
        killer.event("response")

    hooks = {"request": [on_request], "response": [on_response]}
    phones, text, key = options["phones"], options["text"], options["key"]
    if options["engine"] == "client":
        async with SmsClub(
            token=options["token"],
            base_url=options["url"],
            rate_limit=200,
            event_hooks=hooks,
            journal=journal,  # type: ignore[call-arg]
        ) as sms:
            try:
                result = await sms.send(phones, text, sender=SENDER, key=key)  # type: ignore[call-arg]
            except SmsClubError as exc:
                result = exc.partial
    else:
        async with SmsClub(
            token=options["token"], base_url=options["url"], rate_limit=200, event_hooks=hooks
        ) as sms:
            result = await wrapper_send(sms, journal, phones, text, key)
    await journal.aclose()
    if client is not None:
        await client.aclose()
    print(json.dumps({"sent": result.sent, "failed": result.failed, "unknown": result.unknown}))


async def wrapper_send(
    sms: SmsClub, journal: Journal, phones: list[str], text: str, key: str
) -> SendResult:
    """What the client's plumbing does, by hand: begin, then journaled() per chunk."""
    await journal.begin(key, fingerprint(text=text, sender=SENDER))

    async def send_chunk(chunk: Chunk) -> SendResult:
        try:
            return await sms.send(chunk.phones, text, sender=SENDER)
        except SmsClubError as exc:
            partial: SendResult = exc.partial
            return partial

    send = journaled(send_chunk, journal=journal, key=key, distinct=True)
    gate = asyncio.Semaphore(10)

    async def one(chunk: Chunk) -> SendResult:
        async with gate:
            return await send(chunk)

    chunks = [chunk async for chunk in chunk_phones(phones)]
    try:
        return SendResult.merged(await asyncio.gather(*(one(c) for c in chunks)))
    finally:
        await send.aclose()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
