"""Small helpers shared by the sandbox tests."""

from __future__ import annotations

from typing import Any

import httpx


async def post(client: httpx.AsyncClient, path: str, body: Any = None) -> Any:
    """POST ``body`` as JSON (or nothing), expect 200, return the decoded answer."""
    response = await client.post(path, json=body) if body is not None else await client.post(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    return response.json()


def send_body(*phones: str, message: str = "test text", sender: str = "VashZakaz") -> Any:
    """A /sms/send body."""
    return {"phone": list(phones), "src_addr": sender, "message": message}
