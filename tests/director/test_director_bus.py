"""The pure bus: history bound, version bump rules, consent bound to the session, its own guards."""
from __future__ import annotations

import pytest
from director_harness import OWN

from lume.runtime.director import _consent as consent
from lume.runtime.director import _state as st
from lume.runtime.director._bus import Bus
from lume.runtime.director._clock import FakeClock

SESSION_A = "812cf768-d26f-4cc6-9cc2-d6fb9b46b090"
SESSION_B = "1396739b-87f4-4f46-88af-690e84030cb6"


def cue(n: int) -> dict:
    return {"id": f"cue-{n}", "kind": "advance", "payload": {}}


def admitted(**kwargs) -> Bus:
    """A pure bus with every role's device admitted (as after a verified identify)."""
    bus = Bus(clock=FakeClock(), **kwargs)
    for role in OWN.roles:
        bus.admit(role, f"{role}-1")
    return bus


def acknowledged(bus: Bus) -> None:
    assert bus.handle("mac", {"type": "propose_consent", "scope": ["frame_capture"]}).accepted
    bus.handle("mac", {"type": "ack_consent"})
    bus.handle("ios", {"type": "ack_consent"})
    assert bus.state["model_consent"]["acknowledged"]


def test_commands_need_an_admitted_device() -> None:
    bus = Bus(clock=FakeClock())
    out = bus.handle("ios", {"type": "set_cue", "cue": cue(1)})
    assert out.refusal is not None and out.refusal.code == "not_identified" and bus.version == 0


def test_history_keeps_the_newest_entries() -> None:
    bus = admitted()
    keep = OWN.rules.history_keep
    for i in range(keep + 5):
        assert bus.handle("ios", {"type": "set_cue", "cue": cue(i)}).changed
    history = bus.state["cue"]["history"]
    assert len(history) == keep
    assert history[0]["id"] == "cue-5" and history[-1]["applied_version"] == bus.version
    bus.handle("ios", {"type": "set_cue", "slot": "next", "cue": cue(999)})
    assert bus.state["cue"]["history"][-1]["id"] == f"cue-{keep + 4}"  # `next` is not history


def test_always_commands_bump_even_without_a_change_on_change_ones_do_not() -> None:
    bus = Bus(clock=FakeClock())
    assert bus.admit("mac", "mac-1").changed and bus.version == 1
    bus.handle("mac", {"type": "set_session_phase", "phase": "idle"})
    assert bus.version == 2  # bumps_version: always
    out = bus.handle("mac", {"type": "heartbeat"})
    assert out.accepted and not out.changed and out.reply == {"type": "ack", "version": 2}
    assert not bus.admit("mac", "mac-1").changed  # already active


def test_a_new_session_id_resets_the_consent_it_was_signed_for() -> None:
    bus = admitted()
    bus.handle("mac", {"type": "set_session", "id": SESSION_A})
    acknowledged(bus)
    assert consent.verify(bus.state, bus.signer.public_key)
    bus.handle("mac", {"type": "set_session", "started_at": "2026-03-14T19:02:11.250Z"})
    assert bus.state["model_consent"]["acknowledged"]  # the token does not sign started_at
    bus.handle("mac", {"type": "set_session", "id": SESSION_B})
    c = bus.state["model_consent"]
    assert (c["acknowledged"], c["token"], c["acks"], c["scope"]) == (False, None, [], ["frame_capture"])
    bus.handle("ios", {"type": "ack_consent"})
    bus.handle("mac", {"type": "ack_consent"})
    assert consent.verify(bus.state, bus.signer.public_key)


def test_the_consent_rule_is_read_from_the_contract() -> None:
    """quorum.required_roles / witness_roles are data: another table, another rule."""
    from director_harness import with_rules

    bus = admitted(rules=with_rules("quorum", required_roles=["mac", "ipad"], witness_roles=["ios"]))
    bus.handle("mac", {"type": "propose_consent", "scope": ["reel_use"]})
    bus.handle("mac", {"type": "ack_consent"})
    bus.handle("ios", {"type": "ack_consent"})
    assert not bus.state["model_consent"]["acknowledged"]
    bus.handle("ipad", {"type": "ack_consent"})
    c = bus.state["model_consent"]
    assert c["acknowledged"] and [a["role"] for a in c["acks"]] == ["mac", "ipad"]
    assert [w["role"] for w in c["witnesses"]] == ["ios"]


def test_a_state_over_the_size_limit_is_refused() -> None:
    from director_harness import with_rules

    bus = admitted(rules=with_rules("limits", max_state_bytes=2048))
    before = bus.state
    big = {"id": "c" * 128, "kind": "capture", "payload": {f"k{i}": "v" * 128 for i in range(8)}}
    for _ in range(3):
        out = bus.handle("ios", {"type": "set_cue", "cue": big})
        if not out.accepted:
            break
    assert out.refusal is not None and out.refusal.code == "state_too_large"
    assert "limits.max_state_bytes 2048" in out.refusal.message and len(bus.state_bytes) <= 2048
    assert bus.version >= before["version"]


def test_the_bus_refuses_to_commit_a_write_by_a_non_owner(monkeypatch) -> None:
    """Defence in depth: an applier bug that touches someone else's field commits nothing."""
    bus = admitted()
    before = bus.state
    real = Bus._role_writes

    def buggy(self, kind, row, frame):
        return {**real(self, kind, row, frame), "session.phase": "live"}

    monkeypatch.setattr(Bus, "_role_writes", buggy)
    out = bus.handle("ipad", {"type": "set_performer_intent", "intent": "hold"})
    assert out.refusal is not None and out.refusal.code == "field_ownership_violation"
    monkeypatch.undo()
    monkeypatch.setattr(Bus, "_append_history", lambda self, doc, c: st.write(doc, "session.phase", "wrap"))
    out = bus.handle("ios", {"type": "set_cue", "cue": cue(1)})
    assert out.refusal is not None and out.refusal.code == "internal_error"
    assert "session.phase" in out.refusal.message and bus.state is before


def test_the_bus_refuses_to_commit_an_invalid_state(monkeypatch) -> None:
    bus = admitted()
    before = bus.state
    monkeypatch.setattr(Bus, "_append_history", lambda self, doc, c: st.write(doc, "cue.history", [c]))
    out = bus.handle("ios", {"type": "set_cue", "cue": cue(1)})  # history entry without applied_at
    assert out.refusal is not None and out.refusal.code == "internal_error"
    assert st.CONTRACT in out.refusal.message and bus.state is before


def test_a_loaded_document_must_be_valid() -> None:
    doc = st.fresh(FakeClock().now())
    with pytest.raises(st.StateInvalid, match=st.CONTRACT):
        Bus({**doc, "version": -1})
    assert st.model(doc).version == 0  # the generated pydantic model reads it too
