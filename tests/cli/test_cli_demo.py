"""``smsclub demo``: a real loopback bulk send whose numbers add up."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from smsclub_async.cli._demo import generate_recipients
from smsclub_async.gateways import normalize_phone

from .conftest import Invoke

pytestmark = pytest.mark.loopback


@pytest.mark.parametrize("count", [1, 7, 100, 3000])
def test_generated_recipients_have_the_announced_mix(count: int) -> None:
    audience = generate_recipients(count, seed=1)
    assert len(audience.raw) == count
    normalised = [normalize_phone(entry) for entry in audience.raw]
    assert [p for p in normalised if p] == [p for p in normalised if p]
    assert len(set(audience.valid)) == len(audience.valid) >= 1
    assert set(audience.valid) == {p for p in normalised if p is not None}
    assert sorted(e for e, p in zip(audience.raw, normalised, strict=True) if p is None) == sorted(
        audience.invalid
    )
    assert len(set(audience.invalid)) == len(audience.invalid)
    assert audience.repeats == count - len(audience.valid) - len(audience.invalid)
    assert set(audience.blacklisted) <= set(audience.valid)
    assert len(audience.blacklisted) < len(audience.valid) or len(audience.valid) == 1
    if count >= 100:
        assert audience.invalid
        assert audience.repeats
        assert audience.blacklisted


def test_demo_over_loopback_adds_up(invoke: Invoke) -> None:
    """Every distinct generated phone lands in exactly one of sent/failed/unknown,
    the sandbox accepted exactly the ids the client reports, no phone twice, no 429."""
    result = invoke("demo", "--recipients", "400", "--delivery-delay", "0.5", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    send = document["send"]
    sent_phones = list(send["sent"].values())
    outcomes = [*sent_phones, *send["failed"], *send["unknown"]]
    distinct = {normalize_phone(raw) or raw for raw in document["generated"]}
    assert len(document["generated"]) == 400
    assert len(outcomes) == len(set(outcomes)), "a phone in two outcomes"
    assert set(outcomes) == distinct
    assert send["not_sent"] == []
    assert send["interrupted"] is False

    counts = document["recipients"]
    assert counts["distinct_valid"] + counts["invalid"] == len(distinct)
    blacklisted = [p for p, r in send["failed"].items() if r == "This number is in the black list"]
    assert sorted(blacklisted) == sorted(document["blacklisted"])
    assert send["summary"]["failed"] == counts["blacklisted"] + counts["invalid"]
    assert send["summary"]["sent"] == counts["distinct_valid"] - counts["blacklisted"]
    assert send["summary"]["requests"] == -(-counts["distinct_valid"] // 100)

    sandbox = document["sandbox"]
    assert sandbox["messages"] == len(send["sent"]) == sandbox["phones_delivered"]
    assert sandbox["delivered_twice"] == 0
    assert sandbox["rate_limited"] == 0
    assert sandbox["densest_window"] <= 9
    assert sandbox["paths"]["/sms/send"] == send["summary"]["requests"]

    delivery = document["delivery"]
    assert delivery["all_final"] is True
    assert sum(delivery["counts"].values()) == len(send["sent"])
    ends_in_9 = sum(1 for phone in sent_phones if phone.endswith("9"))
    assert delivery["counts"].get("UNDELIV", 0) == ends_in_9

    spent = float(document["balance_before"]["money"]) - float(document["balance_after"]["money"])
    assert spent == pytest.approx(0.5 * len(send["sent"]))
    assert all(document["checks"].values()), document["checks"]
    assert "The sandbox's own record" in result.stderr


def test_demo_human_output(invoke: Invoke) -> None:
    result = invoke("demo", "-n", "120", "--delivery-delay", "0.2")
    assert result.exit_code == 0, result.stderr
    for text in ("generated recipients", "balance before", "Done:", "Statuses of", "densest"):
        assert text in result.stdout
    assert "FAIL" not in result.stdout
    assert Counter(result.stdout.split())["ok"] >= 5


def test_demo_fault_drill_risks_duplicates_and_sends_none(invoke: Invoke) -> None:
    """The drill's requests are spoiled before and after processing; the sandbox's own
    record shows processed requests whose answers were lost (a real duplicates risk),
    yet no number delivered twice, and no number the sandbox accepted reported failed."""
    result = invoke("demo", "-n", "100", "--delivery-delay", "0.2", "--json")
    assert result.exit_code == 0, result.stderr
    drill = json.loads(result.stdout)["fault_drill"]
    record = drill["sandbox"]
    assert record["processed_then_spoiled"] >= 2
    assert set(record["faults"]) >= {"drop_after", "error_after", "error_before", "drop_before"}
    assert record["refused_as_duplicates"] == record["processed_then_spoiled"]
    assert record["delivered_twice"] == 0
    assert record["messages"] == drill["recipients"]
    assert drill["unknown"] == 100 * record["processed_then_spoiled"]
    assert drill["failed"] == 0
    assert drill["sent"] + drill["unknown"] == drill["recipients"]
    assert drill["client_retries"] >= len(drill["injected"])


def test_demo_explains_undeliv_and_ends_with_a_next_step(invoke: Invoke) -> None:
    result = invoke("demo", "-n", "120", "--delivery-delay", "0.2")
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "simulated. The sandbox fails delivery to every number ending in 9" in text
    assert "Fault drill" in text
    assert "numbers delivered twice 0" in text
    tail = text.split("finished in")[1]
    assert "Next:" in tail
    assert "SMSCLUB_TOKEN" in tail
    assert "smsclub send" in tail
    assert "https://" in tail
