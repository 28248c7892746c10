"""The pure director bus: one state document, commands applied in receive order.

No sockets and no files here: `handle(role, frame)` validates a frame against
director_frames.v2, checks ownership against director_ownership.v2, applies the command to a
copy of the state, re-checks that only owned / server-derived fields changed and that the
result is a valid director_state.v2 document, hands it to `on_commit` (persistence) and only
then makes it the current state. Any failure leaves the state exactly as it was.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lume.generated.constants import (
    COMMAND_HEARTBEAT,
    COMMAND_IDENTIFY,
    COMMAND_SET_CUE,
    COMMAND_SET_LOOK_ACTIVE,
)
from lume.runtime.core import parse_datetime, rfc3339

from . import _frames as frames
from . import _ownership as own
from . import _state as st
from ._clock import Clock, SystemClock
from ._consent import ConsentSigner
from ._ownership import Refusal

# Fields of the consent block (director_state.v2 names; who writes them is the contract's).
SCOPE, PROPOSED_BY, ACKS = "model_consent.scope", "model_consent.proposed_by", "model_consent.acks"
TOKEN, EXPIRES_AT = "model_consent.token", "model_consent.expires_at"
PHASE, HISTORY, ACTIVE = "session.phase", "cue.history", "telemetry.active_directors"


@dataclass(frozen=True)
class Outcome:
    """What one frame did: the reply for its sender and whether a new version was committed."""

    reply: dict[str, Any] | None
    changed: bool = False
    refusal: Refusal | None = None
    identified: str | None = None  # the role an accepted `identify` bound

    @property
    def accepted(self) -> bool:
        return self.refusal is None


def _refused(refusal: Refusal) -> Outcome:
    return Outcome(reply=refusal.frame(), refusal=refusal)


class Bus:
    """Holds the canonical document and applies frames to it, one at a time."""

    def __init__(self, doc: dict[str, Any] | None = None, *, signer: ConsentSigner | None = None,
                 clock: Clock | None = None, rules: own.Ownership | None = None,
                 on_commit: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.clock = clock or SystemClock()
        self.own = rules or own.load()
        self.signer = signer or ConsentSigner.generate()
        self.on_commit = on_commit
        self._doc = st.check(doc) if doc is not None else st.fresh(self.clock.now())
        # Roles restored from disk get one full timeout to reconnect before they expire.
        start = self.clock.monotonic()
        self._last_seen: dict[str, float] = {r: start for r in st.read(self._doc, ACTIVE)}
        self._slot_default = frames.default(COMMAND_SET_CUE, "slot")

    # -- reading -------------------------------------------------------------------------
    @property
    def state(self) -> dict[str, Any]:
        return self._doc

    @property
    def version(self) -> int:
        return self._doc[st.VERSION]

    def next_deadline(self) -> float | None:
        """Monotonic time at which `tick` may next change something (heartbeat or consent expiry)."""
        timeout = self.own.rules.heartbeat_timeout_s
        times = [self._last_seen.get(r, -math.inf) + timeout for r in st.read(self._doc, ACTIVE)]
        expires = st.read(self._doc, EXPIRES_AT)
        if expires is not None:
            left = (parse_datetime(expires) - self.clock.now()).total_seconds()
            times.append(self.clock.monotonic() + left)
        return min(times) if times else None

    # -- frames --------------------------------------------------------------------------
    def handle(self, role: str | None, frame: Any) -> Outcome:
        """Apply one frame received from a connection identified as `role` (None: not yet)."""
        if not isinstance(frame, dict):
            return _refused(Refusal("invalid_frame", f"a frame is a JSON object [{frames.CONTRACT}]", role))
        kind = frame.get("type")
        if not isinstance(kind, str):
            return _refused(Refusal("invalid_frame", f"a frame needs a string `type` [{frames.CONTRACT}]", role))
        if kind not in self.own.commands:
            what = "a server frame, not a command" if kind in frames.definitions() else "not a command"
            return _refused(Refusal("unknown_command", f"{kind!r} is {what} [{frames.CONTRACT}]", role))
        found = frames.frame_problems(frame)
        if found:
            p = found[0]
            return _refused(Refusal("invalid_frame", f"{kind}: {p.path}: {p.message} [{p.contract}]", role))
        if kind == COMMAND_IDENTIFY:
            if role is not None:
                return _refused(Refusal("already_identified",
                                        f"this connection is already identified as {role}", role))
            return self.identify(frame["role"])
        if role is None and self.own.rules.commands_require_identify:
            return _refused(Refusal("not_identified", "send identify before any command"))
        return self._command(role, kind, frame)

    def identify(self, role: str) -> Outcome:
        """Bind a role (the server handles the one-connection-per-role part)."""
        out = self._seen(role, COMMAND_IDENTIFY)
        if not out.accepted:
            return out
        return Outcome(reply=frames.state(self._doc), changed=out.changed, identified=role)

    def tick(self) -> Outcome | None:
        """The server's own sweep: expire silent roles and revoke an expired consent token."""
        doc = self._doc
        timeout = self.own.rules.heartbeat_timeout_s
        now_m = self.clock.monotonic()
        active = st.read(doc, ACTIVE)
        alive = [r for r in active if now_m - self._last_seen.get(r, -math.inf) < timeout]
        if len(alive) != len(active):
            doc = st.write(doc, ACTIVE, alive)
        expires = st.read(doc, EXPIRES_AT)
        if expires is not None and parse_datetime(expires) <= self.clock.now():
            doc = self._reset_quorum(doc)
        if doc is self._doc:
            return None
        return self._commit(doc, None, None, "on_change", reply=None)

    # -- commands ------------------------------------------------------------------------
    def _command(self, role: str, kind: str, frame: dict[str, Any]) -> Outcome:
        row = self.own.commands[kind]
        try:
            writes = self._role_writes(kind, row, frame)
        except KeyError as exc:  # the frames and ownership contracts disagree
            return _refused(Refusal("internal_error", f"{kind}: no field for frame key {exc}", role))
        refusal = self.own.check(kind, role, writes)
        if refusal:
            return _refused(refusal)
        rules = self.own.rules
        if kind in rules.paused_blocks_commands and st.read(self._doc, PHASE) == rules.paused_phase:
            return _refused(Refusal("paused", f"{kind} refused while {PHASE} is {rules.paused_phase}", role))
        if kind in (COMMAND_HEARTBEAT, COMMAND_IDENTIFY):
            return self._seen(role, kind)
        doc = st.write_many(self._doc, writes)
        q = self.own.quorum
        if kind == q.proposal_command:
            doc = st.write(doc, PROPOSED_BY, role)
        if kind in q.reset_on or any(
                st.read(doc, path) != st.read(self._doc, path) for path in q.reset_when_changed):
            doc = self._reset_quorum(doc)
        if kind == q.command:
            doc = self._ack_consent(doc, role)
            if isinstance(doc, Refusal):
                return _refused(doc)
        if "cue.current" in writes and writes["cue.current"] is not None:
            doc = self._append_history(doc, writes["cue.current"])
        return self._commit(doc, kind, role, row.bumps_version, reply=row.reply)

    def _role_writes(self, kind: str, row: own.CommandRow, frame: dict[str, Any]) -> dict[str, Any]:
        """Field path -> value for the role-owned fields a command frame writes."""
        if kind == COMMAND_SET_CUE:
            return {f"cue.{frame.get('slot', self._slot_default)}": frame["cue"]}
        if kind == COMMAND_SET_LOOK_ACTIVE:
            return {"look.active": frame["id"]}
        by_leaf = {path.rsplit(".", 1)[-1]: path for path in row.writes}
        return {by_leaf[k]: v for k, v in frame.items() if k != "type"}

    def _seen(self, role: str, kind: str) -> Outcome:
        self._last_seen[role] = self.clock.monotonic()
        active = st.read(self._doc, ACTIVE)
        if role in active:
            return Outcome(reply=None)
        ordered = [r for r in self.own.roles if r in active or r == role]
        return self._commit(st.write(self._doc, ACTIVE, ordered), kind, role, "on_change", reply=None)

    def _reset_quorum(self, doc: dict[str, Any]) -> dict[str, Any]:
        return st.write_many(doc, {self.own.quorum.field: False, TOKEN: None, EXPIRES_AT: None, ACKS: []})

    def _ack_consent(self, doc: dict[str, Any], role: str) -> dict[str, Any] | Refusal:
        q = self.own.quorum
        if q.requires_proposal and st.read(doc, PROPOSED_BY) is None:
            return Refusal("no_consent_proposal", f"no consent proposal to acknowledge; send "
                           f"{q.proposal_command} first", role)
        if st.read(doc, q.field):
            return Refusal("consent_already_acknowledged",
                           "the current proposal already has its quorum and token", role)
        acks = st.read(doc, ACKS)
        if role in acks or role not in self.own.quorum.of_roles:
            return doc  # counted by role: a second ack from the same role changes nothing
        acks = [*acks, role]
        doc = st.write(doc, ACKS, acks)
        if len(acks) >= q.distinct_roles:
            expires = self.clock.now() + timedelta(seconds=q.token_ttl_s)
            doc = st.write_many(doc, {q.field: True, EXPIRES_AT: rfc3339(expires)})
            doc = st.write(doc, TOKEN, self.signer.sign(doc))
        return doc

    def _append_history(self, doc: dict[str, Any], cue: dict[str, Any]) -> dict[str, Any]:
        entry = {**cue, "applied_at": rfc3339(self.clock.now()), "applied_version": self.version + 1}
        keep = self.own.rules.history_keep
        return st.write(doc, HISTORY, [*st.read(doc, HISTORY)[-(keep - 1):], entry] if keep > 1 else [entry])

    def _commit(self, doc: dict[str, Any], kind: str | None, role: str | None, bump: str,
                reply: str | None) -> Outcome:
        changed = doc != self._doc
        if not changed and bump == "on_change":
            return Outcome(reply=frames.ack(self.version) if reply == "ack" else None)
        doc = st.write_many(doc, {st.VERSION: self.version + 1, st.UPDATED_AT: rfc3339(self.clock.now())})
        bad = self.own.illegal_changes(self._doc, doc, kind, role)
        if bad:
            return _refused(Refusal("internal_error", f"{kind} would change {', '.join(bad)} without "
                                    f"owning it [{own.CONTRACT}]; nothing applied", role))
        found = st.problems(doc)
        if found:
            p = found[0]
            return _refused(Refusal("internal_error", f"{kind} would make the state invalid: {p.path}: "
                                    f"{p.message} [{p.contract}]; nothing applied", role))
        if self.on_commit is not None:
            try:
                self.on_commit(doc)
            except Exception as exc:  # noqa: BLE001 - any persistence failure refuses the command
                return _refused(Refusal("internal_error", f"could not persist version "
                                        f"{doc[st.VERSION]}: {exc}; nothing applied", role))
        self._doc = doc
        return Outcome(reply=frames.ack(self.version) if reply == "ack" else None, changed=True)
