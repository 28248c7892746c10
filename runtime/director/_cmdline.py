"""Command-line words <-> bus frames: `KEY=VALUE` arguments, the bus URL, one-line state
summaries, and the commands described from the contracts (`lume director commands`)."""
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
    `id=null`), anything else as a string (`phase=live`); a dotted KEY fills a nested object
    (`cue.id=c7 cue.kind=capture cue.payload.camera=cam_a`). Raises InputError naming the
    problem, the field and its allowed values.
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
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = raw
        *parents, leaf = key.split(".")
        node = frame
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise InputError(f"{word!r}: {part} is not an object")
            node = child
        node[leaf] = value
    frame["type"] = command
    found = frames.explain_frame(frame)
    if found is not None:
        raise InputError(f"{command}: {found.message} [{frames.CONTRACT}]")
    return frame


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def describe_value(node: dict[str, Any], defs: dict[str, Any]) -> str:
    """What a frame field accepts, in a few words (`idle|setup|live`, `UUID or null`, …)."""
    name = node.get("$ref", "").rsplit("/", 1)[-1]
    node = _resolve(node, defs)
    if "anyOf" in node:
        parts = [describe_value(b, defs) for b in node["anyOf"]]
        return " or ".join(dict.fromkeys(parts))
    if "enum" in node:
        return "|".join(str(v) for v in node["enum"])
    if "const" in node:
        return str(node["const"])
    kind = node.get("type")
    if kind == "null":
        return "null"
    if kind == "object":
        keys = list(node.get("properties", {}))
        return "{" + ", ".join(keys) + "}" if keys else "object"
    if kind == "array":
        size = f"{node.get('minItems', 0)}..{node.get('maxItems', '')}"
        return f"list ({size}) of {describe_value(node.get('items', {}), defs)}"
    if kind in ("number", "integer"):
        lo, hi = node.get("minimum"), node.get("maximum")
        return f"{kind} {lo}..{hi}" if lo is not None and hi is not None else kind
    if name in ("Uuid", "Iso8601"):
        return {"Uuid": "UUID", "Iso8601": "RFC 3339 time"}[name]
    if kind == "string":
        return f"text (≤{node['maxLength']})" if "maxLength" in node else "text"
    return name or "value"


def describe_commands(rules: own.Ownership | None = None) -> list[dict[str, Any]]:
    """Every command a director sends: who may send it, its fields (what each accepts, and
    whether it is required), the state fields it writes and its reply (from the contracts)."""
    rules = rules or own.load()
    schema = frames.schema()
    defs = schema["$defs"]
    out = []
    for name, row in rules.commands.items():
        if name == "identify":
            continue
        d = defs[frames.definitions()[name]]
        required = set(d.get("required", []))
        fields = [{"name": k, "required": k in required, "accepts": describe_value(v, defs),
                   **({"default": v["default"]} if "default" in v else {})}
                  for k, v in d.get("properties", {}).items() if k != "type"]
        out.append({"command": name, "senders": list(row.senders), "fields": fields,
                    "writes": list(row.writes), "reply": row.reply, "description": row.description.strip()})
    return out


def command_line(c: dict[str, Any]) -> str:
    """One command as a usage line: `set_session_phase (mac) phase=idle|setup|…`."""
    fields = " ".join(f"{f['name']}={f['accepts']}" if f["required"] else f"[{f['name']}={f['accepts']}]"
                      for f in c["fields"])
    return f"{c['command']} ({', '.join(c['senders'])}) {fields}".rstrip()


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
