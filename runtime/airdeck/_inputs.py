"""Reading the gate's live input: a JSONL stream validated line by line (files are read with
`lume.runtime.core.read_records`).

Every record is validated against its contract before the gate sees it; a bad line is reported
naming the file, the line, the field and the contract, and skipped.
"""
from __future__ import annotations

from typing import IO, Any, Iterator

from lume.generated.constants import INPUT_EVENT_STREAM
from lume.runtime.core import bounded_lines, scan_records

GESTURE = "gesture_event.v1"
FRAME = "body_truth.v0"
OBSERVATION = "body_observation.v1"


def stream_kind(record: Any, default: str) -> str:
    """A mixed live stream holds BodyTruth frames (type lume_body_truth) and `default` records."""
    return FRAME if isinstance(record, dict) and record.get("type") == "lume_body_truth" else default


def iter_stream(fh: IO[bytes], where: str, default: str,
                errors: list[str]) -> Iterator[dict[str, Any]]:
    """Validated records of a live JSONL stream; a bad line is reported in `errors` and skipped,
    a line over the `event_stream` line limit too (never held whole: /dev/zero on stdin)."""
    lines = bounded_lines(fh, where, INPUT_EVENT_STREAM, errors)
    for _, record in scan_records(lines, lambda r: stream_kind(r, default), file=where, errors=errors):
        yield record

