"""``key=`` through the clients, in process against the sandbox: the engine's plumbing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from smsclub_async import SmsClub
from smsclub_async.errors import AuthenticationError
from smsclub_async.journal import JournalConflictError, SqliteJournal
from smsclub_async.sandbox import Sandbox, SandboxConfig, SandboxTransport

PHONES = [f"38068{i:07d}" for i in range(450)]


def client(sandbox: Sandbox, **options: object) -> SmsClub:
    return SmsClub(token="keys", transport=SandboxTransport(sandbox), rate_limit=1000, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("journal", ["memory", "sqlite"])
async def test_two_sends_with_one_key_at_once_deliver_each_number_once(
    journal: str, tmp_path: Path
) -> None:
    """Two coroutines, one key (the per-client memory journal, or a SQLite file the
    second call finds held by the first): each number once, both results whole."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None))
    options = {"journal": SqliteJournal(tmp_path / "j.db")} if journal == "sqlite" else {}
    async with client(sandbox, **options) as sms:
        first, second = await asyncio.gather(
            sms.send(PHONES, "Sale", sender="VashZakaz", key="k"),
            sms.send(PHONES[::-1], "Sale", sender="VashZakaz", key="k"),
        )
    delivered = sandbox.deliveries()
    assert len(delivered) == len(PHONES)
    assert max(delivered.values()) == 1
    assert first.sent == second.sent
    assert sorted(first.sent.values()) == sorted(PHONES)


async def test_a_send_frees_its_key_when_it_ends(tmp_path: Path) -> None:
    """The next call with the key does not wait for the first one's lease: it reads the
    journal at once and sends nothing again."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None))
    path = tmp_path / "j.db"
    async with client(sandbox, journal=SqliteJournal(path)) as sms:
        first = await sms.send(PHONES[:250], "Sale", sender="VashZakaz", key="k")
        loop = asyncio.get_running_loop()
        started = loop.time()
        again = await sms.send(PHONES[:300], "Sale", sender="VashZakaz", key="k")
        took = loop.time() - started
    assert took < 5  # far below the 30 s lease a dead holder would cost
    assert set(first.sent.items()) <= set(again.sent.items())
    assert sorted(again.sent.values()) == sorted(PHONES[:300])
    assert max(sandbox.deliveries().values()) == 1


async def test_a_key_reused_for_another_text_sends_nothing(tmp_path: Path) -> None:
    """Same key, other text: JournalConflictError before any request."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None))
    async with client(sandbox, journal=SqliteJournal(tmp_path / "j.db")) as sms:
        await sms.send(PHONES[:5], "Sale", sender="VashZakaz", key="k")
        before = len(sandbox.messages())
        with pytest.raises(JournalConflictError):
            await sms.send(PHONES[:5], "Another text", sender="VashZakaz", key="k")
        assert len(sandbox.messages()) == before


async def test_send_personalized_with_a_key_resumes_with_the_right_texts(tmp_path: Path) -> None:
    """A personalised send with a key: the second call sends only the new pairs."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None))
    texts = {phone: f"Hello {n}" for n, phone in enumerate(PHONES[:150])}
    async with client(sandbox, journal=SqliteJournal(tmp_path / "j.db")) as sms:
        first = dict(list(texts.items())[:100])
        await sms.send_personalized(first, sender="VashZakaz", key="p")
        result = await sms.send_personalized(texts, sender="VashZakaz", key="p")
    assert sorted(result.sent.values()) == sorted(texts)
    messages = sandbox.messages()
    assert len(messages) == 150
    assert all(texts[m.phone] == m.text for m in messages)


class RevokedAfter(httpx.AsyncBaseTransport):
    """The sandbox until ``requests`` went through, then 401 (the token was revoked),
    a moment later than the answers before it."""

    def __init__(self, sandbox: Sandbox, requests: int) -> None:
        self.inner = SandboxTransport(sandbox)
        self.left = requests

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.left <= 0:
            await asyncio.sleep(0.05)
            return httpx.Response(401, json={"success_request": {"info": "bad token"}})
        self.left -= 1
        return await self.inner.handle_async_request(request)


async def test_a_list_is_claimed_in_groups(tmp_path: Path) -> None:
    """A finite send's chunks are claimed a group at a time: far fewer journal
    transactions than requests, and every number delivered once."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None))
    journal = SqliteJournal(tmp_path / "j.db")
    transactions = 0
    run = journal._thread._run

    def counting(jobs: list[object]) -> None:
        nonlocal transactions
        transactions += 1
        run(jobs)  # type: ignore[arg-type]

    journal._thread._run = counting  # type: ignore[method-assign]
    phones = [f"38066{i:07d}" for i in range(2000)]  # 20 requests
    async with client(sandbox, journal=journal) as sms:
        result = await sms.send(phones, "Sale", sender="VashZakaz", key="k")
    assert sorted(result.sent.values()) == phones
    assert max(sandbox.deliveries().values()) == 1
    assert transactions <= 10


@pytest.mark.parametrize("source", ["list", "generator"])
async def test_chunks_claimed_ahead_of_a_fatal_stop_are_given_back(
    source: str, tmp_path: Path
) -> None:
    """A 401 after the first request: the chunks read ahead are reported not sent,
    their claims given back, and a rerun with the key sends exactly them."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None))
    path = tmp_path / "j.db"
    phones = [f"38066{i:07d}" for i in range(1000)]
    async with SmsClub(
        token="keys",
        transport=RevokedAfter(sandbox, 1),
        rate_limit=1000,
        max_concurrency=3,  # a group of three read ahead while the 401 is on its way
        journal=SqliteJournal(path),
    ) as sms:
        with pytest.raises(AuthenticationError) as caught:
            await sms.send(
                phones if source == "list" else iter(phones), "Sale", sender="VashZakaz", key="k"
            )
    partial = caught.value.partial
    assert len(partial.sent) == 100
    reported = sorted([*partial.sent.values(), *partial.failed])
    # A list is reported whole; of a generator, every number read from it.
    assert reported == phones if source == "list" else reported == phones[: len(reported)]
    assert len(reported) >= 600  # the first request, three in flight, two read ahead
    async with SqliteJournal(path) as journal:
        (summary,) = await journal.summary()
    assert (summary.sent, summary.started) == (100, 0)
    async with client(sandbox, journal=SqliteJournal(path)) as sms:
        again = await sms.send(phones, "Sale", sender="VashZakaz", key="k")
    assert sorted(again.sent.values()) == phones
    assert set(sandbox.deliveries().values()) == {1}
