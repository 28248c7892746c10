"""rig.*: live probes of the running rig named by `lume verify --rig RIG.json` (rig.v1).

Each probe talks to the real service over its real protocol and validates the answer against
its contract, with the freshness limits of rig.v1 `limits`:

- `rig.bodytruth`: `GET http://HOST:PORT/body-truth` (the path of SAFE-MAC5-GATE) answers a
  body_truth.v0 frame whose timestamp is within `bodytruth_frame_max_age_ms` of this clock;
- `rig.director`: the director bus's read-only state WebSocket (director_ownership.v2
  `rules.state_path`) opens with a director_frames.v2 `schema` frame carrying
  `rules.schema_version`;
- `rig.lumf_heartbeat`: the LUMF publisher's heartbeat file is a regular file holding a Unix
  time no older than `lumf_heartbeat_max_age_ms`;
- `rig.midi_port`: the MIDI output port exists on K11 (a `tcp://` port accepts a connection; a
  port name is listed by python-rtmidi - unchecked, with the reason, where this machine has no
  MIDI backend);
- `rig.completion_report`: the latest completion-gate report verifies (core `verify_report`:
  signed by a trusted key, unmodified, no older than SAFE-MAC5-GATE `max_age_s`) and is a
  completion-gate report.

Without `--rig` these checks do not apply: the run lists them as not run ("no --rig given").
"""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from lume.generated.constants import SAFE_AUTHORITY_K11, SAFE_CMD_PRESENCE, SAFE_MAC5_GATE
from lume.generated.models.rig_v1 import ProbeLimits
from lume.runtime.core import InputError, director_ownership, get, parameters, problems, read_json

from ._context import Context
from ._framework import Evidence, held, unchecked, verifier, violated

CONTRACT = "rig.v1"


