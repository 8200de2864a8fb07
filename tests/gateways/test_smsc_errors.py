"""Every SMSC error code raises the exception that names its documented meaning."""

from __future__ import annotations

import pytest

from smsclub_async import (
    APIError,
    AuthenticationError,
    InsufficientFundsError,
    NotFoundError,
    RateLimitedError,
    ValidationError,
)
from smsclub_async.gateways import SmscClient
from smsclub_async.gateways._smsc_wire import ERRORS, ErrorInfo, error_for, refusal_for
from smsclub_async.sandbox.gateways import SmscSandbox

SEND_TABLE = [
    (1, ValidationError, "error in the parameters"),
    (2, AuthenticationError, "invalid login or password"),
    (3, InsufficientFundsError, "not enough money"),
    (4, RateLimitedError, "IP address is temporarily blocked"),
    (5, ValidationError, "invalid date format"),
    (6, ValidationError, "forbidden (by its text or sender name)"),
    (7, ValidationError, "invalid phone number format"),
    (8, ValidationError, "cannot be delivered to this number"),
    (9, RateLimitedError, "more than one identical send request"),
]
SENDERS_TABLE = [
    (1, ValidationError, "error in the parameters"),
    (2, AuthenticationError, "not on the account's allowed list"),
    (3, NotFoundError, "sender name not found"),
    (4, RateLimitedError, "temporarily blocked"),
    (5, APIError, "error saving or deleting the sender name"),
    (7, ValidationError, "invalid phone number format"),
    (8, ValidationError, "confirmation code cannot be delivered"),
    (9, RateLimitedError, "more than three identical sender-list requests"),
    (10, RateLimitedError, "new one can be sent in 8 hours"),
    (11, ValidationError, "invalid confirmation code"),
]
STATUS_TABLE = [
    (1, ValidationError, "error in the parameters"),
    (2, AuthenticationError, "invalid login or password"),
    (3, NotFoundError, "message not found"),
    (4, RateLimitedError, "temporarily blocked"),
    (5, APIError, "error deleting the message"),
    (9, RateLimitedError, "more than five status requests for the same message"),
]
BALANCE_TABLE = [
    (1, ValidationError, "error in the parameters"),
    (2, AuthenticationError, "invalid login or password"),
    (4, RateLimitedError, "temporarily blocked"),
    (9, RateLimitedError, "15 or more concurrent requests"),
]


def _scrub(text: str) -> str:
    return text


@pytest.mark.parametrize(
    ("kind", "code", "cls", "meaning"),
    [("send", *row) for row in SEND_TABLE]
    + [("senders", *row) for row in SENDERS_TABLE]
    + [("status", *row) for row in STATUS_TABLE]
    + [("balance", *row) for row in BALANCE_TABLE],
)
def test_each_code_maps_to_its_exception_and_meaning(
    kind: str, code: int, cls: type[APIError], meaning: str
) -> None:
    """The table: (endpoint, code) -> exception class, documented meaning, code in fields."""
    error = error_for(kind, ErrorInfo(code, "text from the gateway"), endpoint="/x", scrub=_scrub)  # type: ignore[arg-type]
    assert type(error) is cls
    assert meaning in str(error)
    assert f"SMSC error {code}" in str(error)
    assert "text from the gateway" in str(error)
    assert error.fields["error_code"] == str(code)
    assert error.status_code == 200


def test_the_tables_cover_the_documented_codes() -> None:
    """send.php 1-9; senders.php 1-5 and 7-11 (shared/reference); status; balance."""
    assert sorted(ERRORS["send"]) == list(range(1, 10))
    assert sorted(ERRORS["senders"]) == [1, 2, 3, 4, 5, 7, 8, 9, 10, 11]
    assert sorted(ERRORS["status"]) == [1, 2, 3, 4, 5, 9]
    assert sorted(ERRORS["balance"]) == [1, 2, 4, 9]


def test_an_undocumented_code_is_a_plain_api_error() -> None:
    """A code the tables do not know still raises, as APIError, with the code."""
    error = error_for("send", ErrorInfo(42), endpoint="/x", scrub=_scrub)
    assert type(error) is APIError
    assert "undocumented" in str(error)


