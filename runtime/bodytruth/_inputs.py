"""Validate fusion inputs against their contracts; errors name the field and the contract."""
from __future__ import annotations

import math
from typing import Any, Mapping

from lume.runtime import core as contracts

OBSERVATION_CONTRACT = "body_observation.v1"
GESTURE_CONTRACT = "gesture_event.v1"
FRAME_CONTRACT = "body_truth.v0"
LIMITS = "body_truth_inputs.v0"


class InputRejected(ValueError):
    """An observation or gesture event breaks its contract. `.problems` lists every error."""

    def __init__(self, problems: list[contracts.Problem], where: str | None = None) -> None:
        self.problems = problems
        first = problems[0]
        prefix = f"{where}: " if where else ""
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{prefix}{first.path}: {first.message} [{first.contract}]{more}")


def _non_finite(obj: Any, path: str) -> list[tuple[str, str]]:
    """JSON has no NaN/Infinity, but Python's json accepts them: reject them explicitly."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return [(path, f"{obj!r} is not a finite number")]
    if isinstance(obj, Mapping):
        return [p for k, v in obj.items() for p in _non_finite(v, f"{path}.{k}")]
    if isinstance(obj, (list, tuple)):
        return [p for i, v in enumerate(obj) for p in _non_finite(v, f"{path}[{i}]")]
    return []


def _timestamp(ts: Any) -> list[str]:
    """A capture time must be whole milliseconds and not absurd (body_truth_inputs.v0): JSON
    Schema's `integer` also takes 1e300, and fusion or a replay fed that never ends well (a
    float that large does not change when a tick is added)."""
    if isinstance(ts, float) and not (math.isfinite(ts) and ts.is_integer()):
        return [f"{ts!r} is not a whole number of milliseconds"]
    if not isinstance(ts, (int, float)) or isinstance(ts, bool):
        return [f"{ts!r} is not a number of milliseconds"]
    latest = contracts.body_truth_inputs().timestamps.max_timestamp_ms
    if ts > latest:
        return [f"{ts!r} is later than {latest}, the latest capture time accepted"]
    return []


def _plain(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def check(obj: Any, stem: str, *, where: str | None = None, file: str = "<memory>",
          line: int | None = None) -> dict[str, Any]:
    """Return `obj` as a plain dict when it satisfies contract `stem`, else raise InputRejected."""
    data = obj if type(obj) is dict else _plain(obj)
    contract = contracts.get(stem)
    found = contracts.problems(data, contract, file=file, line=line)
    if not found:
        found = [contracts.Problem(file, line, path, message, contract.stem)
                 for path, message in _non_finite(data, "$")]
    if not found:
        found = [contracts.Problem(file, line, "$.timestamp_ms", message, LIMITS)
                 for message in _timestamp(data.get("timestamp_ms"))]
    if found:
        raise InputRejected(found, where)
    if type(data["timestamp_ms"]) is not int:  # 1700000000000.0: the same instant, as an int
        data = {**data, "timestamp_ms": int(data["timestamp_ms"])}
    return data


def check_observation(obj: Any, **where: Any) -> dict[str, Any]:
    return check(obj, OBSERVATION_CONTRACT, **where)


def check_gesture(obj: Any, **where: Any) -> dict[str, Any]:
    return check(obj, GESTURE_CONTRACT, **where)


def frame_problems(frame: Mapping[str, Any]) -> list[contracts.Problem]:
    """Problems of an emitted `lume_body_truth` frame against body_truth.v0 (empty when valid)."""
    return contracts.problems(frame, contracts.get(FRAME_CONTRACT))
