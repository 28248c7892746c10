"""replay.route_smoke: every recorded session with gesture events replays through fusion and
the AirDeck gate (dry run), and dispatches only what the label table and its promoted manifest allow.

A session is a rehearsal bundle (the folder holding `bundle.json`), else the folder of its
gesture streams. Its gesture events (gesture_event.v1) meet BodyTruth frames the way they met
them on the rig: the session's recorded frames (body_truth.v0) when it has them, else its
pose / body observations (body_observation.v1) fused through the real BodyTruth fusion with
those gestures. The real `DispatchGate` decides every event as K11 would, in dry run, against
the session's promoted manifest when it holds one (airdeck_promoted_gestures.v1), else the
label table alone. Evidence per session: the time BodyTruth spent in each mode, the dispatches
and the refusals by invariant (and by machine: a Mac4 gesture is refused, never dispatched).
The check fails on any dispatch the label table or the manifest does not allow, found by the
gate's own independent audit and by a label-table lookup here.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import PurePosixPath
from typing import Any, Iterator

from lume.generated.constants import (
    SAFE_AUTHORITY_K11,
    SAFE_CMD_PRESENCE,
    SAFE_CMD_PROMOTED,
    SAFE_LIVE_SOURCE_FILTER,
    SAFE_NEVER_COMMAND,
    SAFE_SAFE_STOP_LOCK,
)
from lume.runtime.core import InputError, LabelIndex, invariants, read_records

from ._context import Context
from ._framework import Evidence, held, verifier, violated

ID = "replay.route_smoke"
GESTURES, FRAMES, OBSERVATIONS = "gesture_event.v1", "body_truth.v0", "body_observation.v1"
MANIFEST = "airdeck_promoted_gestures.v1"
BUNDLE_FILE = "bundle.json"
COVERS = (SAFE_AUTHORITY_K11, SAFE_NEVER_COMMAND, SAFE_LIVE_SOURCE_FILTER, SAFE_CMD_PROMOTED,
          SAFE_CMD_PRESENCE, SAFE_SAFE_STOP_LOCK)


def sessions(ctx: Context) -> dict[str, dict[str, list[str]]]:
    """Session folder -> its gesture, frame, observation and manifest documents (sessions with
    gesture events only)."""
    bundles = sorted((f.rpartition("/")[0] or "." for f in ctx.files if f.rpartition("/")[2] == BUNDLE_FILE),
                     key=len, reverse=True)

    def session_of(rel: str) -> str:
        for b in bundles:
            if b == "." or rel.startswith(b + "/"):
                return b
        return str(PurePosixPath(rel).parent)

    found: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for key, stem in (("gestures", GESTURES), ("frames", FRAMES), ("observations", OBSERVATIONS),
                      ("manifests", MANIFEST)):
        for rel in ctx.documents_of(stem):
            found[session_of(rel)][key].append(rel)
    return {s: dict(docs) for s, docs in sorted(found.items()) if docs.get("gestures")}


def _has_sessions(ctx: Context) -> bool:
    return bool(sessions(ctx))


def time_per_mode(frames: list[dict[str, Any]]) -> dict[str, int]:
    """Milliseconds BodyTruth spent in each mode (each frame lasts until the next)."""
    out: Counter = Counter()
    for a, b in zip(frames, frames[1:]):
        out[a["mode"]] += b["timestamp"] - a["timestamp"]
    return dict(sorted(out.items()))


def replay_session(ctx: Context, folder: str, docs: dict[str, list[str]]) -> Iterator[Evidence]:
    from lume.runtime.airdeck import Authority, DispatchGate, Rules, audit, load_manifest, replay
    from lume.runtime.bodytruth import replay as fuse

    try:
        events = [r for rel in docs["gestures"] for r in read_records(ctx.path(rel), GESTURES)]
        recorded = [r for rel in docs.get("frames", []) for r in read_records(ctx.path(rel), FRAMES)]
        observations = [r for rel in docs.get("observations", []) for r in read_records(ctx.path(rel), OBSERVATIONS)]
        manifests = docs.get("manifests", [])
        if len(manifests) > 1:
            yield violated("a session holds more than one promoted manifest: which one did the gate read?",
                           file=folder, expected="at most one", found=manifests)
            return
        manifest = load_manifest(ctx.path(manifests[0])) if manifests else None
    except InputError as exc:
        yield violated(f"cannot replay: {exc}", file=folder, expected="contract-valid streams", found="unreadable")
        return
    if recorded:
        frames, body = sorted(recorded, key=lambda f: f["timestamp"]), "recorded BodyTruth frames"
    elif observations:
        try:
            frames = fuse(observations, events)
        except ValueError as exc:
            yield violated(f"fusion refused the observations: {exc}", file=folder, expected="a replayable stream",
                           found="refused")
            return
        body = "observations fused through BodyTruth"
    else:
        frames, body = [], "no pose or BodyTruth stream (every event meets no frame)"
    rules = Rules.from_contracts()
    decisions = replay(DispatchGate(Authority.simulated(rules), rules, manifest, dry_run=True), events, frames)
    refusals = Counter(d.invariant for d in decisions if not d.dispatched and d.invariant)
    by_machine: dict[str, Counter] = defaultdict(Counter)
    for d in decisions:
        if not d.dispatched and d.invariant:
            by_machine[d.machine][d.invariant] += 1
    dispatched = [d for d in decisions if d.dispatched]
    found = {
        "events": len(events), "frames": len(frames), "body": body,
        "manifest": manifests[0] if manifests else None,
        "time_per_mode_ms": time_per_mode(frames),
        "dispatches": len(dispatched),
        "dispatched": [{"command": d.command, "deck": d.deck, "label": d.label, "timestamp_ms": d.timestamp_ms}
                       for d in dispatched],
        "refusals_by_invariant": dict(sorted(refusals.items())),
        "refusals_by_machine": {m: dict(sorted(c.items())) for m, c in sorted(by_machine.items())},
    }
    problems = audit([d.to_record() for d in decisions], rules, manifest)
    problems += _not_allowed(dispatched, manifest, rules.safe_stop_label)
    if problems:
        for p in problems:
            yield violated(f"a dispatch the label table or the promoted manifest does not allow: {p}",
                           file=folder, field="dispatched", expected="only allowed dispatches", found=found)
        return
    yield held(f"replayed {len(events)} gesture events over {len(frames)} BodyTruth frames ({body}): "
               f"{len(dispatched)} dispatched, {sum(refusals.values())} refused",
               file=folder, expected="every dispatch allowed by labels.v1" + (" and the manifest" if manifest else ""),
               found=found)


def _not_allowed(dispatched: list[Any], manifest: Any, safe_stop: str) -> list[str]:
    """Dispatches whose label is not a promoted command of labels.v1, or missing from the manifest."""
    labels = LabelIndex.load()
    p = invariants()[SAFE_CMD_PROMOTED].parameters
    out = []
    for d in dispatched:
        cmd = labels.resolve_command(d.label)
        where = f"{d.label} at {d.timestamp_ms}"
        if cmd is None or any(r["promotion_status"] != p["required_promotion_status"]
                              or r["lane"] != p["required_lane"] for r in cmd.rows):
            out.append(f"{where}: not a promoted command label of labels.v1")
        elif manifest is not None and cmd.command != safe_stop and cmd.label not in manifest.gestures:
            out.append(f"{where}: {cmd.label} is not in the promoted manifest")
    return out


@verifier(ID, "Every recorded session with gesture events replays through fusion and the gate with allowed dispatches only",
          invariants=COVERS, domain="rig", inputs=_has_sessions, needs="recorded session with gesture events")
def route_smoke(ctx: Context) -> Iterator[Evidence]:
    for folder, docs in sessions(ctx).items():
        yield from replay_session(ctx, folder, docs)
