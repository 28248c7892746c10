"""Fusion: body observations and gesture events in, one `lume_body_truth` object per tick out.

Pure and deterministic: the output of `tick(now_ms)` depends only on what was observed and on
earlier ticks, never on the wall clock. Every threshold, timeout and transition comes from
body_truth_rules.v0 / body_truth_modes.v0 (see rules.py, modes.py); the state machine takes
only transitions the modes table allows and raises IllegalTransition otherwise.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any, Mapping

from lume.generated.constants import (
    MODE_ABSENT,
    MODE_ACTIVE,
    MODE_BURST,
    MODE_GESTURE_CANDIDATE,
    MODE_GESTURE_CONFIRMED,
    MODE_PRESENT_STILL,
    MODE_TRACKING_LOST,
)

from ._gestures import GestureTracker
from ._inputs import check_gesture, check_observation
from ._modes import ModeTable, mode_table
from ._rules import Rules, compile_rules

# Mode names are the contract's (body_truth_modes.v0); the state machine branches on them.
ABSENT, STILL, ACTIVE, BURST = MODE_ABSENT, MODE_PRESENT_STILL, MODE_ACTIVE, MODE_BURST
CANDIDATE, CONFIRMED, LOST = MODE_GESTURE_CANDIDATE, MODE_GESTURE_CONFIRMED, MODE_TRACKING_LOST
NO_INTENT = {"name": "none", "confidence": 0.0, "deck": None, "command": None}
_DIGITS = 6  # output rounding: stable JSON, far below any threshold's resolution


@dataclass(frozen=True, slots=True)
class Reading:
    ts: int
    kind: str
    source_id: str
    present: bool
    confidence: float
    center: tuple[float, float, float] | None
    bounds: tuple[float, float, float] | None
    energy: float | None
    posture: str | None
    joints: int | None


def _vec(v: Mapping[str, Any] | None) -> tuple[float, float, float] | None:
    return None if v is None else (float(v["x"]), float(v["y"]), float(v["z"]))


def _finite(x: float, default: float = 0.0) -> float:
    return x if math.isfinite(x) else default


def _r(x: float) -> float:
    return round(x, _DIGITS)


def _weighted(values: list[tuple[float, float]]) -> float:
    """Confidence-weighted mean of (weight, value); plain mean when every weight is 0."""
    total = sum(w for w, _ in values)
    if total <= 0:
        return sum(v for _, v in values) / len(values)
    return sum((w / total) * v for w, v in values)


class Fusion:
    """Fuse observations into BodyTruth frames. Not thread-safe: one caller at a time."""

    def __init__(self, rules: Any = None, *, modes: Any = None,
                 motion_record_id: str | None = None) -> None:
        self.rules: Rules = compile_rules(rules)
        self.modes: ModeTable = mode_table(modes)
        self.motion_record_id = motion_record_id
        self._history: dict[str, list[Reading]] = {}  # source_id -> readings, oldest first
        self._gestures = GestureTracker(self.rules)
        self._mode = self.modes.initial
        self._last_q_ms: int | None = None  # newest qualifying human reading
        self._last_conf = 0.0
        self._last_center: tuple[float, float, float] | None = None
        self._last_bounds: tuple[float, float, float] | None = None
        self._last_posture = "unknown"
        self._last_authority = "none"
        self._last_stillness = 1.0
        self._candidate_since = 0
        self._confirmed_at = 0

    @property
    def mode(self) -> str:
        return self._mode

    # ------------------------------------------------------------------ inputs
    def observe(self, observation: Mapping[str, Any]) -> None:
        """Take one body_observation.v1 record; raise ValueError naming the field and contract."""
        self._observe(check_observation(observation))

    def gesture(self, event: Mapping[str, Any]) -> None:
        """Take one gesture_event.v1 record; raise ValueError naming the field and contract."""
        self._gesture(check_gesture(event))

    def _observe(self, o: dict[str, Any]) -> None:
        if o["source_id"] in self.rules.model.evidence_only_source_ids:
            return  # recorded elsewhere, never counts in live fusion
        rd = Reading(o["timestamp_ms"], o["source"], o["source_id"], o["present"],
                     float(o["confidence"]), _vec(o.get("center")), _vec(o.get("bounds")),
                     o.get("motion_energy"), o.get("posture"), o.get("joint_count"))
        hist = self._history.setdefault(rd.source_id, [])
        if not hist or hist[-1].ts <= rd.ts:
            hist.append(rd)
        else:  # late arrival: keep time order
            bisect.insort(hist, rd, key=lambda r: r.ts)
        horizon = hist[-1].ts - self.rules.velocity_window_ms
        drop = 0
        while drop < len(hist) - 1 and hist[drop].ts < horizon:
            drop += 1
        if drop:
            del hist[:drop]

    def _gesture(self, ev: dict[str, Any]) -> None:
        if ev["source_id"] not in self.rules.model.evidence_only_source_ids:
            self._gestures.event(ev)

    # ------------------------------------------------------------------ tick
    def tick(self, now_ms: int) -> dict[str, Any]:
        """Advance the state machine to `now_ms` and return one contract-valid frame."""
        r = self.rules
        m = r.model
        slots: dict[str, tuple[bool, Reading, int]] = {}  # slot -> (usable, reading, age)
        fresh: list[tuple[Reading, list[Reading]]] = []  # fresh readings that report a person
        any_input = False
        for hist in self._history.values():
            rd = hist[-1]
            src = r.sources[rd.kind]
            fresh_ms = r.fresh_ms[rd.kind]
            # Signed age: a reading "from the future" (clock skew) counts only within the same
            # window, so a bogus far-future timestamp cannot keep a body present forever.
            skew = now_ms - rd.ts
            age = max(0, skew)
            usable = -fresh_ms <= skew <= fresh_ms and rd.present
            if usable:
                fresh.append((rd, hist))
            null_after = m.timing.source_slot_null_after_ms
            if src.output_slot is not None and -null_after <= skew <= null_after:
                any_input = True
                best = slots.get(src.output_slot)
                if best is None or (usable, rd.confidence if usable else -age) > \
                        (best[0], best[1].confidence if best[0] else -best[2]):
                    slots[src.output_slot] = (usable, rd, age)

        qualifying = [rd for rd, _ in fresh if self._qualifies(rd, now_ms)]
        present = bool(qualifying)
        backing: set[str] = {r.sources[rd.kind].output_slot or rd.kind for rd in qualifying}
        confidence = 0.0
        if present:
            self._last_q_ms = max([rd.ts for rd in qualifying] + [self._last_q_ms or 0])
            best_alt, participants = self._alternatives([rd for rd, _ in fresh])
            backing |= participants
            capped = min(max(rd.confidence for rd in qualifying), m.output.presence_only_confidence_cap)
            confidence = max(best_alt, capped)

        energy, counted = self._energy([rd for rd, _ in fresh]) if present else (0.0, 0)
        mode = self._step(now_ms, present, energy, counted)

        if present:
            center = self._center(fresh)
            bounds = max(((rd.confidence, rd.bounds) for rd, _ in fresh if rd.bounds is not None),
                         default=(0.0, None), key=lambda cb: cb[0])[1]
            velocity = self._velocity(fresh)
            postured = [rd for rd in qualifying if rd.posture is not None]
            posture = max(postured, key=lambda rd: rd.confidence).posture if postured else "unknown"
            stillness = 1.0 - energy
            ramp_start, ramp_end = m.output.burst_ramp_start, m.output.burst_ramp_end
            span = ramp_end - ramp_start
            burst = min(1.0, max(0.0, (energy - ramp_start) / span)) if span > 0 else \
                float(energy >= ramp_end)
            authority = "_".join(s for s in r.authority_order if s in backing) or "none"
            self._last_conf, self._last_posture, self._last_stillness = confidence, posture, stillness
            self._last_authority = authority
            if center is not None:
                self._last_center = center
            if bounds is not None:
                self._last_bounds = bounds
        elif mode == LOST:
            center, bounds, posture = self._last_center, self._last_bounds, self._last_posture
            velocity, burst, stillness = 0.0, 0.0, self._last_stillness
            authority = self._last_authority
            absent_after = m.timing.absent_after_ms
            if m.output.tracking_lost_confidence == "linear_decay_to_absent" and self._last_q_ms is not None:
                # clamp before dividing: timestamps are unbounded integers
                elapsed = min(max(now_ms - self._last_q_ms, 0), absent_after)
                left = 1.0 - elapsed / absent_after if absent_after else 0.0
                confidence = self._last_conf * left
            else:
                confidence = 0.0
        else:  # absent
            center = bounds = None
            posture, velocity, burst, stillness = "unknown", 0.0, 0.0, 1.0
            authority, confidence = "none", m.output.absent_confidence
            self._last_center = self._last_bounds = None

        if mode in (CANDIDATE, CONFIRMED) and self._gestures.track is not None:
            intent = self._gestures.track.intent()
        else:
            intent = dict(NO_INTENT)
        intent["confidence"] = _r(intent["confidence"])

        sources = {}
        for slot in r.slots:
            got = slots.get(slot)
            if got is None:
                sources[slot] = {"present": False, "confidence": 0.0, "fresh_ms": None}
            else:
                usable, rd, age = got
                sources[slot] = {"present": usable, "confidence": _r(rd.confidence), "fresh_ms": age}
        spec = self.modes.modes[mode]
        return {
            "type": "lume_body_truth",
            "schema": "lume.body_truth.v0",
            "timestamp": now_ms,
            "present": spec.present,
            "confidence": _r(min(1.0, max(0.0, confidence))),
            "authority": authority,
            "mode": mode,
            "tracking_lost": spec.tracking_lost,
            "center": None if center is None else
            {"x": round(center[0], _DIGITS), "y": round(center[1], _DIGITS), "z": round(center[2], _DIGITS)},
            "bounds": None if bounds is None else
            {"x": round(bounds[0], _DIGITS), "y": round(bounds[1], _DIGITS), "z": round(bounds[2], _DIGITS)},
            "velocity": _r(_finite(velocity)),
            "stillness": _r(min(1.0, max(0.0, stillness))),
            "burst": _r(burst),
            "posture": posture,
            "seated": posture in m.posture.seated_when,
            "gesture_intent": intent,
            "sources": sources,
            "raw_ref": {"fused_body_state": any_input, "motion_record_id": self.motion_record_id},
        }

    # ------------------------------------------------------------------ state machine
    def _step(self, now: int, present: bool, energy: float, counted: int) -> str:
        m, g, prev = self.rules.model, self._gestures, self._mode
        motion = m.motion
        spec = self.modes.modes[prev]
        nxt = prev
        if not present:
            if prev == LOST:
                if self._last_q_ms is None or now - self._last_q_ms > m.timing.absent_after_ms:
                    nxt = ABSENT
            elif prev != ABSENT:
                nxt = LOST
                g.consume()  # hold timer cancelled, confirmed intent dropped
        elif prev in (ABSENT, LOST):
            nxt = ACTIVE if energy >= motion.active_min_motion_energy else STILL
        elif prev == STILL:
            if g.can_start(now, spec.gesture_recognition):
                nxt = CANDIDATE
            elif energy >= motion.active_min_motion_energy:
                nxt = ACTIVE
        elif prev == ACTIVE:
            if energy >= motion.burst_min_motion_energy and counted >= motion.burst_min_counted_sources:
                nxt = BURST  # present is already established here (burst_requires_present)
            elif g.can_start(now, spec.gesture_recognition):
                nxt = CANDIDATE
            elif energy < motion.still_max_motion_energy:
                nxt = STILL
        elif prev == BURST:
            if energy < motion.burst_exit_motion_energy:
                nxt = ACTIVE
        elif prev == CANDIDATE:
            if g.can_confirm(now, self._candidate_since):
                nxt = CONFIRMED
                self._confirmed_at = now
                g.consume()
            elif not g.live(now) or (g.track is not None and g.track.consumed):
                nxt = ACTIVE if energy >= motion.still_max_motion_energy else STILL
        elif prev == CONFIRMED:
            if not g.live(now) or now - self._confirmed_at >= m.gesture.confirmed_max_ms:
                nxt = ACTIVE if energy >= motion.still_max_motion_energy else STILL
        if nxt == CANDIDATE and prev != CANDIDATE:
            self._candidate_since = now
        self._mode = self.modes.check(prev, nxt)
        return nxt

    # ------------------------------------------------------------------ evidence
    def _qualifies(self, rd: Reading, now: int) -> bool:
        m = self.rules.model
        if not self.rules.sources[rd.kind].human_source or rd.confidence < m.presence.min_confidence:
            return False
        if rd.posture is not None and rd.posture not in m.posture.present_allowed:
            return False
        if m.presence.full_body_required and rd.posture == "torso_only":
            return False
        return True  # freshness was checked by the caller (fresh_ms is capped by the stale horizon)

    def _score(self, confs: list[float]) -> float:
        if self.rules.model.output.alternative_score == "min_of_participating_sources":
            return min(confs)
        return sum(confs) / len(confs)

    def _alternatives(self, fresh: list[Reading]) -> tuple[float, set[str]]:
        """Best score of the satisfied high-confidence alternatives, and their participants."""
        src = self.rules.sources
        hc = self.rules.model.high_confidence
        best, who = 0.0, set()
        sk = hc.mocopi_skeleton
        mocopi = [rd for rd in fresh if rd.kind == sk.source and rd.confidence >= sk.min_source_confidence
                  and (rd.joints or 0) >= sk.min_joint_count]
        if mocopi:
            top = max(mocopi, key=lambda rd: rd.confidence)
            best = max(best, self._score([top.confidence]))
            who.add(src[top.kind].output_slot or top.kind)
        dv = hc.depth_plus_person_verifier
        depth = [rd for rd in fresh if rd.kind == dv.depth_source and rd.confidence >= dv.min_depth_confidence]
        verifiers = [rd for rd in fresh if src[rd.kind].person_verifier
                     and rd.confidence >= dv.min_verifier_confidence]
        if depth and verifiers:
            d = max(depth, key=lambda rd: rd.confidence)
            v = max(verifiers, key=lambda rd: rd.confidence)
            best = max(best, self._score([d.confidence, v.confidence]))
            who |= {src[d.kind].output_slot or d.kind, src[v.kind].output_slot or v.kind}
        cams = hc.independent_camera_person_sources
        per_key: dict[str, Reading] = {}
        for rd in fresh:
            if src[rd.kind].camera_person_source and rd.confidence >= cams.min_source_confidence:
                key = rd.source_id if cams.distinct_by == "source_id" else rd.kind
                if key not in per_key or rd.confidence > per_key[key].confidence:
                    per_key[key] = rd
        if len(per_key) >= cams.min_count:
            top = sorted(per_key.values(), key=lambda rd: -rd.confidence)[: cams.min_count]
            best = max(best, self._score([rd.confidence for rd in top]))
            who |= {src[rd.kind].output_slot or rd.kind for rd in top}
        return best, who

    def _energy(self, fresh: list[Reading]) -> tuple[float, int]:
        r = self.rules
        counted = [(rd.confidence, float(rd.energy)) for rd in fresh
                   if r.sources[rd.kind].motion_energy_counts and rd.energy is not None]
        if not counted:
            return 0.0, 0
        if r.model.motion.energy_fusion == "max":
            return max(e for _, e in counted), len(counted)
        return min(1.0, max(0.0, _weighted(counted))), len(counted)

    def _center(self, fresh: list[tuple[Reading, list[Reading]]]) -> tuple[float, float, float] | None:
        pts = [(rd.confidence, rd.center) for rd, _ in fresh if rd.center is not None]
        if not pts:
            return None
        total = sum(w for w, _ in pts)
        weights = [w / total for w, _ in pts] if total > 0 else [1 / len(pts)] * len(pts)
        x = y = z = 0.0
        for k, (_, (px, py, pz)) in zip(weights, pts):  # a convex combination: no overflow
            x += k * px
            y += k * py
            z += k * pz
        return (x, y, z) if math.isfinite(x) and math.isfinite(y) and math.isfinite(z) else None

    def _velocity(self, fresh: list[tuple[Reading, list[Reading]]]) -> float:
        speeds = []
        for rd, hist in fresh:
            if rd.center is None:
                continue
            old = next((h for h in hist if h.center is not None and h.ts < rd.ts), None)
            if old is None:
                continue
            dist = math.dist(rd.center, old.center)  # type: ignore[arg-type]
            speed = dist / ((rd.ts - old.ts) / 1000.0)
            if math.isfinite(speed):
                speeds.append((rd.confidence, speed))
        return _weighted(speeds) if speeds else 0.0
