"""Replay a recorded observation (and gesture) stream through fusion, deterministically."""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

from ._fusion import Fusion
from ._inputs import check_gesture, check_observation

DEFAULT_TICK_MS = 33


def merged(observations: Iterable[Mapping[str, Any]],
           gestures: Iterable[Mapping[str, Any]] = ()) -> list[tuple[int, int, int, dict[str, Any]]]:
    """Validated (timestamp, kind 0=observation 1=gesture, index, record), in time order.

    Ties keep observations before gestures and each stream's own order (stable sort).
    """
    events = [(o["timestamp_ms"], 0, i, o) for i, o in
              enumerate(check_observation(x, where=f"observation #{i}") for i, x in enumerate(observations))]
    events += [(g["timestamp_ms"], 1, i, g) for i, g in
               enumerate(check_gesture(x, where=f"gesture #{i}") for i, x in enumerate(gestures))]
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    return events


def iter_replay(observations: Iterable[Mapping[str, Any]], gestures: Iterable[Mapping[str, Any]] = (),
                *, tick_ms: int = DEFAULT_TICK_MS, fusion: Fusion | None = None,
                rules: Any = None) -> Iterator[dict[str, Any]]:
    """Yield one frame every tick_ms from the first timestamp to the last plus the absent timeout.

    A quiet gap is skipped, not ticked through: once no input has arrived for longer than the
    absent and slot timeouts (body_truth_rules.v0 `timing`), fusion has nothing left to change
    until the next input, so the replay jumps (on the same tick grid) to just before it. The
    frames are then bounded by the inputs, not by the span of their timestamps (0 and
    1779639380013 in one file used to tick 54 billion times).
    """
    if tick_ms <= 0:
        raise ValueError(f"tick_ms must be positive, got {tick_ms}")
    events = merged(observations, gestures)
    if not events:
        return
    fusion = fusion or Fusion(rules)
    timing = fusion.rules.model.timing
    quiet = max(timing.absent_after_ms, timing.source_slot_null_after_ms) + tick_ms
    end = events[-1][0] + timing.absent_after_ms + tick_ms
    now, i, last = events[0][0], 0, events[0][0]
    while now <= end:
        while i < len(events) and events[i][0] <= now:
            last, kind, _, record = events[i]
            (fusion._gesture if kind else fusion._observe)(record)  # already validated
            i += 1
        yield fusion.tick(now)
        now += tick_ms
        if i < len(events) and now - last > quiet and events[i][0] - now >= tick_ms:
            now += (events[i][0] - now) // tick_ms * tick_ms  # skip the quiet gap


def replay(observations: Iterable[Mapping[str, Any]], gestures: Iterable[Mapping[str, Any]] = (),
           *, tick_ms: int = DEFAULT_TICK_MS, rules: Any = None) -> list[dict[str, Any]]:
    """Frames of a replay: merge both streams by timestamp_ms and tick every tick_ms.

    Ticks run from the first to the last timestamp plus the absent timeout (so a stream that ends
    with the performer leaving ends in `absent`), skipping quiet gaps. Raises ValueError on a record that breaks its
    contract, naming the record, the field and the contract.
    """
    return list(iter_replay(observations, gestures, tick_ms=tick_ms, rules=rules))
