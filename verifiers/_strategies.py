"""Hypothesis strategies over the rig's inputs, built from the contracts (one definition, shared).

The property verifiers (`safety.airdeck.properties`, `safety.bodytruth.properties`,
`director.ownership.properties`, `lumf.codec.properties`) and the property tests in tests/ draw
from these. Values sit around the contracts' own limits (thresholds, hold, cooldown, freshness,
release gap, ranges), so an off-by-one in the code under test is one draw away, and streams are
biased towards what could dispatch / confirm / burst, so no property passes vacuously.
Sizes come from property_checks.v1 `inputs`.
"""
from __future__ import annotations

import copy
import functools
import math
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Mapping

from hypothesis import strategies as st

from lume.generated import lumf_layout as L
from lume.runtime.core import (
    LabelIndex,
    body_truth_rules,
    commands,
    director_ownership,
    get,
    parameters,
    rfc3339,
    table,
)

BUDGETS = "property_checks.v1"
T0 = 1_779_639_400_000  # a May 2026 instant, like the recorded sessions


def inputs() -> Any:
    return table(BUDGETS).inputs


# =============================================================================== AirDeck gate
@functools.cache
def _labels() -> LabelIndex:
    return LabelIndex.load()


def enum(contract: str, name: str) -> list[str]:
    return list(get(contract).raw["$defs"][name]["enum"])


@functools.cache
def gate_vocabulary() -> dict[str, Any]:
    idx = _labels()
    rows = list(idx.rows.values())
    promoted = [r["name"] for r in rows if r["promotion_status"] == "promoted"]
    every = [r["name"] for r in rows] + [a for r in rows for a in r["aliases"]] + ["not_a_label"]
    presence = parameters("SAFE-CMD-PRESENCE")
    cmds = commands()
    thresholds = sorted({c["threshold"] for c in cmds.values()})
    age = presence["max_body_truth_age_ms"]
    release = body_truth_rules().gesture.release_after_ms
    return {
        "labels": every,
        "promoted": promoted,
        "command_labels": [r["name"] for r in rows if r["lane"] == "command"],
        "destructive": [r["name"] for r in rows if r["destructive"]],
        "modes": enum("body_truth.v0", "BodyTruthMode"),
        "machines": enum("common.v1", "Machine"),
        # every kind of source id the live source filter names, and a few it does not
        "sources": ["k11_webcam_pose", "k11_arducam_pose", "mac2_insta360_room_wide", "mac4_mocopi",
                    "k11_unity", "k11_webcam_raw", "mac4_mega_rgb", "k11_webcam", "k11_recorded_pose",
                    "k11_sam3d_pose", "k11_template_pose"],
        # confidences at and just below each threshold, and around them
        "confidences": sorted({0.0, 0.3, 0.69, 1.0, *thresholds,
                               *(math.nextafter(t, 0.0) for t in thresholds), 0.95}),
        "ages": sorted({0, 5, age - 1, age, age + 1, 2 * age}),
        "gaps": sorted({0, 33, 100, release, release + 1, 600, 1500, 2600}),
        "steps": [16, 33, 33, 50, 100],
        "dispatch_mode": presence["dispatch_mode"],
    }


@functools.cache
def _frame_template() -> dict[str, Any]:
    return copy.deepcopy(get("body_truth.v0").examples[0])


def frame(ts: int, mode: str = "gesture_confirmed", intent: str | None = "left_hand_raise",
          intent_confidence: float = 0.95) -> dict[str, Any]:
    """A body_truth.v0 frame (from the contract's own example) in `mode`, consistent with the
    contract's rules: absent / tracking_lost are not present, only candidate / confirmed name a
    command, and the intent names the command and deck its label stands for (labels.v1)."""
    f = dict(_frame_template())  # nested values are shared: nothing downstream changes a frame
    f["timestamp"] = ts
    f["mode"] = mode
    f["present"] = mode not in ("absent", "tracking_lost")
    f["tracking_lost"] = mode == "tracking_lost"
    if mode == "absent":
        f["center"] = f["bounds"] = None
    if intent is None:
        f["gesture_intent"] = {"name": "none", "confidence": 0.0, "deck": None, "command": None}
    else:
        cmd = _labels().resolve_command(intent)
        named = mode in ("gesture_candidate", "gesture_confirmed")
        f["gesture_intent"] = {"name": intent, "confidence": intent_confidence,
                               "deck": cmd.deck if cmd is not None and cmd.deck in (1, 2) else None,
                               "command": cmd.command if cmd is not None and named else None}
    return f


