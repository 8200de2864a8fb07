"""``key=`` through the clients, in process against the sandbox: the engine's plumbing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from smsclub_async import SmsClub
from smsclub_async.journal import JournalConflictError, SqliteJournal
from smsclub_async.sandbox import Sandbox, SandboxConfig, SandboxTransport

PHONES = [f"38068{i:07d}" for i in range(450)]


def client(sandbox: Sandbox, **options: object) -> SmsClub:
    return SmsClub(token="keys", transport=SandboxTransport(sandbox), rate_limit=1000, **options)  # type: ignore[arg-type]


async def test_two_sends_with_one_key_at_once_deliver_each_number_once() -> None:
    """Two coroutines, one key, the per-client memory journal: each number once, both whole."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None))
    async with client(sandbox) as sms:
        first, second = await asyncio.gather(
            sms.send(PHONES, "Sale", sender="VashZakaz", key="k"),
            sms.send(PHONES[::-1], "Sale", sender="VashZakaz", key="k"),
        )
    delivered = sandbox.deliveries()
    assert len(delivered) == len(PHONES)
    assert max(delivered.values()) == 1
    assert first.sent == second.sent
    assert sorted(first.sent.values()) == sorted(PHONES)


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
