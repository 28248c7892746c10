"""One-shot client use cases of `lume director send | watch`: one command, or follow the state."""
from __future__ import annotations

import logging
from typing import Any, AsyncIterator

from ._client import CommandRefused, DirectorClient, watch


class BusUnreachable(OSError):
    """The bus could not be reached (or the connection broke); the message names the URL."""


async def send_once(role: str, url: str, frame: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Identify as `role`, send one frame, and return the reply: `ack` (with the version),
    `sent` (no reply expected), the server's refusal frame, or `unreachable`."""
    # One shot: the reconnect loop's retry warnings are noise here; the outcome is returned.
    logging.getLogger("lume.runtime.director.client").setLevel(logging.ERROR)
    client = DirectorClient(role, url, heartbeat=False, open_timeout=timeout)
    try:
        if not await client.connect(timeout):
            return {"type": "unreachable", "code": "unreachable",
                    "message": f"director bus at {client.control_url} unreachable: {client.last_error}"}
        try:
            version = await client.send(frame, check=False, timeout=timeout)
        except CommandRefused as exc:
            return exc.frame
        return {"type": "ack", "version": version} if version is not None else {"type": "sent"}
    finally:
        await client.close()


async def follow(url: str, count: int | None = None) -> AsyncIterator[dict[str, Any]]:
    """Frames of the state endpoint, ending after `count` state frames. ValueError for a bad
    URL, BusUnreachable when the bus cannot be reached or drops the connection."""
    import websockets

    seen = 0
    try:
        async for frame in watch(url):
            yield frame
            if frame.get("type") == "state":
                seen += 1
                if count is not None and seen >= count:
                    return
    except websockets.exceptions.InvalidURI as exc:
        raise ValueError(str(exc)) from exc
    except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
        raise BusUnreachable(f"director bus at {url} unreachable: {exc}") from exc
