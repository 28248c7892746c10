"""The live loop: lock persisted before anything else, operator re-arm while running, a broken
MIDI output stops the loop after logging the decision."""
from __future__ import annotations

import io
import json

import pytest
from airdeck_helpers import T0, frames_for, held, rules

from lume.runtime.airdeck import Authority, DispatchFailed, DispatchGate, SafeStopLock, live_refusal, run_loop


def mixed(events):
    return sorted(events + frames_for(events), key=lambda r: r.get("timestamp_ms", r.get("timestamp")))


class FakeDispatcher:
    def __init__(self, fail=False):
        self.sent, self.fail = [], fail

    def send(self, midi):
        if self.fail:
            raise OSError("connection reset")
        self.sent.append(midi)


def live_gate(locked=False):
    r = rules()
    return DispatchGate(Authority("K11", True), r, locked=locked, dry_run=False)


def test_operator_rearm_while_running(tmp_path):
    lock = SafeStopLock(tmp_path / "lock.json")
    stream = mixed(held("safe_stop_rehearsal", T0, 600) + held("left_hand_raise", T0 + 2000, 800)
                   + held("left_hand_raise", T0 + 6000, 800))
    seen = []

    def on_decision(d, record):
        seen.append(record)
        if d.timestamp_ms >= T0 + 4000 and lock.is_locked():
            lock.release()  # the operator runs `lume airdeck rearm` here

    log = io.StringIO()
    out = FakeDispatcher()
    counts = run_loop(live_gate(), stream, log=log, dispatcher=out, lock=lock,
                      on_decision=on_decision)
    assert counts["dispatched"] == 2  # the safe stop, then d1 only after the re-arm
    dispatched = [r for r in seen if r["decision"] == "dispatched"]
    assert [r["command"] for r in dispatched] == ["safe_stop_rehearsal", "d1_play_pause"]
    assert dispatched[1]["timestamp_ms"] >= T0 + 6000
    assert len(out.sent) == 1 and len(log.getvalue().splitlines()) == len(seen)
    assert all(json.loads(x)["mode"] == "live" for x in log.getvalue().splitlines())


def test_lock_is_written_before_the_decision_is_logged(tmp_path):
    lock = SafeStopLock(tmp_path / "lock.json")

    class Boom(io.StringIO):
        def write(self, s):
            if '"dispatched"' in s:
                raise RuntimeError("crash while logging the safe stop")
            return super().write(s)

    with pytest.raises(RuntimeError):
        run_loop(live_gate(), mixed(held("safe_stop_rehearsal", T0, 600)), log=Boom(), lock=lock)
    assert lock.is_locked()
    assert live_gate(locked=lock.is_locked()).locked


def test_a_broken_output_stops_after_logging(tmp_path):
    log = io.StringIO()
    with pytest.raises(DispatchFailed, match="d1_play_pause"):
        run_loop(live_gate(), mixed(held("left_hand_raise", T0, 800)), log=log,
                 dispatcher=FakeDispatcher(fail=True))
    assert json.loads(log.getvalue().splitlines()[-1])["decision"] == "dispatched"


def test_an_unreadable_lock_file_still_locks(tmp_path):
    path = tmp_path / "lock.json"
    path.write_text("{garbage")
    lock = SafeStopLock(path)
    assert lock.is_locked() and lock.read()["locked"] is True


def test_live_refusal_messages(tmp_path):
    r = rules()
    assert "no machine config" in live_refusal(None, r, None, None)
    mac4 = {"machine": "Mac4", "can_command_rekordbox": False}
    assert "SAFE-AUTHORITY-K11" in live_refusal(mac4, r, None, None)
    k11 = {"machine": "K11", "can_command_rekordbox": True}
    assert "--promoted" in live_refusal(k11, r, None, None)
