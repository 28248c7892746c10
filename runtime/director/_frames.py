"""WebSocket frames (director_frames.v2): validate what clients send, build what the server sends.

A command frame is validated against the one `$defs` entry whose `type` const matches, not
against the whole `oneOf`, and its first problem is explained (`explain_frame`): the field,
what is wrong and, for a closed set, the allowed values, instead of "not valid under any of
the given schemas".
"""
from __future__ import annotations

import functools
import typing
from typing import Any

import jsonschema_rs
import orjson
from pydantic import BaseModel

from lume.generated.models.director_frames_v2 import DirectorFrame
from lume.runtime.core import Problem, bundled_schema, get, json_path
from lume.runtime.core import problems as contract_problems

from ._explain import Explained, explain, show  # noqa: F401 (frames.show, used by the bus)

CONTRACT = "director_frames.v2"


@functools.cache
def _schema() -> dict[str, Any]:
    return bundled_schema(get(CONTRACT))


@functools.cache
def definitions() -> dict[str, str]:
    """Frame `type` -> name of its `$defs` entry, for every frame of the contract."""
    schema = _schema()
    out = {}
    for branch in schema["oneOf"]:
        name = branch["$ref"].rsplit("/", 1)[-1]
        out[schema["$defs"][name]["properties"]["type"]["const"]] = name
    return out


def schema() -> dict[str, Any]:
    """The bundled JSON Schema of every frame (what GET rules.schema_path serves)."""
    return _schema()


@functools.cache
def _frame_schema(frame_type: str) -> dict[str, Any]:
    schema = {k: v for k, v in _schema().items() if k not in ("oneOf", "examples")}
    schema["$ref"] = f"#/$defs/{definitions()[frame_type]}"
    return schema


@functools.cache
def _validator(frame_type: str) -> Any:
    return jsonschema_rs.validator_for(_frame_schema(frame_type), validate_formats=True)


@functools.cache
def fields(frame_type: str) -> list[str]:
    """The keys a frame of this type may carry besides `type`."""
    props = _schema()["$defs"][definitions()[frame_type]]["properties"]
    return [k for k in props if k != "type"]


def depth(value: Any, limit: int) -> int:
    """How deep objects and arrays nest in `value`, counted up to `limit + 1` (the recursion
    stops there, so a hostile frame cannot make it deep)."""
    def below(node: Any, level: int) -> int:
        deepest = level
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                if level >= limit:
                    return level + 1
                deepest = max(deepest, below(child, level + 1))
                if deepest > limit:
                    break
        return deepest

    return below(value, 1) if isinstance(value, (dict, list)) else 0


def explain_frame(frame: dict[str, Any], max_depth: int | None = None) -> Explained | None:
    """The first problem of a frame whose `type` is known, in one readable line; None if valid.
    A frame nested deeper than `max_depth` (default: director_ownership.v2 limits.max_frame_depth)
    is refused before validation (the validator recurses)."""
    if max_depth is None:
        from ._ownership import load

        max_depth = load().limits.max_frame_depth
    if depth(frame, max_depth) > max_depth:
        return Explained(None, f"objects and arrays nest deeper than limits.max_frame_depth {max_depth}")
    v = _validator(frame["type"])
    if v.is_valid(frame):
        return None
    errors = list(v.iter_errors(frame))
    # missing / unknown keys first (they explain the rest), else the error the frame shows first
    errors.sort(key=lambda e: type(e.kind).__name__ not in ("Required", "AdditionalProperties"))
    return explain(errors[0], _frame_schema(frame["type"]), frame, fields(frame["type"]))


def frame_problems(frame: dict[str, Any], where: str = "<frame>") -> list[Problem]:
    """Problems of a frame whose `type` is known, against that frame's definition."""
    v = _validator(frame["type"])
    if v.is_valid(frame):
        return []
    return [Problem(where, None, json_path(list(e.instance_path)), e.message, CONTRACT)
            for e in v.iter_errors(frame)]


def problems(frame: Any, where: str = "<frame>") -> list[Problem]:
    """Problems of any frame against the whole contract (used to check server output)."""
    return contract_problems(frame, get(CONTRACT), file=where)


@functools.cache
def _models() -> dict[str, type[BaseModel]]:
    """Frame `type` -> its generated model class (the branches of the `DirectorFrame` union)."""
    annotated = DirectorFrame.__value__  # Annotated[Union[...], Field(...)]
    return {typing.get_args(m.model_fields["type"].annotation)[0]: m
            for m in typing.get_args(typing.get_args(annotated)[0])}


def default(frame_type: str, key: str) -> Any:
    """A property default declared by the contract (e.g. set_cue's `slot`)."""
    return _models()[frame_type].model_fields[key].default


def dumps(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame).decode()


def ack(version: int) -> dict[str, Any]:
    return {"type": "ack", "version": version}


def state(doc: dict[str, Any]) -> dict[str, Any]:
    return {"type": "state", "state": doc}


def kicked(reason: str) -> dict[str, Any]:
    return {"type": "kicked", "reason": reason}


def schema_frame(version: str) -> dict[str, Any]:
    return {"type": "schema", "version": version}


def challenge(nonce: str, server: str) -> dict[str, Any]:
    return {"type": "challenge", "nonce": nonce, "server": server}


def identified(role: str, device_id: str, owns: list[str], commands: list[str]) -> dict[str, Any]:
    return {"type": "identified", "role": role, "device_id": device_id, "owns": owns, "commands": commands}


def document_problems(doc: Any, definition: str, where: str = "<response>") -> list[Problem]:
    """Problems of a document against one `$defs` entry (SchemaResponse, StatsResponse)."""
    sub = {k: v for k, v in _schema().items() if k not in ("oneOf", "examples")}
    sub["$ref"] = f"#/$defs/{definition}"
    v = jsonschema_rs.validator_for(sub)
    return [Problem(where, None, json_path(list(e.instance_path)), e.message, CONTRACT)
            for e in v.iter_errors(doc)]
