"""safety.bodytruth.properties: BodyTruth fusion keeps its contract over generated streams.

Generated observation and gesture streams replay through the real fusion (`bodytruth.replay`,
what the BodyTruth service ticks); an oracle written here from body_truth_rules.v0,
body_truth_modes.v0 and body_truth.v0 checks every frame: it is contract-valid and reached by
an allowed transition; it is present exactly when a fresh human source reports a person at or
above the presence threshold (SAFE-CMD-PRESENCE rests on this); it bursts only while present
with a fresh motion-counting reading at the burst level (SAFE-BURST-NONDESTRUCTIVE rests on
this, and a still stream never bursts); a present body is lost through `tracking_lost` before
`absent`, and only after the absent timeout; only the confirm machines' gestures reach
`gesture_confirmed`. A counterexample fails the check with the shrunk streams as evidence.
"""
from __future__ import annotations

import bisect
from collections import Counter
from typing import Any, Iterator

from lume.generated.constants import SAFE_BURST_NONDESTRUCTIVE, SAFE_CMD_PRESENCE
from lume.runtime.bodytruth import replay
from lume.runtime.core import body_truth_modes, body_truth_rules, get, problems

from ._context import Context
from ._framework import Evidence, verifier
from ._properties import budget, evidence, run_property

ID = "safety.bodytruth.properties"
COVERS = (SAFE_CMD_PRESENCE, SAFE_BURST_NONDESTRUCTIVE)


class Broken(AssertionError):
    pass


class FusionOracle:
    """What the BodyTruth contracts say about a replay, read here independently of fusion."""

    def __init__(self) -> None:
        r = body_truth_rules()
        m = body_truth_modes()
        self.r = r
        self.sources = r.sources.model_dump()
        self.evidence_only = set(r.evidence_only_source_ids)
        self.modes = {name: spec for name, spec in m.modes.model_dump().items()}
        self.allowed = {(t.from_, t.to) for t in m.transitions}
        self.initial = m.initial
        self.contract = get("body_truth.v0")

    def _latest(self, observations: list[dict[str, Any]]):
        """For each time, the latest reading of every source id at or before it."""
        by_id: dict[str, tuple[list[int], list[dict[str, Any]]]] = {}
        for o in sorted(observations, key=lambda o: o["timestamp_ms"]):
            if o["source_id"] in self.evidence_only:
                continue  # never counts in live fusion (SAFE-LIVE-SOURCE-FILTER)
            times, recs = by_id.setdefault(o["source_id"], ([], []))
            times.append(o["timestamp_ms"])
            recs.append(o)

        def at(now: int) -> list[dict[str, Any]]:
            out = []
            for times, recs in by_id.values():
                i = bisect.bisect_right(times, now)
                if i:
                    out.append(recs[i - 1])
            return out
        return at

    def _fresh(self, o: dict[str, Any], now: int) -> bool:
        return o["present"] and now - o["timestamp_ms"] <= self.sources[o["source"]]["fresh_ms_max"]

    def _qualifies(self, o: dict[str, Any], now: int) -> bool:
        p, posture = self.r.presence, o.get("posture")
        return (self._fresh(o, now) and self.sources[o["source"]]["human_source"]
                and o["confidence"] >= p.min_confidence
                and (posture is None or posture in self.r.posture.present_allowed)
                and not (p.full_body_required and posture == "torso_only"))

    def check(self, observations: list[dict[str, Any]], frames: list[dict[str, Any]], counts: Counter) -> None:
        at = self._latest(observations)
        motion, timing = self.r.motion, self.r.timing
        prev, last_q = self.initial, None
        for f in frames:
            now, mode = f["timestamp"], f["mode"]
            found = problems(f, self.contract, file="frame")
            if found:
                raise Broken(f"{SAFE_CMD_PRESENCE}: frame at {now} breaks body_truth.v0: {found[0]}")
            if mode != prev and (prev, mode) not in self.allowed:
                raise Broken(f"{SAFE_CMD_PRESENCE}: {prev} -> {mode} at {now} is not a transition of body_truth_modes.v0")
            spec = self.modes[mode]
            if (f["present"], f["tracking_lost"]) != (spec["present"], spec["tracking_lost"]):
                raise Broken(f"{SAFE_CMD_PRESENCE}: frame at {now} in {mode} says present={f['present']} "
                             f"tracking_lost={f['tracking_lost']}")
            latest = at(now)
            qualifying = [o for o in latest if self._qualifies(o, now)]
            if f["present"] and not qualifying:
                raise Broken(f"{SAFE_CMD_PRESENCE}: present at {now} without a fresh human source at or above "
                             f"{self.r.presence.min_confidence}")
            if qualifying and not f["present"]:
                raise Broken(f"{SAFE_CMD_PRESENCE}: {qualifying[0]['source_id']} is fresh at "
                             f"{qualifying[0]['confidence']} but the frame at {now} is {mode}")
            if qualifying:
                last_q = max([o["timestamp_ms"] for o in qualifying] + [last_q or 0])
            if mode == "burst" or f["burst"] > 0:
                moving = [o for o in latest if self._fresh(o, now) and self.sources[o["source"]]["motion_energy_counts"]
                          and o.get("motion_energy") is not None and o["motion_energy"] >= motion.burst_exit_motion_energy]
                if not f["present"] or (mode == "burst" and not moving):
                    raise Broken(f"{SAFE_BURST_NONDESTRUCTIVE}: burst at {now} (mode {mode}, burst {f['burst']}) "
                                 f"without presence and a fresh reading moving at >= {motion.burst_exit_motion_energy}")
            if mode == "absent" and prev != "absent":
                if self.modes[prev]["present"]:
                    raise Broken(f"{SAFE_CMD_PRESENCE}: {prev} -> absent at {now} without tracking_lost first")
                if last_q is not None and now - last_q <= timing.absent_after_ms:
                    raise Broken(f"{SAFE_CMD_PRESENCE}: absent at {now}, {now - last_q} ms after the last "
                                 f"qualifying reading (absent_after_ms {timing.absent_after_ms})")
                counts["lost_then_absent"] += 1
            counts["frames"] += 1
            counts[f"mode {mode}"] += 1
            prev = mode


