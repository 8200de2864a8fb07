"""Reading the sandbox back: messages, deliveries, stats, reset; and the public names."""

from __future__ import annotations

from decimal import Decimal

import httpx

import smsclub_async.sandbox as sandbox_module
from smsclub_async.sandbox import Faults, ManualClock, Sandbox, SentMessage

from .sandbox_helpers import post, send_body


async def test_messages_record_everything(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: ManualClock
) -> None:
    """Each accepted message is listed with its text, sender, time, parts and status."""
    await post(client, "/sms/send", {**send_body("380989361131", message="я" * 71), "lifetime": 30})
    clock.advance(1)
    [message] = sandbox.messages()
    assert message == SentMessage(
        id="100",
        phone="380989361131",
        text="я" * 71,
        sender="VashZakaz",
        accepted_at=1000.0,
        parts=2,
        status="DELIVRD",
        account=message.account,
        lifetime=30,
        cost=Decimal("1.0000"),
    )
    assert sandbox.messages("test-token") == [message]
    assert sandbox.messages("nobody") == []


async def test_deliveries_show_double_sends(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """deliveries() counts accepted messages per phone, so a double send shows as 2."""
    await post(client, "/sms/send", send_body("380989361131", "380989361132"))
    await post(client, "/sms/send", send_body("380989361131", message="other"))
    assert sandbox.deliveries() == {"380989361131": 2, "380989361132": 1}
    assert max(sandbox.deliveries().values()) == 2


async def test_stats_count_statuses_paths_and_faults(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """stats() summarises every arrival of a token."""
    sandbox.faults.script(["error_before"])
    await client.post("/sms/send", json=send_body("380989361131"))
    await client.post("/sms/send", json=send_body("380989361131"))
    await client.post("/sms/send", json=send_body("380989361131"))
    await client.get("/sms/send")
    stats = sandbox.stats("test-token")
    assert stats.count == 4
    assert stats.statuses[200] == 1
    assert stats.statuses[453] == 1
    assert stats.statuses[405] == 1
    assert stats.faults == {"error_before": 1}
    assert stats.paths == {"/sms/send": 4}
    assert stats.rate_limited == 0
    assert stats.densest_window() == 4
    assert stats.as_json()["statuses"]["453"] == 1
    assert sandbox.stats().count == 4
    assert sandbox.stats("other").count == 0


async def test_introspection_paths_are_not_arrivals(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """/_sandbox/ requests are not recorded, rate limited or faulted."""
    sandbox.faults = Faults(error_before=1.0, scope="all")
    response = await client.get("/_sandbox/stats")
    assert response.status_code == 200
    assert response.json()["total"]["arrivals"] == 0
    assert (await client.get("/_sandbox/messages")).json() == {"messages": []}


async def test_reset_forgets_state_but_keeps_configuration(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """reset() empties accounts, messages and arrivals and restarts the ids."""
    sandbox.set_balance(3)
    sandbox.add_blacklist("380989361132")
    await post(client, "/sms/send", send_body("380989361131"))
    sandbox.reset()
    assert sandbox.messages() == []
    assert sandbox.stats().count == 0
    assert sandbox.balance("test-token") == Decimal("1000")
    answer = await post(client, "/sms/send", send_body("380989361131", "380989361132"))
    assert answer == {"success_request": {"info": {"100": "380989361131", "101": "380989361132"}}}


def test_repr_is_informative() -> None:
    """The sandbox's repr says what it holds."""
    assert repr(Sandbox()).startswith("Sandbox(accounts=0, arrivals=0, next_id=100")


def test_exports_are_sorted_and_complete() -> None:
    """__all__ is sorted, names exist, and every public name is exported."""
    exported = sandbox_module.__all__
    assert exported == sorted(exported, key=lambda name: (not name.isupper(), name))
    assert all(hasattr(sandbox_module, name) for name in exported)
    public = {
        name
        for name in vars(sandbox_module)
        if not name.startswith("_")
        and not isinstance(getattr(sandbox_module, name), type(sandbox_module))
    }
    assert public == set(exported)