def event(ts: int, label: str = "left_hand_raise", phase: str | None = "hold",
          confidence: float = 0.9, deck: int | None = None, source_id: str = "k11_webcam_pose",
          machine: str = "K11") -> dict[str, Any]:
    """A gesture_event.v1 record."""
    e: dict[str, Any] = {"timestamp_ms": ts, "source_id": source_id, "machine": machine,
                         "label": label, "confidence": confidence}
    if deck is not None:
        e["deck"] = deck
    if phase is not None:
        e["phase"] = phase
    return e


def held(label: str, start: int, duration: int, *, step: int = 33, deck: int | None = None,
         release: bool = True, **kw: Any) -> list[dict[str, Any]]:
    """A gesture held from `start` for `duration` ms: start, hold every `step` ms, release."""
    out = [event(start + i, label, "start" if i == 0 else "hold", deck=deck, **kw)
           for i in range(0, duration + 1, step)]
    if release:
        out.append(event(start + duration + step, label, "release", deck=deck, **kw))
    return out


def frames_for(events: list[dict[str, Any]], mode: str = "gesture_confirmed",
               **kw: Any) -> list[dict[str, Any]]:
    """One frame just before each event, naming that event's gesture."""
    return [frame(e["timestamp_ms"] - 5, mode, intent=e["label"], **kw) for e in events]


def _biased(common, rare):
    return st.sampled_from(list(common) * 12 + list(rare))


def _attempt(fields: dict[str, Any]):
    """A gesture attempt's description, one draw per field. Not `fixed_dictionaries`: that also
    shuffles each dict's key order (one more draw per key, half of what an attempt costs), and
    these dicts never reach the code under test, only `_stream`, which reads them by key."""
    keys = tuple(fields)
    return st.tuples(*fields.values()).map(functools.partial(_keyed, keys))


def _keyed(keys: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(keys, values))


def _free_segment(v: dict[str, Any], labels: list[str], common: list[str], max_events: int):
    """A gesture attempt: a run of one label from one source (a hold, a flicker or noise)
    after a gap, with one frame per event; one frame of the run may switch mode."""
    confidences = v["confidences"]
    return _attempt({
        "kind": st.just("free"), "gap": st.sampled_from(v["gaps"]),
        "label": _biased(common, labels), "source": _biased(["k11_webcam_pose"], v["sources"]),
        "machine": _biased(["K11"], v["machines"]), "deck": st.sampled_from([None, None, 1, 2]),
        "conf": st.sampled_from(confidences[-4:] * 2 + confidences), "n": st.integers(1, max_events),
        "step": st.sampled_from(v["steps"]), "first": st.sampled_from(["start", None, "hold"]),
        "release": st.booleans(), "mode": _biased([v["dispatch_mode"]], v["modes"]),
        "intent": st.sampled_from(["same", "same", "same", "none", "other"]),
        "iconf": st.sampled_from(confidences[-4:] * 2 + confidences), "age": st.sampled_from(v["ages"]),
        "flip": st.integers(-10, max_events - 1), "flip_mode": st.sampled_from(v["modes"]),
    })


def _clean_segment(v: dict[str, Any], common: list[str], max_events: int):
    """A gesture attempt that should dispatch: a K11 pose source holding a promoted label with
    confirming fresh frames and high confidence; only its length, pace and gap vary."""
    return _attempt({
        "kind": st.just("free"), "gap": st.sampled_from(v["gaps"]), "label": st.sampled_from(common),
        "source": st.just("k11_webcam_pose"), "machine": st.just("K11"), "deck": st.just("auto"),
        "conf": st.sampled_from(v["confidences"][-2:]), "n": st.integers(2, max_events),
        "step": st.sampled_from(v["steps"]), "first": st.sampled_from(["start", "start", None]),
        "release": st.booleans(), "mode": st.just(v["dispatch_mode"]), "intent": st.just("same"),
        "iconf": st.sampled_from(v["confidences"][-2:]), "age": st.sampled_from(v["ages"][:2]),
        "flip": st.integers(-10, max_events - 1), "flip_mode": st.sampled_from(v["modes"]),
    })