def known_stream(t0: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """An explicit example that reaches every mode the properties must see: a K11 pose track,
    still, then a held command gesture (candidate, confirmed), then a burst of motion, then
    the performer gone (tracking_lost, then absent)."""
    r = body_truth_rules()
    g = r.gesture
    still, burst = r.motion.still_max_motion_energy / 2, (1 + r.motion.burst_min_motion_energy) / 2
    gesture_end = 300 + 2 * g.hold_ms
    obs = [{"timestamp_ms": t0 + t, "source": "k11_pose", "source_id": "k11_webcam_pose", "present": True,
            "confidence": 0.9, "motion_energy": still if t < gesture_end + 500 else burst}
           for t in range(0, gesture_end + 1500, 33)]
    held = [{"timestamp_ms": t0 + t, "source_id": "k11_webcam_pose", "machine": g.confirm_machines[0],
             "label": "left_hand_raise", "confidence": 0.95, "phase": "start" if t == 300 else "hold"}
            for t in range(300, gesture_end, min(50, g.release_after_ms))]
    return obs, held, 33


def properties() -> Iterator[tuple[str, tuple[str, ...], Any, Any, tuple[str, ...], list[Any]]]:
    from hypothesis import strategies as st

    from ._strategies import T0, confirmable, dense, fusion_vocabulary, gestures_of, observation, ticks

    oracle = FusionOracle()
    still = fusion_vocabulary()["still"] * 0.999
    confirm = set(body_truth_rules().gesture.confirm_machines)
    others = tuple(m for m in fusion_vocabulary()["machines"] if m not in confirm)

    def fused(value: tuple[list, list, int], counts: Counter) -> None:
        observations, gestures, tick_ms = value
        oracle.check(observations, replay(observations, gestures, tick_ms=tick_ms), counts)

    def still_stream(value: tuple[list, list, int, list], counts: Counter) -> None:
        observations, gestures, tick_ms, shimmer = value
        # depth energy never counts: a shimmering depth camera beside a still body
        depth = [{"timestamp_ms": T0 + 100 * i, "source": "depth", "source_id": "mac4_mega_depth",
                  "present": True, "confidence": 0.9, "motion_energy": e} for i, e in enumerate(shimmer)]
        frames = replay(observations + depth, gestures, tick_ms=tick_ms)
        oracle.check(observations + depth, frames, counts)
        bursting = [f["timestamp"] for f in frames if f["mode"] == "burst" or f["burst"] > 0]
        if bursting:
            raise Broken(f"{SAFE_BURST_NONDESTRUCTIVE}: a still stream (motion energy < {still}) bursts at {bursting[0]}")

    def unconfirmed(value: tuple[list, list, int], counts: Counter) -> None:
        observations, gestures, tick_ms = value
        frames = replay(observations, gestures, tick_ms=tick_ms)
        oracle.check(observations, frames, counts)
        confirmed = [f["timestamp"] for f in frames if f["mode"] == "gesture_confirmed"]
        counts["gesture_events"] += len(gestures)
        if confirmed:
            raise Broken(f"{SAFE_CMD_PRESENCE}: gestures from {', '.join(others)} alone reached "
                         f"gesture_confirmed at {confirmed[0]} (confirm machines: {', '.join(sorted(confirm))})")

    streams = st.one_of(st.tuples(dense(), gestures_of(), ticks),
                        st.builds(lambda og, tick: (*og, tick), confirmable(), ticks))
    known = known_stream(T0)
    obs, held, tick = known
    yield ("fusion_streams", COVERS, streams, fused,
           ("mode burst", "mode gesture_confirmed", "mode tracking_lost", "lost_then_absent"), [known])
    calm = [{**o, "motion_energy": min(o["motion_energy"], still)} for o in obs]
    yield ("still_never_bursts", (SAFE_BURST_NONDESTRUCTIVE,),
           st.tuples(dense(observation(still), still), gestures_of(), ticks,
                     st.lists(st.floats(0, 1, allow_nan=False), max_size=40)), still_stream, ("frames",),
           [(calm, held, tick, [1.0] * 10)])
    yield ("only_confirm_machines_confirm", (SAFE_CMD_PRESENCE,),
           st.tuples(dense(), gestures_of(others), ticks), unconfirmed, ("gesture_events",),
           [(obs, [{**e, "machine": others[0]} for e in held], tick)])


def compact(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@verifier(ID, "BodyTruth fusion keeps presence, burst and tracking_lost rules over generated streams (hypothesis)",
          invariants=COVERS, domain="rig", proof=True)
def bodytruth_properties(ctx: Context) -> Iterator[Evidence]:
    b = budget(ID)
    for name, covers, strategy, prop, must_see, explicit in properties():
        yield evidence(run_property(name, covers, strategy, prop, b, show=compact, explicit=explicit),
                       must_see=must_see)
