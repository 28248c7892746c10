"""The pure director bus: one state document, commands applied in receive order.

No sockets and no files here. A connection is a `Link`: `open()` gives one its first
challenge, `receive(link, frame)` takes whatever the connection sends - the identify answer
(checked against the injected device trust list: enrolled device, its role, a strict
Ed25519 signature over this link's one-time challenge) and then commands. `handle(role,
frame)` applies a command of a role whose device was admitted (after a verified identify, or
`admit()` for trusted in-process use such as property checks). A command is validated
against director_frames.v2, checked against director_ownership.v2, applied to a copy of the
state, re-checked (only owned / server-derived fields changed, the result is a valid
director_state.v2 document within limits.max_state_bytes), serialised once, handed to
`on_commit` and only then made the current state. Any failure leaves the state as it was.
"""
from __future__ import annotations

import math
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson

from lume.generated.constants import (
    COMMAND_HEARTBEAT,
    COMMAND_IDENTIFY,
    COMMAND_SET_CUE,
    COMMAND_SET_LOOK_ACTIVE,
)
from lume.runtime import core
from lume.runtime.core import parse_datetime, rfc3339

from . import _consent as consent
from . import _devices as dev
from . import _frames as frames
from . import _ownership as own
from . import _state as st
from ._clock import Clock, SystemClock
from ._consent import ConsentSigner
from ._ownership import Refusal

# Fields of the consent block (director_state.v2 names; who writes them is the contract's).
SCOPE, PROPOSED_BY = "model_consent.scope", "model_consent.proposed_by"
ACKS, WITNESSES = "model_consent.acks", "model_consent.witnesses"
TOKEN, EXPIRES_AT = "model_consent.token", "model_consent.expires_at"
PHASE, HISTORY, ACTIVE = "session.phase", "cue.history", "telemetry.active_directors"
# director_frames.v2 KickReason values the bus itself decides on
IDENTIFY_REFUSED = "identify_refused"


@dataclass(eq=False)
class Link:
    """One connection's standing with the bus: its open challenge, its refused identify
    answers and, once identified, its role and device."""

    nonce: str | None = None
    role: str | None = None
    device_id: str | None = None
    refused: int = 0


@dataclass(frozen=True)
class Outcome:
    """What one frame did: the frames for its sender, whether a new version was committed,
    and whether the connection must now be closed (`kick`, a director_frames.v2 KickReason)."""

    replies: tuple[dict[str, Any], ...] = ()
    changed: bool = False
    refusal: Refusal | None = None
    identified: str | None = None  # the role an accepted `identify` bound
    kick: str | None = None

    @property
    def reply(self) -> dict[str, Any] | None:
        return self.replies[0] if self.replies else None

    @property
    def accepted(self) -> bool:
        return self.refusal is None


def _refused(refusal: Refusal, *more: dict[str, Any], kick: str | None = None) -> Outcome:
    return Outcome(replies=(refusal.frame(), *more), refusal=refusal, kick=kick)


@dataclass
class _Challenges:
    """Issued nonces (newest last): open until answered or their link closes, then spent."""

    size: int
    nbytes: int
    issued: OrderedDict[str, bool] = field(default_factory=OrderedDict)

    def issue(self, link: Link) -> str:
        self.retire(link)
        link.nonce = dev.b64(secrets.token_bytes(self.nbytes))
        self.issued[link.nonce] = True
        while len(self.issued) > self.size:
            self.issued.popitem(last=False)
        return link.nonce

    def retire(self, link: Link) -> None:
        if link.nonce is not None and link.nonce in self.issued:
            self.issued[link.nonce] = False
        link.nonce = None

    def take(self, link: Link, nonce: str) -> str | None:
        """Spend the link's challenge; None when `nonce` is it, else the refusal code."""
        mine = link.nonce
        self.retire(link)
        if nonce == mine:
            return None
        return "replayed_identify" if nonce in self.issued else "stale_challenge"