@dataclass(frozen=True)
class RigConfig:
    """A validated rig file; relative paths resolve against its folder."""

    path: Path
    doc: dict[str, Any]
    limits: ProbeLimits

    @property
    def name(self) -> str:
        return self.doc.get("name") or self.path.name

    def file(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else self.path.parent / p

    def endpoint(self, key: str) -> tuple[str, int]:
        e = self.doc[key]
        return e["host"], e["port"]


def load_rig(path: Path) -> RigConfig:
    """Read and validate a rig file; InputError naming the file, the field and the contract."""
    path = Path(path)
    doc = read_json(path)
    found = problems(doc, get(CONTRACT), file=str(path))
    if found:
        p = found[0]
        raise InputError(f"{path}: {p.path}: {p.message} [{CONTRACT}]")
    # Only `limits` is read through the model: the contract's patterns are ECMA-262, as
    # jsonschema-rs checked them above, while a generated model falls back to Python's `re` for
    # a lookahead pattern, whose \S refuses more (a port name starting with `\x1c`-`\x1f`).
    limits = doc.get("limits")
    return RigConfig(path.absolute(), doc, ProbeLimits.model_validate(limits) if limits else ProbeLimits())


def _timeout(rig: RigConfig) -> float:
    return rig.limits.connect_timeout_ms / 1000.0


def probe(check_id: str, title: str, what: str, **kw: Any):
    """A rig probe: `fn(ctx, rig)` runs only with a rig file (without one, asked for by id, it is
    unchecked: "no --rig given"); in a full run without --rig it is not run (`no_rig`)."""
    def make(fn):
        def check(ctx: Context) -> Iterator[Evidence]:
            rig = ctx.rig
            if rig is None:
                yield unchecked(f"no --rig given: {what} not probed",
                                expected="a rig file (lume verify --rig RIG.json)", found=None)
                return
            yield from fn(ctx, rig)
        check.__name__ = check.__qualname__ = fn.__name__
        check.__doc__ = fn.__doc__
        return verifier(check_id, title, domain="rig", needs_rig=True, **kw)(check)
    return make


# ------------------------------------------------------------------------------- BodyTruth
@probe("rig.bodytruth", "The BodyTruth service answers a fresh, contract-valid frame", "BodyTruth",
       invariants=(SAFE_CMD_PRESENCE,))
def bodytruth_probe(ctx: Context, rig: RigConfig) -> Iterator[Evidence]:
    import httpx

    host, port = rig.endpoint("bodytruth")
    url = f"http://{host}:{port}{parameters(SAFE_MAC5_GATE)['bodytruth_path']}"
    start = time.monotonic()
    try:
        answer = httpx.get(url, timeout=_timeout(rig))
    except httpx.HTTPError as exc:
        yield violated(f"BodyTruth does not answer: {type(exc).__name__}: {exc}", file=url,
                       expected="an HTTP answer", found="no answer")
        return
    latency = round((time.monotonic() - start) * 1000, 1)
    if answer.status_code != 200:
        yield violated(f"BodyTruth answered HTTP {answer.status_code}", file=url, expected=200, found=answer.status_code)
        return
    try:
        frame = answer.json()
    except ValueError as exc:
        yield violated(f"BodyTruth answered something that is not JSON: {exc}", file=url, expected="JSON",
                       found=answer.text[:200])
        return
    found = problems(frame, get("body_truth.v0"), file=url)
    if found:
        yield violated(f"BodyTruth answered a frame that breaks body_truth.v0: {found[0]}", file=url,
                       field=found[0].path, expected="a body_truth.v0 frame", found=str(found[0].message))
        return
    age = int(time.time() * 1000) - frame["timestamp"]
    limit = rig.limits.bodytruth_frame_max_age_ms
    seen = {"url": url, "latency_ms": latency, "age_ms": age, "mode": frame["mode"], "present": frame["present"]}
    if abs(age) > limit:
        yield violated(f"the BodyTruth frame is {age} ms {'old' if age >= 0 else 'in the future'} "
                       f"(limit {limit} ms either way)", file=url, field="timestamp",
                       expected=f"|age| <= {limit} ms", found=seen)
        return
    yield held(f"BodyTruth answered a valid frame {age} ms old ({frame['mode']})", file=url,
               expected=f"body_truth.v0, |age| <= {limit} ms", found=seen)


# ------------------------------------------------------------------------------- director
@probe("rig.director", "The director bus answers its schema frame with the expected version",
       "the director bus")
def director_probe(ctx: Context, rig: RigConfig) -> Iterator[Evidence]:
    import orjson
    from websockets.exceptions import WebSocketException
    from websockets.sync.client import connect

    rules = director_ownership().rules
    host, port = rig.endpoint("director")
    url = f"ws://{host}:{port}{rules.state_path}"
    start = time.monotonic()
    try:
        with connect(url, open_timeout=_timeout(rig), close_timeout=_timeout(rig)) as ws:
            text = ws.recv(timeout=_timeout(rig))
    except (OSError, TimeoutError, WebSocketException) as exc:
        yield violated(f"the director bus does not answer: {type(exc).__name__}: {exc}", file=url,
                       expected="a WebSocket with a schema frame", found="no answer")
        return
    latency = round((time.monotonic() - start) * 1000, 1)
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        yield violated(f"the first frame is not JSON: {exc}", file=url, expected="JSON", found=str(text)[:200])
        return
    found = problems(frame, get("director_frames.v2"), file=url)
    if found or not isinstance(frame, dict) or frame.get("type") != "schema":
        why = str(found[0]) if found else f"a {frame.get('type') if isinstance(frame, dict) else type(frame).__name__} frame"
        yield violated(f"the director bus did not open with a valid schema frame: {why}", file=url,
                       expected={"type": "schema", "version": rules.schema_version}, found=frame)
        return
    if frame["version"] != rules.schema_version:
        yield violated(f"the director bus speaks schema {frame['version']}, director_ownership.v2 says "
                       f"{rules.schema_version}", file=url, field="version", expected=rules.schema_version,
                       found=frame["version"])
        return
    yield held(f"the director bus answered schema {frame['version']}", file=url, field="version",
               expected=rules.schema_version, found={"version": frame["version"], "latency_ms": latency})


# ------------------------------------------------------------------------------ LUMF heartbeat
@probe("rig.lumf_heartbeat", "The LUMF publisher's heartbeat is fresh", "the LUMF heartbeat")
def lumf_probe(ctx: Context, rig: RigConfig) -> Iterator[Evidence]:
    from lume.runtime.lumf import BadHeartbeat, read_heartbeat

    path = rig.file(rig.doc["lumf"]["heartbeat_file"])
    limit = rig.limits.lumf_heartbeat_max_age_ms
    try:  # the LUMF package's own reader, with its input_limits.v1 row (`lumf_heartbeat`)
        beat = read_heartbeat(path)
    except BadHeartbeat as exc:
        yield violated(f"the heartbeat does not hold a Unix time: {exc}", file=str(path),
                       expected="Unix seconds", found=exc.text)
        return
    except InputError as exc:  # missing, not a regular file (a FIFO would block), or too large
        yield violated(f"no readable heartbeat file: {exc}", file=str(path),
                       expected="the heartbeat file (a regular file)", found="unreadable")
        return
    age = round((time.time() - beat) * 1000)
    if abs(age) > limit:
        yield violated(f"the LUMF heartbeat is {age} ms {'old' if age >= 0 else 'in the future'}: the publisher "
                       f"is stopped or stuck", file=str(path), expected=f"|age| <= {limit} ms", found={"age_ms": age})
        return
    yield held(f"the LUMF heartbeat is {age} ms old", file=str(path), expected=f"|age| <= {limit} ms",
               found={"age_ms": age})


# ------------------------------------------------------------------------------------- MIDI
@probe("rig.midi_port", "The AirDeck MIDI output port exists on K11", "the MIDI port",
       invariants=(SAFE_AUTHORITY_K11,))
def midi_probe(ctx: Context, rig: RigConfig) -> Iterator[Evidence]:
    from lume.runtime.airdeck import MidiOpenError, output_names, parse_tcp_spec

    spec, machine = rig.doc["midi"]["output_port"], rig.doc["midi"]["machine"]
    tcp = parse_tcp_spec(spec)
    if tcp is not None:  # a mido socket port: it exists when it accepts a connection
        try:
            socket.create_connection(tcp, timeout=_timeout(rig)).close()
        except OSError as exc:
            yield violated(f"the MIDI socket port does not accept a connection: {exc.strerror or exc}",
                           file=spec, expected="a listening mido socket port", found="refused")
            return
        yield held(f"the MIDI socket port {spec} on {machine} accepts connections", file=spec,
                   expected="reachable", found="reachable")
        return
    try:
        names = output_names()
    except MidiOpenError as exc:
        yield unchecked(f"skipped: {exc} on this machine; run --rig on {machine}", file=spec,
                        expected=f"{spec} among the MIDI outputs", found="no MIDI backend")
        return
    if spec not in names:
        yield violated(f"no MIDI output named {spec!r}", file=spec, expected=spec, found=sorted(names))
        return
    yield held(f"MIDI output {spec!r} exists", file=spec, expected=spec, found=sorted(names))


# ------------------------------------------------------------------------ completion gate
@probe("rig.completion_report", "The latest Mac4-first completion-gate report lets Mac5 start",
       "the completion-gate report", invariants=(SAFE_MAC5_GATE,))
def completion_probe(ctx: Context, rig: RigConfig) -> Iterator[Evidence]:
    # The one reader Mac5 itself uses: signed by a trusted key, strict JSON, fresh under
    # evidence_freshness.v1, from the gate SAFE-MAC5-GATE names, with its required verdicts.
    from lume.runtime.completion import CompletionRefused, read_completion_report

    path = rig.file(rig.doc["completion_report"])
    try:
        predicate = read_completion_report(path).predicate
    except (CompletionRefused, InputError) as exc:
        yield violated(f"the completion-gate report would not let Mac5 start: {exc}", file=str(path),
                       expected="a signed, fresh, green completion-gate report", found="refused")
        return
    verdicts = predicate["verdicts"]
    yield held(f"the completion-gate report lets Mac5 start (generated {predicate['generated_at']}, "
               f"completion_ready={verdicts['completion_ready']})", file=str(path),
               expected="verifies", found={"generated_at": predicate["generated_at"], "verdicts": verdicts})


RIG_CHECKS = (bodytruth_probe, director_probe, lumf_probe, midi_probe, completion_probe)
