"""The strict per-token rate limit and the exact densest-window count."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsclub_async.sandbox import (
    ManualClock,
    Sandbox,
    SandboxConfig,
    SandboxRequest,
    SandboxTransport,
    densest_window,
)
from smsclub_async.sandbox._window import densest_containing

TIMES = st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), max_size=40)


def brute_densest(times: list[float], width: float) -> int:
    """Count, for every arrival as a window start, the arrivals in [start, start + width)."""
    return max((sum(1 for t in times if 0 <= t - start < width) for start in times), default=0)


@given(TIMES, st.sampled_from([1.0, 0.5, 0.1, 2.0]))
def test_densest_window_matches_brute_force(times: list[float], width: float) -> None:
    """The two-pointer count equals the brute-force count, in any input order."""
    assert densest_window(times, width) == brute_densest(times, width)


@given(TIMES.filter(bool), st.data())
def test_densest_containing_matches_brute_force(times: list[float], data: st.DataObject) -> None:
    """The densest window through one arrival, against brute force."""
    ordered = sorted(times)
    index = data.draw(st.integers(0, len(ordered) - 1))
    pivot = ordered[index]
    expected = max(
        sum(1 for t in ordered if 0 <= t - start < 1.0)
        for start in ordered
        if 0 <= pivot - start < 1.0
    )
    assert densest_containing(ordered, index, 1.0) == expected


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ([], 0),
        ([0.0], 1),
        ([0.0, 1.0], 1),
        ([0.0, 0.999999], 2),
        ([0.0, 0.5, 0.99, 1.0, 1.5], 3),
        ([3.0, 1.0, 2.5, 2.9, 1.1], 3),
        ([0.0] * 10, 10),
    ],
)
def test_densest_window_table(times: list[float], expected: int) -> None:
    """Windows are half-open: arrivals exactly one second apart never share one."""
    assert densest_window(times) == expected


def _balance(sandbox: Sandbox, now: float, token: str = "t") -> int:
    request = SandboxRequest.build(
        "POST", "/sms/balance", [("authorization", f"Bearer {token}")], b""
    )
    return sandbox.handle(request, now).status


@given(st.lists(st.integers(0, 3000), max_size=60), st.integers(1, 12))
def test_429_exactly_when_a_window_would_exceed_the_limit(steps_ms: list[int], limit: int) -> None:
    """Arrivals in time order: 429 iff the arrivals in (t - 1, t] (all counted) exceed the limit."""
    sandbox = Sandbox(SandboxConfig(rate_limit=limit))
    times: list[float] = []
    now = 0.0
    for step in steps_ms:
        now += step / 1000
        times.append(now)
        in_window = sum(1 for earlier in times if now - earlier < 1.0)
        assert (_balance(sandbox, now) == 429) == (in_window > limit)
    stats = sandbox.stats("t")
    assert stats.densest_window() == densest_window(times)
    assert (stats.rate_limited > 0) == (stats.densest_window() > limit)


async def test_tenth_request_within_a_second_is_429() -> None:
    """9 requests in 0.9 s pass; the 10th is 429 with Retry-After: 1, in Yii2's shape."""
    clock = ManualClock()
    sandbox = Sandbox(clock=clock)
    async with httpx.AsyncClient(
        transport=SandboxTransport(sandbox),
        base_url="https://x",
        headers={"Authorization": "Bearer t"},
    ) as client:
        statuses = []
        for tenth in range(10):
            clock.now = tenth / 10
            statuses.append((await client.post("/sms/balance")).status_code)
        clock.now = 1.05
        response = await client.post("/sms/balance")
    assert statuses == [200] * 9 + [429]
    # The refused request at 0.9 counts too: (0.05, 1.05] still holds ten.
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json() == {
        "name": "Too Many Requests",
        "message": "Rate limit exceeded.",
        "code": 0,
        "status": 429,
    }
    stats = sandbox.stats("t")
    assert (stats.count, stats.rate_limited, stats.densest_window()) == (11, 2, 10)
    assert stats.statuses == {200: 9, 429: 2}


def test_exactly_one_second_apart_is_a_new_window() -> None:
    """9 at t=0 and more at t=1.0 pass: the window is [t, t + 1)."""
    sandbox = Sandbox()
    assert [_balance(sandbox, 0.0) for _ in range(9)] == [200] * 9
    assert _balance(sandbox, 0.999) == 429
    assert [_balance(sandbox, 1.0) for _ in range(8)] == [200] * 8
    assert _balance(sandbox, 1.0) == 429  # 0.999 is still inside (0, 1.0]


def test_rate_limit_is_per_token() -> None:
    """Each token has its own window."""
    sandbox = Sandbox()
    assert [_balance(sandbox, 0.0, "a") for _ in range(9)] == [200] * 9
    assert _balance(sandbox, 0.0, "b") == 200
    assert _balance(sandbox, 0.0, "a") == 429


def test_arrivals_handled_out_of_order_still_limit() -> None:
    """An earlier arrival handled late (a slow body) still counts in its own window."""
    sandbox = Sandbox()
    for i in range(9):
        _balance(sandbox, 0.1 + i * 0.01)
    assert _balance(sandbox, 0.05) == 429  # its window [0.05, 1.05) holds all ten


def test_rate_limit_none_disables() -> None:
    """rate_limit=None never answers 429, but the arrivals are still counted."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None))
    assert {_balance(sandbox, 0.0) for _ in range(50)} == {200}
    assert sandbox.stats("t").densest_window() == 50


def test_custom_limit_and_period() -> None:
    """rate_limit and rate_period are configurable."""
    sandbox = Sandbox(SandboxConfig(rate_limit=2, rate_period=10))
    assert [_balance(sandbox, t) for t in (0, 5, 9.9, 10, 20.5)] == [200, 200, 429, 429, 200]
    assert sandbox.stats("t").densest_window() == 3
    assert sandbox.stats("t").densest_window(width=1) == 2
