"""Random command sequences from random roles against the pure bus keep every invariant.

The expectations are computed here from the raw contract rows (not through the bus's own
ownership module): state always validates against director_state.v2, the version moves by
exactly one per accepted change and never otherwise, no field ever changes unless the
sender owns it or it is a server/quorum update of that command, nothing is accepted from a
role no device identified as, and consent is acknowledged only with every required role.
Roles identify the way a connection does: a link, its challenge, a device's signature.
"""
from __future__ import annotations

from typing import Any

from director_harness import KEYS, trust
from hypothesis import event
from hypothesis import strategies as hs
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from lume.runtime.core import get
from lume.runtime.director import _consent as consent
from lume.runtime.director import _frames as frames
from lume.runtime.director import _state as st
from lume.runtime.director._bus import Bus
from lume.runtime.director._clock import FakeClock
from lume.verifiers._strategies import command_bodies, command_frames, junk_frames

TABLE = get("director_ownership.v2").table_data()
ROLES = [r["role"] for r in TABLE["roles"]]
WRITER = {r["field"]: r["writer"] for r in TABLE["fields"]}
COMMANDS = {c["command"]: c for c in TABLE["commands"]}
RULES, QUORUM = TABLE["rules"], TABLE["quorum"]
BOOKKEEPING = {st.VERSION, st.UPDATED_AT}


# One definition of the command strategies, shared with the director.ownership.properties verifier.
BODIES = command_bodies()
assert set(BODIES) | {"identify"} == set(COMMANDS), "a command of the contract has no strategy"
command_frames = command_frames()
junk_frames = junk_frames()


class DirectorBusMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.bus = Bus(clock=self.clock, devices=trust())
        self.accepted_changes = 0
        self.identified: set[str] = set()

    def _apply(self, role: str | None, frame: Any, link: Any = None) -> None:
        before = self.bus.state
        out = self.bus.receive(link, frame) if link is not None else self.bus.handle(role, frame)
        after = self.bus.state
        if out.changed:
            self.accepted_changes += 1
            assert out.accepted
            assert after[st.VERSION] == before[st.VERSION] + 1
            assert not self._illegal(before, after, frame["type"], role)
        else:
            assert after is before, "a command that changed nothing must not touch the state"
        event(f"refused {out.refusal.code}" if out.refusal else f"accepted {frame['type']}")
        if self.bus.state["model_consent"]["acknowledged"]:
            event("consent acknowledged")
        if not out.accepted:
            assert out.reply is not None and out.reply["type"] == "error"
            assert not frames.problems(out.reply), out.reply
            return
        kind = frame["type"]
        row = COMMANDS[kind]
        assert role in row["senders"] and role in self.identified
        if row["bumps_version"] == "always":
            assert out.changed
        if row["reply"] == "ack":
            assert out.reply == {"type": "ack", "version": after[st.VERSION]}
        if kind == "identify":
            assert out.reply["type"] == "identified" and out.replies[1] == {"type": "state", "state": after}

    @staticmethod
    def _illegal(before: dict[str, Any], after: dict[str, Any], kind: str | None, role: str | None) -> list[str]:
        row = COMMANDS.get(kind or "", {"writes": [], "server_updates": []})
        bad = []
        for path, writer in WRITER.items():
            if st.read(before, path) == st.read(after, path) or path in BOOKKEEPING:
                continue
            owned = path in row["writes"] and writer == role
            derived = path in row["server_updates"] if kind else writer in ("server", "quorum")
            if not (owned or derived):
                bad.append(path)
        return bad

    @rule(role=hs.sampled_from(ROLES), frame=command_frames)
    def command(self, role: str, frame: dict[str, Any]) -> None:
        allowed = role in COMMANDS[frame["type"]]["senders"]
        before = self.bus.state
        self._apply(role, frame)
        if role not in self.identified:
            assert self.bus.handle(role, frame).refusal.code == "not_identified"
        elif not allowed:
            reply = self.bus.handle(role, frame).reply
            assert reply is not None and reply["code"] == "field_ownership_violation"
            assert reply["role"] == role and WRITER[reply["field"]] == reply["owner"] != role
            assert self.bus.state is before

    @rule(frame=command_frames, pick=hs.integers(0, len(ROLES) - 1))
    def owned_command(self, frame: dict[str, Any], pick: int) -> None:
        senders = COMMANDS[frame["type"]]["senders"]
        self.command(senders[pick % len(senders)], frame)

    # Consent needs a proposal and then acks from two roles: extra rules make that path common.
    @rule(role=hs.sampled_from(ROLES), body=BODIES["propose_consent"])
    def propose(self, role: str, body: dict[str, Any]) -> None:
        self.command(role, {"type": "propose_consent", **body})

    @rule(role=hs.sampled_from(ROLES))
    def ack(self, role: str) -> None:
        self.command(role, {"type": "ack_consent"})

    @rule(role=hs.sampled_from(ROLES) | hs.none(), frame=junk_frames)
    def junk(self, role: str | None, frame: dict[str, Any]) -> None:
        before = self.bus.state
        out = self.bus.handle(role, frame)
        assert not out.accepted and self.bus.state is before
        assert out.reply and out.reply["code"] in ("invalid_frame", "unknown_command", "not_identified")

    @rule(role=hs.sampled_from(ROLES))
    def identify(self, role: str) -> None:
        link = self.bus.open()
        frame = KEYS[role].identify(role, self.bus.challenge_frame(link))
        self.identified.add(role)
        self._apply(role, frame, link)
        assert self.bus.holder(role) == KEYS[role].device_id

    @rule(seconds=hs.sampled_from([0.5, 1.0, RULES["heartbeat_timeout_s"], QUORUM["token_ttl_s"]]))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)
        before = self.bus.state
        out = self.bus.tick()
        after = self.bus.state
        if out is None:
            assert after is before
        else:
            self.accepted_changes += 1
            assert after[st.VERSION] == before[st.VERSION] + 1
            assert not self._illegal(before, after, None, None)

    @invariant()
    def state_is_valid(self) -> None:
        assert not st.problems(self.bus.state)

    @invariant()
    def version_counts_accepted_changes(self) -> None:
        assert self.bus.state[st.VERSION] == self.accepted_changes

    @invariant()
    def consent_needs_every_required_role(self) -> None:
        c = self.bus.state["model_consent"]
        roles = [a["role"] for a in c["acks"]]
        witnesses = [w["role"] for w in c["witnesses"]]
        assert len(set(roles)) == len(roles) and set(roles) <= set(QUORUM["required_roles"])
        assert len(set(witnesses)) == len(witnesses) and set(witnesses) <= set(QUORUM["witness_roles"])
        assert all(a["device_id"] == KEYS[a["role"]].device_id for a in c["acks"] + c["witnesses"])
        if c["acknowledged"]:
            assert set(roles) == set(QUORUM["required_roles"]) and c["proposed_by"] is not None
            assert consent.verify(self.bus.state, self.bus.signer.public_key)
        else:
            assert c["token"] is None and c["expires_at"] is None
            assert set(roles) != set(QUORUM["required_roles"]) or not roles

    @invariant()
    def history_is_bounded_and_ordered(self) -> None:
        history = self.bus.state["cue"]["history"]
        assert len(history) <= RULES["history_keep"]
        versions = [h["applied_version"] for h in history]
        assert versions == sorted(set(versions))


TestDirectorBusMachine = DirectorBusMachine.TestCase
