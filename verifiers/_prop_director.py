"""director.ownership.properties: the director bus keeps one writer per field, its consent
rule and its pause rule over generated command sequences from every role.

The pure `Bus` (what the director server applies, in receive order) is driven through its
public API - `handle(role, frame)`, `tick()`, `state` - with a fake clock. An oracle written
here from the raw rows of director_ownership.v1 checks after every step: the state is a
valid director_state.v1 document; the version moves by exactly one per accepted change and
never otherwise; a field changes only when the sender owns it, or it is a server / quorum
update of that command; a refused frame leaves the state untouched and answers a valid
`error` frame; the consent is acknowledged only by a quorum of distinct roles with a token
that verifies; no cue is set while the session is paused; the cue history stays bounded and
ordered. A counterexample fails the check with the shrunk command sequence as evidence.
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Iterator

from lume.runtime.core import get, problems, rule_data

from ._context import Context
from ._framework import Evidence, verifier
from ._properties import budget, evidence, run_property

if TYPE_CHECKING:
    from lume.runtime.director import Bus

ID = "director.ownership.properties"
OWNERSHIP = "director_ownership.v1"
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
        self.state_contract = get("director_state.v1")
        self.frames_contract = get("director_frames.v1")

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
                   changes: int, counts: Counter, *, well_formed: bool = True) -> int:
        """Check one step; returns the count of accepted changes so far."""
        after = bus.state
        found = problems(after, self.state_contract, file="state")
        if found:
            raise Broken(f"the state breaks director_state.v1 after {kind} from {role}: {found[0]}")
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
            if well_formed and kind in self.commands and role is not None \
                    and role not in self.commands[kind]["senders"] \
                    and reply.get("code") != "field_ownership_violation":
                raise Broken(f"{kind} from {role} (not a sender) refused as {reply.get('code')}")
        if kind in self.rules["paused_blocks_commands"] and read(before, "session.phase") == self.rules["paused_phase"]:
            counts["commands_while_paused"] += 1
            if out is not None and out.accepted:
                raise Broken(f"{kind} from {role} accepted while session.phase is {self.rules['paused_phase']}")
        c = after["model_consent"]
        if len(set(c["acks"])) != len(c["acks"]):
            raise Broken(f"consent acks {c['acks']} count a role twice")
        if c["acknowledged"]:
            counts["consent_acknowledged"] += 1
            q = self.quorum
            if len(c["acks"]) < q["distinct_roles"] or c["proposed_by"] is None:
                raise Broken(f"consent acknowledged with acks {c['acks']} (quorum {q['distinct_roles']})")
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
    from lume.runtime.director import Bus, FakeClock

    clock = FakeClock()
    bus = Bus(clock=clock)
    changes = 0
    for step in steps:
        kind, role, out = step[0], None, None
        before = bus.state
        if kind == "time":
            clock.advance(step[1])
            out = bus.tick()
            changes = oracle.after_step(bus, before, out, None, None, changes, counts)
            continue
        if kind == "identify":
            role, frame = None, {"type": "identify", "role": step[1]}
        elif kind == "owned":
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
                                    role, changes, counts, well_formed=kind != "junk")


def known_sequences(oracle: BusOracle) -> list[list[tuple]]:
    """Explicit examples: a consent reaching its quorum and expiring, and cues sent while paused
    (by the owner of cues), so neither rule can pass unexercised."""
    q, rules = oracle.quorum, oracle.rules
    scope = list(get("director_state.v1").raw["$defs"]["ConsentScope"]["enum"][:1])
    voters = list(q["of_roles"])[: q["distinct_roles"]]
    consent = [("propose", voters[0], {"scope": scope}), *[("ack", r) for r in voters],
               ("ack", voters[0]), ("time", float(q["token_ttl_s"]))]
    cue = {"type": "set_cue", "cue": {"id": "c1", "kind": get("director_state.v1").raw["$defs"]["CueKind"]["enum"][0],
                                     "payload": {}}}
    phases = get("director_state.v1").raw["$defs"]["SessionPhase"]["enum"]
    resume = next(p for p in phases if p != rules["paused_phase"])
    pause = [("owned", 0, {"type": "set_session_phase", "phase": rules["paused_phase"]}), ("owned", 0, cue),
             ("owned", 0, {"type": "set_session_phase", "phase": resume}), ("owned", 0, cue)]
    return [consent + pause]


@verifier(ID, "The director bus keeps one writer per field, the consent quorum and the pause rule (hypothesis)",
          domain="rig")
def director_properties(ctx: Context) -> Iterator[Evidence]:
    from ._strategies import director_steps

    b = budget(ID)
    oracle = BusOracle()
    yield evidence(run_property("command_sequences", (), director_steps(b.max_steps or 1),
                                lambda steps, counts: run_steps(oracle, steps, counts), b,
                                explicit=known_sequences(oracle)),
                   must_see=("accepted_changes", "refused", "consent_acknowledged", "commands_while_paused"))
