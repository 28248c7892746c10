"""Who may write to BodyTruth, and how much: the write guard in front of the service.

Reads stay open to every origin (seed 003 section 7). A write (POST on body_truth_inputs.v0
`http.write_paths`) is taken only
- as `write_media_type` (application/json): a browser cannot send that cross-origin without a
  CORS preflight, and the guard answers a preflight only for the configured origins;
- from a configured origin, or with the configured token (`Authorization: Bearer <token>`);
  with no token configured, a client sending no `Origin` (a producer tool, not a browser page)
  may write, so the service on loopback works as before;
- with a body of at most `max_body_bytes`, read here in full before the app sees it (a longer
  one is refused by its Content-Length or as soon as it passes the limit; a client that
  disconnects mid-body is dropped quietly, with no traceback).
Refusals are JSON `{"detail": [{"loc", "msg", "type"}]}` like FastAPI's, naming the contract.
"""
from __future__ import annotations

import hmac
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import orjson

from lume.generated.constants import INPUT_SECRET_TOKEN
from lume.runtime.core import InputError, body_truth_inputs, config_dir_path, input_limit, read_input

CONTRACT = "body_truth_inputs.v0"
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def read_token(path: Path) -> str:
    """The write token in `path` (a bounded `secret_token` input: input_limits.v1 `max_bytes`
    for the file, `max_line_bytes` for the token); InputError naming the file and the contract
    when it is not UTF-8 text, not one word of at least the contract's `min_token_chars`
    (empty, whitespace only, or several words), or longer than the line limit."""
    http = body_truth_inputs().http
    try:
        token = read_input(path, INPUT_SECRET_TOKEN).decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: a write token is text (UTF-8) [{CONTRACT}]") from exc
    if len(token) < http.min_token_chars or any(c.isspace() for c in token):
        raise InputError(f"{path}: a write token is one word of at least {http.min_token_chars} "
                         f"characters [{CONTRACT}]")
    longest = input_limit(INPUT_SECRET_TOKEN).max_line_bytes
    if longest is not None and len(token.encode()) > longest:
        raise InputError(f"{path}: a write token of {len(token.encode())} bytes, over the {longest}-byte "
                         f"limit for {INPUT_SECRET_TOKEN} inputs [input_limits.v1]")
    return token


@dataclass(frozen=True)
class WriteAccess:
    """The origins whose pages may write, and the token that lets any client write."""

    origins: frozenset[str] = field(default_factory=frozenset)
    token: str | None = None

    @classmethod
    def configure(cls, config: dict[str, Any] | None = None, *, origins: tuple[str, ...] = (),
                  token_file: Path | None = None) -> WriteAccess:
        """From the machine configuration's `bodytruth` block, overridden by the given origins /
        token file (the CLI's flags)."""
        block = (config or {}).get("bodytruth") or {}
        chosen = tuple(origins) or tuple(block.get("write_origins") or ())
        if token_file is None and block.get("write_token_file"):
            token_file = config_dir_path(block["write_token_file"])
        return cls(frozenset(o.rstrip("/") for o in chosen),
                   read_token(token_file) if token_file is not None else None)

    def refusal(self, origin: str | None, authorization: str | None) -> tuple[int, str] | None:
        """(status, why) when a write with these headers is refused, None when it is taken."""
        scheme = body_truth_inputs().http.token_scheme
        if self.token is not None and authorization is not None:
            given_scheme, _, given = authorization.partition(" ")
            if given_scheme.lower() == scheme.lower() and hmac.compare_digest(
                    given.strip().encode(), self.token.encode()):
                return None
            return 401, "the write token does not match"
        if origin is not None:
            if origin in self.origins:
                return None
            return 403, f"origin {origin} may not write (not in bodytruth.write_origins)"
        if self.token is not None:
            return 401, f"a write needs `Authorization: {scheme} <token>`"
        return None

    @property
    def summary(self) -> dict[str, Any]:
        return {"write_origins": sorted(self.origins), "write_token": self.token is not None}