class Bus:
    """Holds the canonical document and applies frames to it, one at a time."""

    def __init__(self, doc: dict[str, Any] | None = None, *, signer: ConsentSigner | None = None,
                 clock: Clock | None = None, rules: own.Ownership | None = None,
                 on_commit: Callable[[dict[str, Any], bytes], None] | None = None,
                 devices: dev.Trust | None = None) -> None:
        self.clock = clock or SystemClock()
        self.own = rules or own.load()
        self.signer = signer or ConsentSigner.generate()
        self.on_commit = on_commit
        self.devices: dev.Trust = devices if devices is not None else dev.DeviceTrust()
        self._doc = st.check(doc) if doc is not None else st.fresh(self.clock.now())
        self._bytes: bytes | None = None
        # Roles restored from disk get one full timeout to reconnect before they expire.
        start = self.clock.monotonic()
        self._last_seen: dict[str, float] = {r: start for r in st.read(self._doc, ACTIVE)}
        self._holders: dict[str, str] = {}  # role -> device id of its admitted device
        self._slot_default = frames.default(COMMAND_SET_CUE, "slot")
        ident = self.own.identify
        self._challenges = _Challenges(ident.remembered_nonces, ident.challenge_bytes)
        # Why a loaded document's consent was withdrawn (None: it was not); see `_distrust`.
        self.consent_reset: str | None = self._distrust() if doc is not None else None

    # -- reading -------------------------------------------------------------------------
    @property
    def state(self) -> dict[str, Any]:
        return self._doc

    @property
    def version(self) -> int:
        return self._doc[st.VERSION]

    @property
    def state_bytes(self) -> bytes:
        """The current document as compact JSON: serialised once per version."""
        if self._bytes is None:
            self._bytes = orjson.dumps(self._doc)
        return self._bytes

    @property
    def server_key(self) -> str:
        """The server identity a device signs into its identify answer (the consent key)."""
        return self.signer.public_key_text

    def holder(self, role: str) -> str | None:
        """The device id admitted for `role`, if any."""
        return self._holders.get(role)

    def next_deadline(self) -> float | None:
        """Monotonic time at which `tick` may next change something (heartbeat or consent expiry)."""
        timeout = self.own.rules.heartbeat_timeout_s
        times = [self._last_seen.get(r, -math.inf) + timeout for r in st.read(self._doc, ACTIVE)]
        expires = st.read(self._doc, EXPIRES_AT)
        if expires is not None:
            left = (parse_datetime(expires) - self.clock.now()).total_seconds()
            times.append(self.clock.monotonic() + left)
        return min(times) if times else None

    # -- connections ---------------------------------------------------------------------
    def open(self) -> Link:
        """A new connection's link, with its first challenge issued (`challenge_frame`)."""
        link = Link()
        self._challenges.issue(link)
        return link

    def challenge_frame(self, link: Link) -> dict[str, Any]:
        assert link.nonce is not None, "no open challenge"
        return frames.challenge(link.nonce, self.server_key)

    def close(self, link: Link) -> None:
        """The connection is gone: its open challenge can no longer be answered."""
        self._challenges.retire(link)

    def receive(self, link: Link, frame: Any) -> Outcome:
        """Whatever a connection sends: its identify answer, then commands."""
        refusal = self._check(link.role, frame)
        if refusal is not None:
            return _refused(refusal)
        if frame["type"] == COMMAND_IDENTIFY:
            if link.role is not None:
                return _refused(Refusal("already_identified",
                                        f"this connection is already identified as {link.role}", link.role))
            return self._identify(link, frame)
        if link.role is None:
            return _refused(Refusal("not_identified",
                                    "answer the challenge with identify before any command"))
        if self._holders.get(link.role) != link.device_id:
            return _refused(Refusal("not_identified", f"device {link.device_id} no longer holds role "
                                    f"{link.role} (device {self._holders.get(link.role)} identified since)",
                                    link.role))
        try:
            still = self.devices.lookup(link.device_id)  # type: ignore[arg-type]
        except dev.DeviceListError as exc:
            return _refused(Refusal("internal_error", f"the device list is unusable: {exc}", link.role))
        if still is None or still.role != link.role:
            return _refused(Refusal("unenrolled_device", f"device {link.device_id} was revoked; it can no "
                                    f"longer act as {link.role} [{dev.CONTRACT}]", link.role,
                                    field="device_id"))
        return self._command(link.role, frame["type"], frame)

    def admit(self, role: str, device_id: str) -> Outcome:
        """Bind `role` to a device whose identity is established (a verified identify answer,
        or a trusted in-process caller): it becomes active and its acknowledgements name it."""
        if role not in self.own.roles:
            raise ValueError(f"unknown role {role!r} [{own.CONTRACT}]")
        self._holders[role] = device_id
        return self._seen(role, COMMAND_IDENTIFY)

    # -- frames --------------------------------------------------------------------------
    def handle(self, role: str | None, frame: Any) -> Outcome:
        """Apply one command frame sent by `role`, whose device must have been admitted."""
        refusal = self._check(role, frame)
        if refusal is not None:
            return _refused(refusal)
        kind = frame["type"]
        if kind == COMMAND_IDENTIFY:
            return _refused(Refusal("already_identified" if role else "not_identified",
                                    "identify answers a connection's challenge (Bus.receive)", role))
        if role is None or role not in self._holders:
            return _refused(Refusal("not_identified", "answer the challenge with identify before any command",
                                    role))
        return self._command(role, kind, frame)

    def _check(self, role: str | None, frame: Any) -> Refusal | None:
        """The frame's shape against director_frames.v2 (before any identity question)."""
        if not isinstance(frame, dict):
            return Refusal("invalid_frame", f"a frame is a JSON object [{frames.CONTRACT}]", role)
        kind = frame.get("type")
        if not isinstance(kind, str):
            return Refusal("invalid_frame", f"a frame needs a string `type` [{frames.CONTRACT}]", role,
                           field="type")
        if kind not in self.own.commands:
            what = "a server frame, not a command" if kind in frames.definitions() else "not a command"
            return Refusal("unknown_command", f"{frames.show(kind)} is {what}; commands are "
                           f"{', '.join(self.own.commands)} [{frames.CONTRACT}]", role, field="type",
                           allowed=tuple(self.own.commands))
        found = frames.explain_frame(frame, self.own.limits.max_frame_depth)
        if found is not None:
            return Refusal("invalid_frame", f"{kind}: {found.message} [{frames.CONTRACT}]", role,
                           field=found.field, allowed=found.allowed)
        return None

    def _identify(self, link: Link, frame: dict[str, Any]) -> Outcome:
        role, device_id = frame["role"], frame["device_id"]
        refusal = self._authenticate(link, role, device_id, frame["nonce"], frame["signature"])
        if refusal is not None:
            link.refused += 1
            if link.refused >= self.own.identify.max_attempts:
                self._challenges.retire(link)
                return _refused(refusal, kick=IDENTIFY_REFUSED)
            self._challenges.issue(link)
            return _refused(refusal, self.challenge_frame(link))
        link.role, link.device_id = role, device_id
        out = self.admit(role, device_id)
        hello = frames.identified(role, device_id, self.own.fields_of(role), self.own.commands_of(role))
        return Outcome(replies=(hello, *out.replies), changed=out.changed, refusal=out.refusal,
                       identified=role if out.accepted else None)

    def _authenticate(self, link: Link, role: str, device_id: str, nonce: str,
                      signature: str) -> Refusal | None:
        """Why this identify answer does not prove `role` for `device_id`, or None."""
        code = self._challenges.take(link, nonce)
        if code == "replayed_identify":
            return Refusal(code, "this answer signs a challenge issued to another connection or already "
                           "answered (a replayed identify); sign the challenge of this connection",
                           field="nonce")
        if code is not None:
            return Refusal(code, "this answer signs a challenge this server did not issue (or no longer "
                           "remembers); sign the challenge of this connection", field="nonce")
        try:
            device = self.devices.lookup(device_id)
        except dev.DeviceListError as exc:
            return Refusal("internal_error", f"the device list is unusable: {exc}")
        if device is None:
            return Refusal("unenrolled_device", f"device {frames.show(device_id)} is not enrolled on this "
                           f"bus (lume director enroll) [{dev.CONTRACT}]", field="device_id")
        if device.role != role:
            return Refusal("wrong_role", f"device {device_id} is enrolled as {device.role}, not {role} "
                           f"[{dev.CONTRACT}]", field="role", allowed=(device.role,))
        try:
            raw = dev.unb64(signature, 64)
        except ValueError:
            raw = b""
        payload = dev.identify_payload(nonce, role, device_id, self.server_key, self.own)
        if not raw or not core.verify_ed25519(device.public_key, payload, raw):
            return Refusal("bad_signature", f"the signature is not device {device_id}'s over this "
                           f"challenge ({self.own.identify.payload_context})", field="signature")
        return None

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
        return self._commit(doc, None, None, "on_change", reply="none")

    def _distrust(self) -> str | None:
        """A document from outside this bus (loaded from disk) carries consent only with a token
        this server's key signed over it: a hand-edited or foreign file must never grant it.
        Otherwise the quorum is reset now, as a new version (on_commit sees it); returns why."""
        doc = self._doc
        token, acknowledged = st.read(doc, TOKEN), st.read(doc, self.own.quorum.field)
        if token is None and not acknowledged and st.read(doc, EXPIRES_AT) is None:
            return None
        if token is None:
            why = f"{self.own.quorum.field} is set without a {TOKEN}"
        elif not consent.verify(doc, self.signer.public_key, self.own):
            why = f"its {TOKEN} is not this server's signature over the consent fields"
        elif not acknowledged:
            why = f"it has a {TOKEN} but {self.own.quorum.field} is false"
        else:
            return None
        out = self._commit(self._reset_quorum(doc), None, None, "always", reply="none")
        if out.refusal is not None:  # the reset is a plain quorum write: cannot break the state
            raise RuntimeError(out.refusal.message)
        return (f"consent withdrawn at version {self.version}: the restored version {doc[st.VERSION]} "
                f"carried consent but {why} [{own.CONTRACT} quorum]")

    def restore(self, doc: dict[str, Any]) -> None:
        """Go back to an earlier valid document this bus made (the last durable one when a write
        failed); a document from anywhere else goes through the constructor, which checks it."""
        self._doc, self._bytes = st.check(doc), None

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
            return _refused(Refusal("paused", f"{kind} refused while {PHASE} is {rules.paused_phase}", role,
                                    field=PHASE))
        if kind == COMMAND_HEARTBEAT:
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
        reply = self.own.commands[kind].reply
        if role in active:
            return Outcome(replies=self._reply(reply))
        ordered = [r for r in self.own.roles if r in active or r == role]
        return self._commit(st.write(self._doc, ACTIVE, ordered), kind, role, "on_change", reply=reply)

    def _reply(self, reply: str) -> tuple[dict[str, Any], ...]:
        if reply == "ack":
            return (frames.ack(self.version),)
        if reply == "state":
            return (frames.state(self._doc),)
        return ()

    def _reset_quorum(self, doc: dict[str, Any]) -> dict[str, Any]:
        return st.write_many(doc, {self.own.quorum.field: False, TOKEN: None, EXPIRES_AT: None,
                                   ACKS: [], WITNESSES: []})

    def _ack_consent(self, doc: dict[str, Any], role: str) -> dict[str, Any] | Refusal:
        q = self.own.quorum
        if q.requires_proposal and st.read(doc, PROPOSED_BY) is None:
            return Refusal("no_consent_proposal", f"no consent proposal to acknowledge; send "
                           f"{q.proposal_command} first", role)
        if st.read(doc, q.field):
            return Refusal("consent_already_acknowledged",
                           "the current proposal already has its quorum and token", role)
        where = ACKS if role in q.required_roles else WITNESSES if role in q.witness_roles else None
        if where is None or any(a["role"] == role for a in st.read(doc, where)):
            return doc  # counted by role: a second ack from the same role changes nothing
        entry = {"role": role, "device_id": self._holders[role], "at": rfc3339(self.clock.now())}
        doc = st.write(doc, where, [*st.read(doc, where), entry])
        acked = {a["role"] for a in st.read(doc, ACKS)}
        if all(r in acked for r in q.required_roles):
            expires = self.clock.now() + timedelta(seconds=q.token_ttl_s)
            doc = st.write_many(doc, {q.field: True, EXPIRES_AT: rfc3339(expires)})
            doc = st.write(doc, TOKEN, self.signer.sign(doc))
        return doc

    def _append_history(self, doc: dict[str, Any], cue: dict[str, Any]) -> dict[str, Any]:
        entry = {**cue, "applied_at": rfc3339(self.clock.now()), "applied_version": self.version + 1}
        keep = self.own.rules.history_keep
        return st.write(doc, HISTORY, [*st.read(doc, HISTORY)[-(keep - 1):], entry] if keep > 1 else [entry])

    def _commit(self, doc: dict[str, Any], kind: str | None, role: str | None, bump: str,
                reply: str) -> Outcome:
        changed = doc != self._doc
        if not changed and bump == "on_change":
            return Outcome(replies=self._reply(reply))
        doc = st.write_many(doc, {st.VERSION: self.version + 1, st.UPDATED_AT: rfc3339(self.clock.now())})
        bad = self.own.illegal_changes(self._doc, doc, kind, role)
        if bad:
            return _refused(Refusal("internal_error", f"{kind} would change {', '.join(bad)} without "
                                    f"owning it [{own.CONTRACT}]; nothing applied", role))
        found = st.problems_since(self._doc, doc)
        if found:
            p = found[0]
            return _refused(Refusal("internal_error", f"{kind} would make the state invalid: {p.path}: "
                                    f"{p.message[:200]} [{p.contract}]; nothing applied", role))
        data = orjson.dumps(doc)
        limit = self.own.limits.max_state_bytes
        if len(data) > limit:
            return _refused(Refusal("state_too_large", f"{kind} would make the state {len(data)} bytes, "
                                    f"over limits.max_state_bytes {limit} [{own.CONTRACT}]; nothing applied",
                                    role))
        if self.on_commit is not None:
            try:
                self.on_commit(doc, data)
            except Exception as exc:  # noqa: BLE001 - any persistence failure refuses the command
                return _refused(Refusal("internal_error", f"could not persist version "
                                        f"{doc[st.VERSION]}: {exc}; nothing applied", role))
        self._doc, self._bytes = doc, data
        return Outcome(replies=self._reply(reply), changed=True)
