"""director.ownership.properties: the director bus keeps one writer per field, its consent
rule and its pause rule over generated command sequences from every role.

The pure `Bus` (what the director server applies, in receive order) is driven through its
public API - a connection's challenge answered by an enrolled device key (`open`,
`challenge_frame`, `receive`), then `handle(role, frame)`, `tick()`, `state` - with a fake
clock. An oracle written here from the raw rows of director_ownership.v2 checks after every
step: the state is a valid director_state.v2 document; the version moves by exactly one per
accepted change and never otherwise; a field changes only when the sender owns it, or it is
a server / quorum update of that command; nothing is accepted from a role no device
identified as; a refused frame leaves the state untouched and answers a valid `error` frame;
consent is acknowledged only when every required role (Mac AND iOS, seed 004 Q2) has
acknowledged from its identified device, a witness never counts, and the token verifies;
no cue is set while the session is paused; the cue history stays bounded and ordered. A counterexample fails the check with the shrunk command sequence as evidence.
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Iterator

from lume.runtime.core import get, problems, rfc3339, rule_data

from ._context import Context
from ._framework import Evidence, verifier
from ._properties import budget, evidence, run_property

if TYPE_CHECKING:
    from lume.runtime.director import Bus, DeviceKey

ID = "director.ownership.properties"
OWNERSHIP = "director_ownership.v2"
STATE = "director_state.v2"
FRAMES = "director_frames.v2"
BOOKKEEPING = ("version", "updated_at")


class Broken(AssertionError):
    pass


def read(doc: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        doc = doc[part]
    return doc


class BusOracle:
    """The ownership table's rows, read as the contract states them."""

    def __init__(self) -> None:
        t = rule_data(OWNERSHIP)
        self.roles = [r["role"] for r in t["roles"]]
        self.writer = {r["field"]: r["writer"] for r in t["fields"]}
        self.commands = {c["command"]: c for c in t["commands"]}
        self.rules, self.quorum = t["rules"], t["quorum"]
        self.state_contract = get(STATE)
        self.frames_contract = get(FRAMES)
        self._keys: dict[str, DeviceKey] | None = None

    @property
    def keys(self) -> dict[str, DeviceKey]:
        """One enrolled device key per role (made once: key generation is not what is tested)."""
        if self._keys is None:
            from lume.runtime.director import DeviceKey

            self._keys = {role: DeviceKey.generate(f"{role}-verify") for role in self.roles}
        return self._keys

    def bus(self, clock: Any) -> Bus:
        from lume.runtime.director import Bus, Device, DeviceTrust

        at = rfc3339(clock.now())
        trust = DeviceTrust([Device(k.device_id, role, k.public_key, at) for role, k in self.keys.items()])
        return Bus(clock=clock, devices=trust)

    def illegal(self, before: dict[str, Any], after: dict[str, Any], kind: str | None,
                role: str | None) -> list[str]:
        row = self.commands.get(kind or "", {"writes": [], "server_updates": []})
        bad = []
        for path, writer in self.writer.items():
            if path in BOOKKEEPING or read(before, path) == read(after, path):
                continue
            owned = path in row["writes"] and writer == role
            derived = path in row["server_updates"] if kind else writer in ("server", "quorum")
            if not (owned or derived):
                bad.append(f"{path} (writer {writer})")
        return bad

    def after_step(self, bus: Bus, before: dict[str, Any], out: Any, kind: str | None, role: str | None,
                   changes: int, counts: Counter, *, well_formed: bool = True,
                   identified: frozenset[str] | set[str] = frozenset()) -> int:
        """Check one step; returns the count of accepted changes so far."""
        after = bus.state
        found = problems(after, self.state_contract, file="state")
        if found:
            raise Broken(f"the state breaks {STATE} after {kind} from {role}: {found[0]}")
        if out is not None and out.accepted and kind not in (None, "identify") and role not in identified:
            raise Broken(f"{kind} from {role} accepted although no device identified as {role}")
        if out is not None and getattr(out, "changed", False):
            changes += 1
            counts["accepted_changes"] += 1
            if after["version"] != before["version"] + 1:
                raise Broken(f"{kind} from {role} moved the version {before['version']} -> {after['version']}")
            bad = self.illegal(before, after, kind, role)
            if bad:
                raise Broken(f"{kind} from {role} changed {', '.join(bad)} without owning it")
        elif after != before:
            raise Broken(f"{kind} from {role} changed the state without a new version")
        if after["version"] != changes:
            raise Broken(f"version {after['version']} after {changes} accepted changes")
        if out is not None and not out.accepted:
            counts["refused"] += 1
            reply = out.reply
            if reply is None or reply.get("type") != "error" or problems(reply, self.frames_contract, file="reply"):
                raise Broken(f"{kind} from {role} was refused without a valid error frame: {reply}")
            if well_formed and kind in self.commands and role is not None and role not in identified:
                counts["not_identified"] += 1
                if reply.get("code") != "not_identified":
                    raise Broken(f"{kind} from {role} (not identified) refused as {reply.get('code')}")
            elif well_formed and kind in self.commands and role is not None \
                    and role not in self.commands[kind]["senders"] \
                    and reply.get("code") != "field_ownership_violation":
                raise Broken(f"{kind} from {role} (not a sender) refused as {reply.get('code')}")
        if kind in self.rules["paused_blocks_commands"] and read(before, "session.phase") == self.rules["paused_phase"]:
            counts["commands_while_paused"] += 1
            if out is not None and out.accepted:
                raise Broken(f"{kind} from {role} accepted while session.phase is {self.rules['paused_phase']}")
        c, q = after["model_consent"], self.quorum
        acks, witnesses = [a["role"] for a in c["acks"]], [w["role"] for w in c["witnesses"]]
        if len(set(acks)) != len(acks) or not set(acks) <= set(q["required_roles"]):
            raise Broken(f"consent acks {acks} count a role twice or a role outside {q['required_roles']}")
        if len(set(witnesses)) != len(witnesses) or not set(witnesses) <= set(q["witness_roles"]):
            raise Broken(f"consent witnesses {witnesses} outside {q['witness_roles']}")
        if any(a["device_id"] != self.keys[a["role"]].device_id for a in c["acks"] + c["witnesses"]):
            raise Broken(f"an acknowledgement names a device that is not its role's: {c['acks']}")
        if c["acknowledged"]:
            counts["consent_acknowledged"] += 1
            if set(acks) != set(q["required_roles"]) or c["proposed_by"] is None:
                raise Broken(f"consent acknowledged with acks {acks} (required {q['required_roles']})")
            from lume.runtime.director import verify_token

            if not verify_token(after, bus.signer.public_key):
                raise Broken("the consent token does not verify")
        elif c["token"] is not None or c["expires_at"] is not None:
            raise Broken("a consent token without an acknowledged quorum")
        history = after["cue"]["history"]
        versions = [h["applied_version"] for h in history]
        if len(history) > self.rules["history_keep"] or versions != sorted(set(versions)):
            raise Broken(f"cue history of {len(history)} entries, versions {versions}")
        return changes


