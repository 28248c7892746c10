"""The canonical state document (director_state.v2): build, validate, read and write fields.

The bus keeps the document as plain JSON-shaped dicts and never mutates one in place: a write
returns a new document that shares every untouched branch with the old one, so a refused or
failed command can never leave a half-applied state behind. Validation on the hot path uses
the contract's bundled JSON Schema (jsonschema-rs, ~10x faster than the pydantic model); the
generated pydantic model is the typed view for loading and for callers (`model`).
"""
from __future__ import annotations

import functools
import operator
from datetime import datetime
from typing import Any

from lume.generated.models.director_state_v2 import (
    ConsentState,
    CueState,
    DirectorSession,
    DirectorState,
    LookState,
    PerformerState,
    TelemetryState,
)
from lume.runtime.core import Problem, get, rfc3339
from lume.runtime.core import problems as contract_problems

CONTRACT = "director_state.v2"
SCHEMA_TAG: str = get(CONTRACT).match["schema"]
# The document's own bookkeeping fields (director_state.v2 requires both).
VERSION, UPDATED_AT = "version", "updated_at"


class StateInvalid(ValueError):
    """A state document breaks director_state.v2; the message names the path and contract."""

    def __init__(self, found: list[Problem], where: str = "<state>") -> None:
        self.problems = found
        first = found[0]
        more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
        super().__init__(f"{where}: {first.path}: {first.message} [{first.contract}]{more}")


def fresh(now: datetime) -> dict[str, Any]:
    """A new, empty session at version 0: built through the generated models, so it is valid."""
    doc = DirectorState(
        schema=SCHEMA_TAG,
        session=DirectorSession(id=None, phase="idle", started_at=None, operator_device_id=None),
        cue=CueState(current=None, next=None, history=[]),
        look=LookState(active=None, wardrobe_id=None, lighting_preset=None),
        performer=PerformerState(intent=None, voice_state=None, comprehension_score=None),
        model_consent=ConsentState(acknowledged=False, token=None, scope=[], expires_at=None,
                                   proposed_by=None, acks=[], witnesses=[]),
        telemetry=TelemetryState(frames_captured=0, last_proof_token_at=None, active_directors=[]),
        version=0,
        updated_at=now,
    ).model_dump(mode="json", by_alias=True)
    doc[UPDATED_AT] = rfc3339(now)
    return doc


def problems(doc: Any, where: str = "<state>") -> list[Problem]:
    return contract_problems(doc, get(CONTRACT), file=where)


def problems_since(before: dict[str, Any], after: dict[str, Any], where: str = "<state>") -> list[Problem]:
    """Problems of `after`, a document made from the valid `before` by `write`: the cue history
    entries it carries over are the very objects `before` held and validated, so only the new
    entries are validated again (the history is nine tenths of a document)."""
    old, new = before["cue"]["history"], after["cue"]["history"]
    if new is old:
        return problems(after, where)
    kept = _kept(old, new)
    if kept is not None:  # the usual append: a tail of `old`, then new entries
        fresh = new[kept:]
    else:
        known = {id(entry) for entry in old}  # `before` keeps them alive: ids cannot be reused
        fresh = [entry for entry in new if id(entry) not in known]
    if len(fresh) == len(new):
        return problems(after, where)
    trimmed = {**after, "cue": {**after["cue"], "history": fresh}}
    found = problems(trimmed, where)
    limit = get(CONTRACT).raw["$defs"]["CueState"]["properties"]["history"]["maxItems"]
    if len(new) > limit:  # the one rule over the whole list
        found.append(Problem(where, None, "$.cue.history", f"more than {limit} items", CONTRACT))
    return found


def _kept(old: list[Any], new: list[Any]) -> int | None:
    """How many entries `new` starts with that are, object for object, the last ones of `old`
    (what appending and trimming the history leaves); None when `new` is not made that way."""
    if not old:
        return 0
    last = old[-1]
    for i in range(len(new) - 1, -1, -1):  # where old's last entry sits in new (near the end)
        if new[i] is last:
            n = i + 1
            return n if n <= len(old) and all(map(operator.is_, new[:n], old[-n:])) else None
    return None


def check(doc: Any, where: str = "<state>") -> dict[str, Any]:
    """Return `doc` if it is a valid director_state.v2 document, else raise StateInvalid."""
    found = problems(doc, where)
    if found:
        raise StateInvalid(found, where)
    return doc


def model(doc: dict[str, Any]) -> DirectorState:
    """The typed (generated pydantic) view of a document."""
    return DirectorState.model_validate(doc)


@functools.cache
def parts(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def read(doc: dict[str, Any], path: str) -> Any:
    """The value at a dotted field path (`session.phase`)."""
    node: Any = doc
    for part in parts(path):
        node = node[part]
    return node


def write(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `doc` with `path` set to `value`; only the branches on the path are copied."""
    head, _, rest = path.partition(".")
    out = dict(doc)
    out[head] = write(doc[head], rest, value) if rest else value
    return out


def write_many(doc: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    for path, value in values.items():
        doc = write(doc, path, value)
    return doc