def _precise_segment(v: dict[str, Any], labels: list[str], common: list[str]):
    """A gesture timed to the contract's limits: start, hold events (never further apart than the
    release gap) up to one exactly `hold_ms + delta` after the start, release 1 ms after. Its completion lands at the previous attempt's completion plus that
    label's cooldown, hold or release gap, minus 1, exactly, or plus 1 ms; mostly it repeats the
    previous attempt (same label, source, machine and deck): a double trigger at the boundary.
    Its other inputs are mostly clean (K11 pose, fresh confirming frames): the free attempts
    vary those."""
    stop = parameters("SAFE-SAFE-STOP-LOCK")["label"]
    timed = [c for c in common if c != stop] or common  # a safe stop would lock out what follows
    return _attempt({
        "kind": st.just("precise"), "label": _biased(timed, labels),
        "repeat": st.sampled_from([True, True, True, False]), "source": st.just("k11_webcam_pose"),
        "machine": st.just("K11"), "deck": st.just("auto"), "delta": st.sampled_from([-1, 0, 0, 1]),
        "offset": st.sampled_from(["cooldown_ms", "cooldown_ms", "hold_ms", "release"]),
        "offset_delta": st.sampled_from([-1, 0, 1]), "conf": st.sampled_from(v["confidences"][-4:]),
        "mode": _biased([v["dispatch_mode"]], v["modes"][:2]), "age": st.sampled_from(v["ages"][:3]),
    })


@functools.cache  # once per label: `commands()` hands out a fresh deep copy on every call
def _limits_of(label: str) -> Mapping[str, int]:
    cmd = _labels().resolve_command(label)
    spec = commands().get(cmd.command) if cmd is not None else None
    return MappingProxyType({"hold_ms": spec["hold_ms"] if spec else 0,
                             "cooldown_ms": spec["cooldown_ms"] if spec else 0,
                             "release": body_truth_rules().gesture.release_after_ms})


@functools.cache
def _segments(labels: tuple[str, ...] | None, common: tuple[str, ...] | None, max_segments: int | None):
    """The list-of-attempts strategy (built once: building strategies costs more than drawing)."""
    v = gate_vocabulary()
    bounds = inputs().airdeck
    labels_, common_ = list(labels or v["labels"]), list(common or v["promoted"])
    precise = _precise_segment(v, labels_, common_)
    segment = st.one_of(_free_segment(v, labels_, common_, bounds.max_events_per_segment),
                        _clean_segment(v, common_, bounds.max_events_per_segment), precise)
    most = max_segments or bounds.max_segments
    # half the streams are attempts of every kind, half are timed attempts back to back (the
    # double triggers at the cooldown and hold boundaries are then common, not rare)
    return st.one_of(st.lists(segment, min_size=1, max_size=most),
                     st.lists(precise, min_size=min(2, most), max_size=most))


def gate_streams(labels: list[str] | None = None, common: list[str] | None = None,
                 max_segments: int | None = None):
    """(events, frames): gesture attempts in time order, each event with a frame before it."""
    return _segments(tuple(labels) if labels else None, tuple(common) if common else None,
                     max_segments).map(_stream)