@pytest.mark.parametrize(
    ("kind", "code", "retry", "retry_after"),
    [
        ("send", 4, True, 60.0),
        ("send", 9, True, None),
        ("status", 9, True, 60.0),
        ("senders", 9, True, 60.0),
        ("cost", 9, True, 60.0),
        ("balance", 4, True, 60.0),
        ("send", 3, False, None),
        ("send", 7, False, None),
        ("senders", 10, False, 8 * 3600.0),
    ],
)
def test_which_refusals_are_retried_and_how_long_after(
    kind: str, code: int, retry: bool, retry_after: float | None
) -> None:
    """4 waits a minute; 9 of a read waits a minute, 9 of a send the policy's backoff."""
    refusal = refusal_for(kind, ErrorInfo(code), 1, endpoint="/x", scrub=_scrub)  # type: ignore[arg-type]
    assert refusal.retry is retry
    if code == 10:
        assert isinstance(refusal.error, RateLimitedError)
        assert refusal.error.retry_after == retry_after
    else:
        assert refusal.retry_after == retry_after
    assert refusal.duplicate is (kind == "send" and code == 9)


def test_a_repeated_block_waits_longer_each_time() -> None:
    """Error 4 again: 60 s, then 120 s (beyond the default policy's 60 s: it stops)."""
    first = refusal_for("balance", ErrorInfo(4), 1, endpoint="/x", scrub=_scrub)
    second = refusal_for("balance", ErrorInfo(4), 2, endpoint="/x", scrub=_scrub)
    assert (first.retry_after, second.retry_after) == (60.0, 120.0)


# ----------------------------------------------------------------- through the client


@pytest.mark.parametrize(("code", "cls", "meaning"), SEND_TABLE)
async def test_send_refusals_raise_with_partial(
    code: int, cls: type[APIError], meaning: str, smsc: SmscClient, smsc_sandbox: SmscSandbox
) -> None:
    """A refused send raises its class; the phones are in failed (or unknown), never lost."""
    smsc_sandbox.script([code] * 5)
    if code == 9:
        # A lasting 9 on a first attempt is the duplicate rule: reported, not raised.
        result = await smsc.send("77011234567", "Hi")
        assert result.failed["77011234567"].startswith("not sent: SMSC refused it as a repeat")
        return
    with pytest.raises(cls) as caught:
        await smsc.send("77011234567", "Hi")
    assert meaning in str(caught.value)
    partial = caught.value.partial
    assert set(partial.failed) == {"77011234567"}
    assert not partial.sent
    assert not partial.unknown


@pytest.mark.parametrize(("code", "cls", "meaning"), BALANCE_TABLE)
async def test_balance_refusals_raise(
    code: int, cls: type[APIError], meaning: str, smsc: SmscClient, smsc_sandbox: SmscSandbox
) -> None:
    """balance.php: 1, 2, 4, 9 raise their class after the retries the code allows."""
    smsc_sandbox.script([code] * 10)
    with pytest.raises(cls) as caught:
        await smsc.balance()
    assert meaning in str(caught.value)


async def test_status_of_an_unknown_pair_is_missing_not_an_error(smsc: SmscClient) -> None:
    """status.php error 3 (one pair) and status -3 (several) both end in ``missing``."""
    one = await smsc.status("999:77011234567")
    assert one.missing == ["999:77011234567"]
    assert not one
    several = await smsc.status(["999:77011234567", ("998", "77011234568")])
    assert sorted(several.missing) == ["998:77011234568", "999:77011234567"]
    assert several.raw == {"999:77011234567": "-3", "998:77011234568": "-3"}


async def test_error_messages_name_the_endpoint_and_what_to_do(
    smsc: SmscClient, smsc_sandbox: SmscSandbox
) -> None:
    """The text says where, which code, what it means, what the gateway said, and what to do."""
    smsc_sandbox.script([6])
    with pytest.raises(ValidationError) as caught:
        await smsc.send("77011234567", "Hi")
    text = str(caught.value)
    assert text.startswith("/sys/send.php: SMSC error 6 (the message is forbidden")
    assert "message is denied" in text  # the gateway's own words
    assert "use a registered sender name" in text
