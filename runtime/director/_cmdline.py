"""Command-line words <-> bus frames: `KEY=VALUE` arguments, the bus URL, one-line state summaries."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from lume.runtime.core import InputError, get, problems, read_json

from . import _frames as frames
from . import _ownership as own
from ._client import default_url

MACHINE_CONFIG = "machine_config.v1"


def frame_from_args(command: str, args: tuple[str, ...], json_args: str | None) -> dict[str, Any]:
    """Build a command frame from `--json-args '{…}'` and `KEY=VALUE` words; checked locally.

    A VALUE that parses as JSON is taken as JSON (`scope='["reel_use"]'`, `comprehension_score=0.8`,
    `id=null`), anything else as a string (`phase=live`). Raises InputError naming the problem.
    """
    frame: dict[str, Any] = {"type": command}
    if json_args:
        try:
            extra = orjson.loads(json_args)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"--json-args: not valid JSON: {exc}") from exc
        if not isinstance(extra, dict):
            raise InputError("--json-args: expected a JSON object of the command's fields")
        frame.update(extra)
    for word in args:
        key, sep, raw = word.partition("=")
        if not sep or not key:
            raise InputError(f"{word!r}: expected KEY=VALUE")
        try:
            frame[key] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            frame[key] = raw
    frame["type"] = command
    found = frames.frame_problems(frame, "<command line>")
    if found:
        p = found[0]
        raise InputError(f"{command}: {p.path}: {p.message} [{p.contract}]")
    return frame


def url_from_config(path: Path) -> str:
    """`ws://HOST:PORT` of the director bus named by a machine_config.v1 file."""
    doc = read_json(path)
    found = problems(doc, get(MACHINE_CONFIG), file=str(path))
    if found:
        raise InputError(str(found[0]))
    endpoint = doc["director"]
    port = endpoint.get("port") or own.load().rules.port
    return f"ws://{endpoint['host']}:{port}"


def resolve_url(url: str | None, config: Path | None) -> str:
    if url and config:
        raise InputError("give --address or --config, not both")
    if config:
        return url_from_config(config)
    return url or default_url()


def summary(doc: dict[str, Any]) -> str:
    """One line per state: version, phase, cues, look, performer, consent, active directors."""
    cue = doc.get("cue") or {}
    current, nxt = cue.get("current") or {}, cue.get("next") or {}
    look = doc.get("look") or {}
    performer = doc.get("performer") or {}
    consent = doc.get("model_consent") or {}
    session = doc.get("session") or {}
    active = (doc.get("telemetry") or {}).get("active_directors") or []
    consent_text = ("acknowledged" if consent.get("acknowledged")
                    else f"acks {','.join(consent.get('acks') or []) or '-'}"
                    if consent.get("proposed_by") else "none")
    return (f"v{doc.get('version')} {doc.get('updated_at')}  phase={session.get('phase')}  "
            f"cue={current.get('id', '-')}({current.get('kind', '-')}) next={nxt.get('id', '-')}  "
            f"look={look.get('active') or '-'}  intent={performer.get('intent') or '-'}  "
            f"consent={consent_text}  active=[{','.join(active)}]")
