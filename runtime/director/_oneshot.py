"""One-shot client use cases of `lume director send | watch`: one command, or follow the state."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator

from ._client import CommandRefused, DirectorClient, watch
from ._devices import DeviceKey


class BusUnreachable(OSError):
    """The bus could not be reached (or the connection broke); the message names the URL."""


class WatchTimedOut(Exception):
    """`watch` waited its whole timeout without the state frames it was asked for."""

    def __init__(self, seen: int, wanted: int | None, timeout: float) -> None:
        self.seen, self.wanted, self.timeout = seen, wanted, timeout
        want = f" of {wanted}" if wanted is not None else ""
        super().__init__(f"timed out after {timeout:g}s with {seen}{want} state frame(s)")


async def send_once(role: str, url: str, frame: dict[str, Any], timeout: float,
                    key: DeviceKey) -> dict[str, Any]:
    """Identify as `role` with the device `key`, send one frame, and return the reply: `ack`
    (with the version), the server's refusal frame (of the command or of the identify), or
    `unreachable`."""
    # One shot: the reconnect loop's retry warnings are noise here; the outcome is returned.
    logging.getLogger("lume.runtime.director._client").setLevel(logging.ERROR)
    client = DirectorClient(role, key, url, heartbeat=False, open_timeout=timeout)
    try:
        if not await client.connect(timeout):
            if isinstance(client.last_error, CommandRefused):  # the identify was refused
                return client.last_error.frame
            return {"type": "unreachable", "code": "unreachable",
                    "message": f"director bus at {client.control_url} unreachable: {client.last_error}"}
        try:
            version = await client.send(frame, check=False, timeout=timeout)
        except CommandRefused as exc:
            return exc.frame
        return {"type": "ack", "version": version}
    finally:
        await client.close()


async def follow(url: str, count: int | None = None,
                 timeout: float | None = None) -> AsyncIterator[dict[str, Any]]:
    """Frames of the state endpoint, ending after `count` state frames, or at `timeout`
    seconds (WatchTimedOut when `count` was given and not reached; a plain end otherwise).
    ValueError for a bad URL, BusUnreachable when the bus cannot be reached or drops."""
    import websockets

    seen = 0
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    frames = watch(url).__aiter__()
    try:
        while True:
            left = None if deadline is None else deadline - loop.time()
            try:
                if left is not None and left <= 0:
                    raise TimeoutError
                frame = await asyncio.wait_for(frames.__anext__(), left)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if count is not None:
                    raise WatchTimedOut(seen, count, timeout or 0.0) from None
                return
            yield frame
            if frame.get("type") == "state":
                seen += 1
                if count is not None and seen >= count:
                    return
    except websockets.exceptions.InvalidURI as exc:
        raise ValueError(str(exc)) from exc
    except (OSError, websockets.exceptions.WebSocketException) as exc:
        raise BusUnreachable(f"director bus at {url} unreachable: {exc}") from exc
    finally:
        await frames.aclose()
