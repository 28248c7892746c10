"""The BodyTruth HTTP service: `GET /body-truth`, observation / gesture intake, recording, replay.

One asyncio event loop owns the fusion state: a ticker emits a frame every tick_ms (each frame
is recorded when `--record` is on), `GET /body-truth` returns the newest frame (ticking on demand
when none is fresh, so it answers with a contract-valid object even before any observation or
without the ticker), and POSTed records are validated against their contracts before anything
changes. Reads answer `Access-Control-Allow-Origin: *` (seed 003 section 7); writes pass the
write guard first (access.py: media type, origin or token, body size) and are held to
body_truth_inputs.v0 here (JSON depth, a capture time no further ahead of this clock than the
skew allowance).
"""
from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import Counter
from contextlib import asynccontextmanager, contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterable, Iterator

import orjson
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from lume.generated.constants import BODYTRUTH_PORT, SERVICE_BODYTRUTH
from lume.generated.models.body_truth_v0 import LumeBodyTruth
from lume.runtime import core as contracts

from ._access import CONTRACT as LIMITS
from ._access import WriteAccess, WriteGuard
from ._fusion import Fusion
from ._inputs import GESTURE_CONTRACT, OBSERVATION_CONTRACT, InputRejected, check
from ._replay import DEFAULT_TICK_MS

CORS = {"Access-Control-Allow-Origin": "*"}
PATH = "/body-truth"


def default_port() -> int:
    """The BodyTruth port of machine_config.v1 (seed 003: `http://[ip]:9405/body-truth`)."""
    return BODYTRUTH_PORT


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def record_id(path: Path) -> str:
    """motion_record_id of a recording: its file name without `.jsonl`, as a lower-case id."""
    name = path.name.removesuffix(".jsonl")
    return re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "record"