def _stream(segments: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ts, done = T0, T0  # end of the previous attempt, and when it completed its hold
    events: list[dict[str, Any]] = []
    frames: list[dict[str, Any]] = []

    def add(t: int, s: dict[str, Any], phase: str | None, conf: float, mode: str, intent: str | None,
            iconf: float, age: int) -> None:
        events.append(event(t, s["label"], phase=phase, confidence=conf, deck=s["deck"],
                            source_id=s["source"], machine=s["machine"]))
        frames.append(frame(t - age, mode, intent=intent, intent_confidence=iconf))

    previous: dict[str, Any] | None = None
    for s in segments:
        if s.get("repeat") and previous is not None:
            s = {**s, **{k: previous[k] for k in ("label", "source", "machine", "deck")}}
        previous = s
        if s["deck"] == "auto":  # the deck the label commands, else deck 1 (a deck command needs one)
            cmd = _labels().resolve_command(s["label"])
            s = {**s, "deck": cmd.deck if cmd is not None and cmd.deck is not None else 1}
        if s["kind"] == "precise":
            limits = _limits_of(s["label"])
            hold = limits["hold_ms"] + s["delta"]
            start = max(ts + 1, done + limits[s["offset"]] + s["offset_delta"] - hold)
            pace = min(gate_vocabulary()["steps"][-1], limits["release"])  # a hold is continuous: no gap past release
            times = [*range(start, start + hold, max(1, pace)), start + hold]
            for t, phase in [(t, "start" if i == 0 else "hold") for i, t in enumerate(times)] + \
                    [(start + hold + 1, "release")]:
                add(t, s, phase, s["conf"], s["mode"], s["label"], s["conf"], s["age"])
            ts, done = start + hold + 1, start + hold
            continue
        ts += s["gap"]
        name = {"same": s["label"], "none": None, "other": "right_hand_raise"}[s["intent"]]
        for i in range(s["n"]):
            phase = s["first"] if i == 0 else ("hold" if s["first"] else None)
            if s["release"] and i == s["n"] - 1:
                phase = "release"
            add(ts, s, phase, s["conf"], s["flip_mode"] if i == s["flip"] else s["mode"], name,
                s["iconf"], s["age"])
            done = ts
            ts += s["step"]
    return events, frames


def boundary_streams(labels: list[str] | None = None) -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Explicit streams at each limit of each dispatchable label: a double trigger 1 ms inside
    and exactly at the cooldown, a hold 1 ms short and exactly long enough, a frame 1 ms too
    old, a confidence just under the threshold (the examples a property always runs first)."""
    v = gate_vocabulary()
    age = max(v["ages"][:-1])  # max_body_truth_age_ms + 1
    out = []
    for label in labels or v["promoted"]:
        cmd = _labels().resolve_command(label)
        spec = commands().get(cmd.command) if cmd is not None else None
        if spec is None:
            continue
        base = {"kind": "precise", "label": label, "repeat": False, "source": "k11_webcam_pose",
                "machine": "K11", "deck": "auto", "delta": 0, "offset": "cooldown_ms",
                "offset_delta": 0, "conf": 1.0, "mode": v["dispatch_mode"], "age": 0}
        below = max(c for c in v["confidences"] if c < spec["threshold"])
        for second in ({"offset_delta": -1}, {"offset_delta": 0}):
            out.append(_stream([base, {**base, **second}]))
        for change in ({"delta": -1}, {"age": age}, {"conf": below}):
            out.append(_stream([{**base, **change}]))
    return out


# ================================================================================ BodyTruth
@functools.cache
def fusion_vocabulary() -> dict[str, Any]:
    r = body_truth_rules()
    return {"kinds": sorted(r.sources.model_dump()),
            "source_ids": ["cam_a", "cam_b", "k11_webcam_pose", "mac4_mocopi",
                           *sorted(r.evidence_only_source_ids)],
            "labels": ["left_hand_raise", "right_hand_raise", "wave_color", "loop_toggle", "made_up_label"],
            "machines": ["K11", "Mac4", "MotionMix"],
            "postures": enum("body_observation.v1", "Posture"),
            "still": r.motion.still_max_motion_energy}


unit = st.floats(0, 1, allow_nan=False)
vec = st.fixed_dictionaries({k: st.floats(-5, 5, allow_nan=False) for k in "xyz"})


def observation(max_energy: float = 1.0, t0: int = T0):
    """One body_observation.v1 reading of any source, optional fields or not."""
    v = fusion_vocabulary()
    return st.fixed_dictionaries(
        {"timestamp_ms": st.integers(t0, t0 + 4000), "source": st.sampled_from(v["kinds"]),
         "source_id": st.sampled_from(v["source_ids"]), "present": st.booleans(), "confidence": unit},
        optional={"motion_energy": st.floats(0, max_energy, allow_nan=False),
                  "posture": st.sampled_from(v["postures"]), "joint_count": st.integers(0, 40),
                  "center": vec, "bounds": vec})


def gesture_event(machines: tuple[str, ...] | None = None, t0: int = T0):
    """One gesture_event.v1 record from any lane."""
    v = fusion_vocabulary()
    return st.fixed_dictionaries(
        {"timestamp_ms": st.integers(t0, t0 + 4000), "source_id": st.sampled_from(v["source_ids"]),
         "machine": st.sampled_from(machines or v["machines"]), "label": st.sampled_from(v["labels"]),
         "confidence": unit},
        optional={"phase": st.sampled_from(["start", "hold", "release"]), "deck": st.sampled_from([1, 2])})


@st.composite
def performer(draw, max_energy: float = 1.0, t0: int = T0) -> list[dict[str, Any]]:
    """A steady K11-pose track with energy segments, so presence, burst and gestures are reached."""
    out, t = [], draw(st.integers(0, 500))
    for _ in range(draw(st.integers(1, 4))):
        energy = draw(st.floats(0, max_energy, allow_nan=False))
        for _ in range(draw(st.integers(1, 15))):
            out.append({"timestamp_ms": t0 + t, "source": "k11_pose", "source_id": "k11_webcam_pose",
                        "present": True, "confidence": draw(st.floats(0.5, 1, allow_nan=False)),
                        "motion_energy": energy})
            t += draw(st.integers(20, 150))
    return out


@st.composite
def held_gestures(draw, machines: tuple[str, ...] | None = None, t0: int = T0) -> list[dict[str, Any]]:
    """A few held gestures: start, holds every 20-200 ms, maybe a release."""
    v = fusion_vocabulary()
    out = []
    for _ in range(draw(st.integers(0, 3))):
        t = draw(st.integers(0, 2000))
        g = {"source_id": "k11_webcam_pose", "machine": draw(st.sampled_from(machines or v["machines"])),
             "label": draw(st.sampled_from(v["labels"]))}
        conf = draw(st.floats(0.5, 1, allow_nan=False))  # a deliberate hold keeps its confidence
        for i in range(draw(st.integers(1, 20))):
            out.append({**g, "timestamp_ms": t0 + t, "confidence": conf,
                        "phase": "start" if i == 0 else "hold"})
            t += draw(st.integers(20, 200))
        if draw(st.booleans()):
            out.append({**g, "timestamp_ms": t0 + t, "confidence": 0.2, "phase": "release"})
    return out


@st.composite
def confirmable(draw, t0: int = T0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(observations, gestures): a steady K11 pose track under one deliberate held command
    gesture from a confirm machine, so `gesture_confirmed` is reached (and then lost or left)."""
    r = body_truth_rules()
    v = fusion_vocabulary()
    end = draw(st.integers(1500, 4000))
    pace = draw(st.integers(20, min(150, r.sources.k11_pose.fresh_ms_max)))
    energy = draw(st.floats(0, r.motion.burst_min_motion_energy, allow_nan=False))
    track = [{"timestamp_ms": t0 + t, "source": "k11_pose", "source_id": "k11_webcam_pose", "present": True,
              "confidence": draw(st.floats(r.presence.min_confidence, 1, allow_nan=False)), "motion_energy": energy}
             for t in range(0, end, pace)]
    label = draw(st.sampled_from(v["labels"][:2]))
    conf = draw(st.floats(r.gesture.confirm_min_confidence, 1, allow_nan=False))
    start = draw(st.integers(0, end // 3))
    length = draw(st.integers(r.gesture.hold_ms, 2 * r.gesture.hold_ms + r.gesture.confirmed_max_ms))
    step = draw(st.integers(20, r.gesture.release_after_ms))
    g = {"source_id": "k11_webcam_pose", "machine": draw(st.sampled_from(list(r.gesture.confirm_machines))),
         "label": label, "confidence": conf}
    held = [{**g, "timestamp_ms": t0 + t, "phase": "start" if t == start else "hold"}
            for t in range(start, min(start + length, end), step)]
    if draw(st.booleans()):
        held.append({**g, "timestamp_ms": t0 + min(start + length, end), "phase": "release"})
    return track, held


def dense(readings=None, max_energy: float = 1.0):
    """Random readings plus a steady performer track (so the gesture and burst paths are exercised)."""
    readings = readings if readings is not None else observation(max_energy)
    return st.builds(lambda a, b: a + b, st.lists(readings, max_size=inputs().bodytruth.max_observations),
                     performer(max_energy))


def gestures_of(machines: tuple[str, ...] | None = None):
    return st.builds(lambda a, b: a + b,
                     st.lists(gesture_event(machines), max_size=inputs().bodytruth.max_gesture_events),
                     held_gestures(machines))


ticks = st.sampled_from([17, 33, 100])


# ============================================================================ director bus
@functools.cache
def director_vocabulary() -> dict[str, Any]:
    t = director_ownership()
    return {"roles": [r.role for r in t.roles],
            "heartbeat_timeout_s": t.rules.heartbeat_timeout_s, "paused_phase": t.rules.paused_phase,
            "token_ttl_s": t.quorum.token_ttl_s}


def _state_enum(name: str):
    return st.sampled_from(enum("director_state.v2", name))


def _nullable(s):
    return st.none() | s


def _some_of(**fields):
    """A non-empty subset of optional fields (set_session / set_look / set_performer_voice)."""
    keys = st.lists(st.sampled_from(sorted(fields)), min_size=1, unique=True)
    return keys.flatmap(lambda ks: st.fixed_dictionaries({k: fields[k] for k in ks}))


@functools.cache
def command_bodies() -> dict[str, Any]:
    """A strategy per director command of director_frames.v2 (the frame without its `type`;
    `identify` is answered from a device key, never drawn)."""
    names = st.text("abcxyz_-0123456789", min_size=1, max_size=8)
    uuids = st.uuids().map(str)
    times = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)).map(rfc3339)
    keys = st.from_regex(r"\A[a-z][a-z0-9_]{0,7}\Z")
    cues = st.fixed_dictionaries({"id": names, "kind": _state_enum("CueKind"),
                                  "payload": st.dictionaries(keys, st.integers(0, 9) | names | st.none(),
                                                             max_size=2)})
    return {
        "set_session_phase": st.fixed_dictionaries({"phase": _state_enum("SessionPhase")}),
        "set_session": _some_of(id=_nullable(uuids), started_at=_nullable(times),
                                operator_device_id=_nullable(uuids)),
        "set_cue": st.fixed_dictionaries({"cue": _nullable(cues)},
                                         optional={"slot": st.sampled_from(["current", "next"])}),
        "set_look_active": st.fixed_dictionaries({"id": _nullable(_state_enum("LookId"))}),
        "set_look": _some_of(wardrobe_id=_nullable(names), lighting_preset=_nullable(names)),
        "set_performer_intent": st.fixed_dictionaries({"intent": _state_enum("PerformerIntent")}),
        "set_performer_voice": _some_of(voice_state=_nullable(_state_enum("VoiceState")),
                                        comprehension_score=_nullable(st.floats(0, 1))),
        "propose_consent": st.fixed_dictionaries({"scope": st.lists(_state_enum("ConsentScope"), min_size=1,
                                                                    max_size=2, unique=True)}),
        "ack_consent": st.just({}),
        "heartbeat": st.just({}),
    }


def command_frames():
    bodies = command_bodies()
    return st.sampled_from(sorted(bodies)).flatmap(
        lambda kind: bodies[kind].map(lambda body: {"type": kind, **body}))


def junk_frames():
    """Frames every bus must refuse: the seed's `by` field, unknown types, no type, bad values."""
    return command_frames().flatmap(lambda f: st.sampled_from([
        {**f, "by": "mac"},  # the role comes from identify only
        {**f, "type": f["type"] + "_x"},
        {k: v for k, v in f.items() if k != "type"},
        {**f, "phase": 3} if f["type"] == "set_session_phase" else {**f, "version": 99},
    ]))


def director_steps(max_steps: int):
    """Sequences of what can happen to a bus: commands from any role (and from their owners more
    often), consent proposals and acks, junk, identifies and time passing."""
    v = director_vocabulary()
    roles = st.sampled_from(v["roles"])
    owner = st.integers(0, len(v["roles"]) - 1)
    bodies = command_bodies()
    step = st.one_of(
        # the pause rule is reached on purpose: an owner pauses, then cues arrive
        st.tuples(st.just("owned"), owner, st.just({"type": "set_session_phase", "phase": v["paused_phase"]})),
        st.tuples(st.just("owned"), owner, bodies["set_cue"].map(lambda b: {"type": "set_cue", **b})),
        st.tuples(st.just("command"), roles, command_frames()),
        st.tuples(st.just("owned"), owner, command_frames()),
        st.tuples(st.just("propose"), roles, command_bodies()["propose_consent"]),
        st.tuples(st.just("ack"), roles),
        st.tuples(st.just("junk"), st.none() | roles, junk_frames()),
        st.tuples(st.just("identify"), roles),
        st.tuples(st.just("time"), st.sampled_from([0.5, 1.0, v["heartbeat_timeout_s"], v["token_ttl_s"]])),
    )
    return st.lists(step, min_size=1, max_size=max_steps)


# ==================================================================================== LUMF
@functools.cache
def lumf_fields() -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in get("lumf_layout.v1").table_data()["fields"]}


def f32_in(lo: float, hi: float):
    return st.floats(min_value=lo, max_value=hi, width=32, allow_nan=False, allow_infinity=False)


def lumf_features():
    """Any valid LUMF feature set: every value field inside its contract range."""
    fields = lumf_fields()
    parts = {}
    for name in L.VALUE_FIELDS:
        f = fields[name]
        values = f32_in(f["min"], f["max"])
        parts[name] = values if f["count"] == 1 else st.lists(values, min_size=f["count"], max_size=f["count"])
    return st.fixed_dictionaries(parts)


def lumf_sizes():
    """Datagram sizes other than the packet size (empty, short, one off, long)."""
    return st.sampled_from([0, 1, L.SIZE - 1, L.SIZE + 1, 2 * L.SIZE]) | \
        st.integers(0, 1500).filter(lambda n: n != L.SIZE)