def run_steps(oracle: BusOracle, steps: list[tuple], counts: Counter) -> None:
    from lume.runtime.director import FakeClock

    clock = FakeClock()
    bus = oracle.bus(clock)
    identified: set[str] = set()
    changes = 0
    for step in steps:
        kind, role, out = step[0], None, None
        before = bus.state
        if kind == "time":
            clock.advance(step[1])
            out = bus.tick()
            changes = oracle.after_step(bus, before, out, None, None, changes, counts, identified=identified)
            continue
        if kind == "identify":  # the way a connection does: its challenge, a device's signature
            role = step[1]
            link = bus.open()
            out = bus.receive(link, oracle.keys[role].identify(role, bus.challenge_frame(link)))
            if not out.accepted:
                raise Broken(f"the enrolled device of {role} was refused: {out.reply}")
            identified.add(role)
            counts["identified"] += 1
            changes = oracle.after_step(bus, before, out, "identify", role, changes, counts, identified=identified)
            continue
        if kind == "owned":
            frame = step[2]
            senders = oracle.commands[frame["type"]]["senders"]
            role = senders[step[1] % len(senders)]
        elif kind == "propose":
            role, frame = step[1], {"type": "propose_consent", **step[2]}
        elif kind == "ack":
            role, frame = step[1], {"type": "ack_consent"}
        else:  # command, junk
            role, frame = step[1], step[2]
        out = bus.handle(role, frame)
        counts["frames"] += 1
        name = frame.get("type") if isinstance(frame.get("type"), str) else None
        if kind == "junk":
            if out.accepted or bus.state is not before and bus.state != before:
                raise Broken(f"a malformed frame {frame} from {role} was accepted")
            counts["junk_refused"] += 1
        changes = oracle.after_step(bus, before, out, name if name in oracle.commands else None,
                                    role, changes, counts, well_formed=kind != "junk", identified=identified)


def known_sequences(oracle: BusOracle) -> list[list[tuple]]:
    """Explicit examples: every role identifies; a consent witnessed, then reaching its quorum
    and expiring; cues sent while paused (by the owner of cues), so no rule passes unexercised."""
    q, rules, defs = oracle.quorum, oracle.rules, get(STATE).raw["$defs"]
    scope = list(defs["ConsentScope"]["enum"][:1])
    required = list(q["required_roles"])
    identify = [("command", r, {"type": "heartbeat"}) for r in oracle.roles[:1]]  # before identify: refused
    identify += [("identify", r) for r in oracle.roles]
    consent = [("propose", required[0], {"scope": scope}), *[("ack", r) for r in q["witness_roles"]],
               *[("ack", r) for r in required], ("ack", required[0]), ("time", float(q["token_ttl_s"]))]
    cue = {"type": "set_cue", "cue": {"id": "c1", "kind": defs["CueKind"]["enum"][0], "payload": {}}}
    phases = defs["SessionPhase"]["enum"]
    resume = next(p for p in phases if p != rules["paused_phase"])
    pause = [("owned", 0, {"type": "set_session_phase", "phase": rules["paused_phase"]}), ("owned", 0, cue),
             ("owned", 0, {"type": "set_session_phase", "phase": resume}), ("owned", 0, cue)]
    return [identify + consent + pause]


@verifier(ID, "The director bus keeps one writer per field, the consent quorum and the pause rule (hypothesis)",
          domain="rig", proof=True)
def director_properties(ctx: Context) -> Iterator[Evidence]:
    from ._strategies import director_steps

    b = budget(ID)
    oracle = BusOracle()
    yield evidence(run_property("command_sequences", (), director_steps(b.max_steps or 1),
                                lambda steps, counts: run_steps(oracle, steps, counts), b,
                                explicit=known_sequences(oracle)),
                   must_see=("identified", "accepted_changes", "refused", "not_identified", "consent_acknowledged",
                             "commands_while_paused"))