class FrameRecorder:
    """Append every emitted frame to a JSONL file (one line each, flushed per frame)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("ab")
        self.frames = 0

    def write(self, line: bytes) -> None:
        self._fh.write(line + b"\n")
        self._fh.flush()
        self.frames += 1

    def close(self) -> None:
        self._fh.close()


class RecordRejected(InputRejected):
    def __init__(self, problems: list[contracts.Problem], where: str, *, index: int) -> None:
        super().__init__(problems, where)
        self.index = index


class Accepted(BaseModel):
    accepted: int = Field(..., ge=0, description="Records taken into fusion.")


class Problem(BaseModel):
    loc: list[str | int] = Field(..., description="Where: `body`, the record index in a list, then the field path.")
    msg: str = Field(..., description="What is wrong, and the contract it breaks.")
    type: str


class Rejected(BaseModel):
    detail: list[Problem]


def contract_components(stem: str) -> tuple[str, dict[str, Any]]:
    """OpenAPI components of an input contract, from its generated bundled schema.

    The request bodies are documented from the contract itself (generated/schemas), not from the
    pydantic models: those make optional fields nullable, which the contract does not allow.
    Returns the root component name and every component (the contract's $defs, prefixed).
    """
    c = contracts.get(stem)
    schema = json.loads((resources.files("lume.generated") / "schemas" / f"{c.module}.json")
                        .read_text(encoding="utf-8"))
    root = c.model_name
    text = json.dumps(schema).replace('"#/$defs/', f'"#/components/schemas/{root}_')
    schema = json.loads(text)
    defs = schema.pop("$defs", {})
    for key in ("$schema", "$id", "examples"):
        schema.pop(key, None)
    if "UnixMillis" in defs:  # the service also holds capture times to body_truth_inputs.v0
        defs["UnixMillis"] = {**defs["UnixMillis"],
                              "maximum": contracts.body_truth_inputs().timestamps.max_timestamp_ms}
    components = {root: schema, **{f"{root}_{name}": d for name, d in defs.items()}}
    return root, components


def _one_or_many(root: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{root}"}
    return {"required": True, "content": {"application/json": {"schema": {
        "anyOf": [ref, {"type": "array", "items": ref}]}}}}


class BodyTruthService:
    """Fusion state plus the newest frame; used only from the event loop (no locking needed)."""

    def __init__(self, fusion: Fusion | None = None, *, tick_ms: int = DEFAULT_TICK_MS,
                 clock: Callable[[], int] = wall_ms, record: Path | None = None) -> None:
        if tick_ms <= 0:
            raise ValueError(f"tick_ms must be positive, got {tick_ms}")
        self.fusion = fusion or Fusion()
        self.tick_ms = tick_ms
        self.clock = clock
        self.recorder = FrameRecorder(record) if record else None
        if record and self.fusion.motion_record_id is None:
            self.fusion.motion_record_id = record_id(Path(record))
        self.frame: dict[str, Any] | None = None
        self._bytes: bytes = b""
        self._at: int | None = None
        self.rejected: Counter[str] = Counter()  # refused writes by reason (the 4xx `type`)

    def tick(self, now: int | None = None) -> bytes:
        now = self.clock() if now is None else now
        self.frame = self.fusion.tick(now)
        self._bytes, self._at = orjson.dumps(self.frame), now
        if self.recorder is not None:
            self.recorder.write(self._bytes)
        return self._bytes

    def current(self) -> bytes:
        """The newest frame as JSON, ticking first when none is younger than tick_ms."""
        now = self.clock()
        if self._at is None or not 0 <= now - self._at < self.tick_ms:
            return self.tick(now)
        return self._bytes

    def take(self, records: list[Any], stem: str) -> int:
        """Validate every record, then feed them all (one bad record and nothing changes).

        A record timestamped further ahead of this service's clock than body_truth_inputs.v0's
        skew allowance is refused: fusion keeps each source's newest reading, so one reading
        from next year would hide that source until next year.
        Raises RecordRejected (an InputRejected with the record's index) on the first bad one.
        """
        checked = []
        latest = self.clock() + contracts.body_truth_inputs().timestamps.future_skew_allowance_ms
        for i, r in enumerate(records):
            try:
                record = check(r, stem, where=f"record #{i}")
            except InputRejected as exc:
                raise RecordRejected(exc.problems, f"record #{i}", index=i) from None
            if record["timestamp_ms"] > latest:
                ahead = record["timestamp_ms"] - latest
                problem = contracts.Problem("<body>", None, "$.timestamp_ms", f"{ahead} ms beyond the "
                                            "clock-skew allowance ahead of this service's clock", LIMITS)
                raise RecordRejected([problem], f"record #{i}", index=i)
            checked.append(record)
        feed = self.fusion._observe if stem == OBSERVATION_CONTRACT else self.fusion._gesture
        for r in checked:
            feed(r)
        return len(checked)

    async def run_ticker(self) -> None:
        while True:
            self.tick()
            await asyncio.sleep(self.tick_ms / 1000)

    async def run_replay(self, events: Iterable[tuple[int, int, int, dict[str, Any]]],
                         speed: float = 1.0) -> None:
        """Feed a merged, validated stream in real time, its timestamps moved onto the wall clock."""
        events = list(events)
        if not events:
            return
        base, start = events[0][0], self.clock()
        for ts, kind, _, record in events:
            due = start + int((ts - base) / speed)
            delay = (due - self.clock()) / 1000
            if delay > 0:
                await asyncio.sleep(delay)
            moved = {**record, "timestamp_ms": start + (ts - base)}
            (self.fusion._gesture if kind else self.fusion._observe)(moved)

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()


class BodyTruthFastPath:
    """ASGI fast path for the polled endpoint: `GET /body-truth` answers the cached frame bytes
    directly, skipping FastAPI's per-request routing and dependency solving (about 5x less CPU
    per poll; the budget is p99 5 ms at 500 requests/s, benches/README.md). The FastAPI route of the same path
    stays: it documents the response model in the OpenAPI and serves any other method."""

    def __init__(self, app: Any, service: BodyTruthService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == PATH:
            body = self.service.current()
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (b"access-control-allow-origin", b"*")]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def _loc(path: str) -> list[Any]:
    """`$.hands.left[0].x` -> ["hands", "left", 0, "x"]."""
    return [name or int(idx) for name, idx in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]", path)]


def _rejected(exc: InputRejected, index: int | None) -> HTTPException:
    """422 naming every bad field the way FastAPI does (`loc`), plus the contract."""
    prefix: list[Any] = ["body"] + ([index] if index is not None else [])
    detail = [{"loc": prefix + _loc(p.path), "msg": f"{p.message} [{p.contract}]",
               "type": "contract_violation"} for p in exc.problems]
    return HTTPException(status_code=422, detail=detail)


def create_app(service: BodyTruthService | None = None, *, ticker: bool = True,
               replay_events: list[tuple[int, int, int, dict[str, Any]]] | None = None,
               replay_speed: float = 1.0, access: WriteAccess | None = None) -> FastAPI:
    """The service's ASGI app. `access` says who may write (default: clients that send no
    `Origin` and no token needed, i.e. local tools; see access.py)."""
    service = service or BodyTruthService()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if ticker:
            tasks.append(asyncio.create_task(service.run_ticker()))
        if replay_events:
            tasks.append(asyncio.create_task(service.run_replay(replay_events, replay_speed)))
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            service.close()

    app = FastAPI(
        title="LUME BodyTruth",
        version="0",
        summary="What do we trust about the performer right now? (seed 003, lume.body_truth.v0)",
        lifespan=lifespan,
    )
    app.state.service = service
    # Reads are open to every origin; the write paths' CORS is the write guard's, in front.
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"], allow_headers=["*"])
    app.add_middleware(WriteGuard, access=access, rejected=service.rejected)
    app.add_middleware(BodyTruthFastPath, service=service)  # outermost: added last

    @app.get(PATH, response_model=LumeBodyTruth, tags=["body truth"],
             summary="The current lume_body_truth object (valid even when nobody is there)")
    async def body_truth() -> Response:
        return Response(service.current(), media_type="application/json", headers=CORS)

    max_depth = contracts.body_truth_inputs().http.max_json_depth

    def refuse(kind: str, msg: str) -> HTTPException:
        service.rejected[kind] += 1
        return HTTPException(422, [{"loc": ["body"], "msg": msg, "type": kind}])

    async def _intake(request: Request, stem: str) -> Accepted:
        raw = await request.body()  # already read, and bounded, by the write guard
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise refuse("json_invalid", f"not valid JSON: {exc}") from exc
        if contracts.depth_over(raw, max_depth):
            raise refuse("json_too_deep", f"JSON nested deeper than {max_depth} levels [{LIMITS}]")
        many = isinstance(data, list)
        try:
            return Accepted(accepted=service.take(data if many else [data], stem))
        except RecordRejected as exc:
            service.rejected["contract_violation"] += 1
            raise _rejected(exc, exc.index if many else None) from exc

    components: dict[str, Any] = {}
    bodies = {}
    for stem in (OBSERVATION_CONTRACT, GESTURE_CONTRACT):
        root, parts = contract_components(stem)
        components.update(parts)
        bodies[stem] = _one_or_many(root)
    rejected = {
        401: {"model": Rejected, "description": f"A token is configured and missing or wrong ({LIMITS})"},
        403: {"model": Rejected, "description": f"The request's origin may not write ({LIMITS})"},
        413: {"model": Rejected, "description": f"The body is over the size limit ({LIMITS})"},
        415: {"model": Rejected, "description": "Not application/json (a write must force a CORS preflight)"},
        422: {"model": Rejected, "description": "A record breaks its contract (field and contract named), or "
              "its timestamp is ahead of the clock-skew allowance"},
    }

    @app.post("/observations", response_model=Accepted, tags=["inputs"], responses=rejected,
              openapi_extra={"requestBody": bodies[OBSERVATION_CONTRACT]},
              summary="Take one body_observation.v1 record or a list of them (all or nothing)")
    async def observations(request: Request) -> Accepted:
        return await _intake(request, OBSERVATION_CONTRACT)

    @app.post("/gestures", response_model=Accepted, tags=["inputs"], responses=rejected,
              openapi_extra={"requestBody": bodies[GESTURE_CONTRACT]},
              summary="Take one gesture_event.v1 record or a list of them (all or nothing)")
    async def gestures(request: Request) -> Accepted:
        return await _intake(request, GESTURE_CONTRACT)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, summary=app.summary,
                               routes=app.routes)
            spec.setdefault("components", {}).setdefault("schemas", {}).update(components)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


@contextmanager
def serving(app: FastAPI, host: str = "127.0.0.1", port: int = 0,
            timeout_s: float = 10.0) -> Iterator[str]:
    """Run `app` on a real uvicorn server in a background thread; yields its base URL.

    Port 0 picks a free port (tests and benchmarks bind loopback only).
    """
    import uvicorn  # noqa: PLC0415

    server = uvicorn.Server(contracts.guarded_config(app, contracts.connection_limits(SERVICE_BODYTRUTH),
                                                     host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="bodytruth-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on {host}:{port}")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