def _headers(scope: Message) -> dict[str, str]:
    """Request headers, lower-case names; a repeated header keeps its first value."""
    out: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        out.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return out


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


class BodyDisconnected(Exception):
    """The client went away before its body arrived: nobody to answer."""


class WriteGuard:
    """ASGI middleware: CORS preflight, media type, access and body size of the write paths."""

    def __init__(self, app: Any, access: WriteAccess | None = None,
                 rejected: Counter[str] | None = None) -> None:
        self.app = app
        self.access = access or WriteAccess()
        self.rejected = Counter() if rejected is None else rejected  # refusals by reason
        http = body_truth_inputs().http
        self.paths = frozenset(http.write_paths)
        self.media_type = http.write_media_type
        self.max_body = http.max_body_bytes

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths \
                or scope["method"] not in ("POST", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        origin = headers.get("origin")
        if scope["method"] == "OPTIONS":
            await self._preflight(send, origin)
            return
        refused = self._check(headers, origin)
        if refused is not None:
            await self._refuse(send, *refused)
            return
        try:
            body = await self._body(receive)
        except BodyDisconnected:
            self.rejected["client_disconnected"] += 1
            return  # no one to answer, nothing to log
        if body is None:
            await self._refuse(send, 413, ["body"], f"the body is over {self.max_body} bytes",
                               "body_too_large")
            return
        await self.app(scope, _replay(body, receive), self._with_cors(send, origin))

    def _check(self, headers: dict[str, str], origin: str | None) -> tuple | None:
        """(status, loc, msg, reason) of the first rule a write's headers break, else None."""
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != self.media_type:
            why = f"a write is taken only as {self.media_type}, not {media or 'no content type'}"
            return 415, ["header", "content-type"], why, "media_type"
        refused = self.access.refusal(origin, headers.get("authorization"))
        if refused is not None:
            where = "authorization" if refused[0] == 401 else "origin"
            return refused[0], ["header", where], refused[1], "write_refused"
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return 413, ["body"], f"the body is over {self.max_body} bytes", "body_too_large"
        return None

    async def _refuse(self, send: Send, status: int, loc: list[str], msg: str, reason: str) -> None:
        self.rejected[reason] += 1
        headers = [(b"content-type", b"application/json")]
        if status == 413:  # the rest of the body is never read: this connection cannot go on
            headers.append((b"connection", b"close"))
        if status == 401:
            headers.append((b"www-authenticate", body_truth_inputs().http.token_scheme.encode()))
        await _answer(send, status, orjson.dumps({"detail": [
            {"loc": loc, "msg": f"{msg} [{CONTRACT}]", "type": reason}]}), headers)

    async def _body(self, receive: Receive) -> bytes | None:
        """The whole body, None when it passes max_body_bytes (reading stops there)."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BodyDisconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _preflight(self, send: Send, origin: str | None) -> None:
        if origin is None or origin not in self.access.origins:
            await self._refuse(send, 403, ["header", "origin"], f"origin {origin} may not write "
                               "(not in bodytruth.write_origins)", "write_refused")
            return
        headers = [(b"access-control-allow-origin", origin.encode("latin-1")),
                   (b"access-control-allow-methods", b"POST"),
                   (b"access-control-allow-headers", b"content-type, authorization"), (b"vary", b"Origin")]
        max_age = body_truth_inputs().http.preflight_max_age_s  # body_truth_inputs.v0 owns it
        if max_age is not None:
            headers.append((b"access-control-max-age", str(max_age).encode()))
        await _answer(send, 204, b"", headers)

    def _with_cors(self, send: Send, origin: str | None) -> Send:
        if origin is None or origin not in self.access.origins:
            return send

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", [])
                        if k.lower() != b"access-control-allow-origin"]
                message = {**message, "headers": kept + [
                    (b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]}
            await send(message)
        return wrapped


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then the client's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay
