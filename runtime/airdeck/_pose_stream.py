"""Live K11 pose -> BodyTruth + gesture events, for `lume airdeck run --from-pose`.

Each body observation feeds BodyTruth fusion (lume.runtime.bodytruth, imported here only:
the gate itself never depends on it) and the AirDeck recogniser; the gesture events the
recogniser emits are fed to fusion too, then fusion ticks at the observation's time and the
resulting frame is yielded before the events, so the gate meets each event with the frame of
its own moment. BodyTruth frames already present in the stream pass through unchanged.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

from ._recognize import Recognizer
from ._replay import is_frame


def pose_records(records: Iterable[dict[str, Any]], *, machine: str) -> Iterator[dict[str, Any]]:
    from lume.runtime.bodytruth import Fusion

    fusion = Fusion()
    recognizer = Recognizer(machine=machine)
    last = None
    for record in records:
        if is_frame(record):
            yield record
            continue
        fusion.observe(record)
        events = recognizer.feed(record)
        for event in events:
            fusion.gesture(event)
        ts = record["timestamp_ms"]
        if last is None or ts >= last:  # fusion ticks forward only
            last = ts
            yield fusion.tick(ts)
        yield from events
    yield from recognizer.finish()
