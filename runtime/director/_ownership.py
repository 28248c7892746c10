"""Who may write what: command -> fields -> owner, read from director_ownership.v2.

Nothing here names a role or a field: the rows of the contract decide. `check` refuses a
command before it is applied; `illegal_changes` re-checks the outcome (every field that
changed must be owned by the sender or be a server/quorum update of that command), so a bug
in an applier can never commit a write by a non-owner.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lume.generated.constants import COMMAND_IDENTIFY
from lume.generated.models.meta_director_ownership_v2 import (
    BusLimits,
    BusRules,
    CommandRow,
    DirectorOwnership,
    IdentifyRule,
    QuorumRule,
)
from lume.runtime.core import table

from . import _state as st

CONTRACT = "director_ownership.v2"
# Writers that are not roles: derived by the server or by the consent quorum.
DERIVED_WRITERS = frozenset({"server", "quorum"})


@dataclass(frozen=True)
class Refusal:
    """Why a frame was refused; becomes an `error` frame of director_frames.v2."""

    code: str
    message: str
    role: str | None = None
    field: str | None = None
    owner: str | None = None
    allowed: tuple[Any, ...] | None = None  # the field's closed set of values, when it has one

    def frame(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code, "field": self.field, "owner": self.owner,
                "allowed": list(self.allowed) if self.allowed is not None else None,
                "role": self.role, "message": self.message}


@dataclass(frozen=True)
class Ownership:
    """The ownership table (`table`, the generated model) indexed the way the bus looks it up."""

    table: DirectorOwnership
    roles: tuple[str, ...]
    writer_of: dict[str, str]  # field path -> role | "server" | "quorum"
    commands: dict[str, CommandRow]  # command name -> its row
    field_paths: tuple[str, ...] = field(default=())
    # the field paths grouped by their top-level key: (key, paths under it), in table order
    branches: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())
    # (command, role) -> the fields it may change; filled on first use
    _allowed: dict[tuple[str | None, str | None], frozenset[str]] = field(
        default_factory=dict, compare=False, repr=False)


    @property
    def rules(self) -> BusRules:
        return self.table.rules

    @property
    def quorum(self) -> QuorumRule:
        return self.table.quorum

    @property
    def identify(self) -> IdentifyRule:
        return self.table.identify

    @property
    def limits(self) -> BusLimits:
        return self.table.limits

    def commands_of(self, role: str) -> list[str]:
        """The commands `role` may send (identify excluded: it is how a role is bound)."""
        return [c for c, row in self.commands.items() if role in row.senders and c != COMMAND_IDENTIFY]

    def owner(self, path: str) -> str | None:
        """The owning role of a field, or None when the server / quorum derives it."""
        writer = self.writer_of.get(path)
        return None if writer in DERIVED_WRITERS else writer

    def fields_of(self, role: str) -> list[str]:
        return [p for p in self.field_paths if self.writer_of[p] == role]

    def may_send(self, command: str, role: str) -> bool:
        row = self.commands.get(command)
        return row is not None and role in row.senders

    def check(self, command: str, role: str, fields: Iterable[str]) -> Refusal | None:
        """Refuse `command` from `role` writing `fields` unless the role owns every one."""
        row = self.commands[command]
        fields = list(fields)
        if role not in row.senders:
            path = fields[0] if fields else (row.writes[0] if row.writes else None)
            owner = self.owner(path) if path else None
            return Refusal("field_ownership_violation",
                           f"{command} writes {path}, owned by {owner}; sender is {role}"
                           if path else f"{role} may not send {command}",
                           role=role, field=path, owner=owner)
        allowed = set(row.writes)
        for path in fields:
            if path not in allowed or self.writer_of.get(path) != role:
                owner = self.owner(path)
                return Refusal("field_ownership_violation",
                               f"{command} writes {path}, owned by {owner or self.writer_of.get(path)};"
                               f" sender is {role}", role=role, field=path, owner=owner)
        return None

    def _may_change(self, command: str | None, role: str | None) -> frozenset[str]:
        if command is None:
            allowed = {p for p, w in self.writer_of.items() if w in DERIVED_WRITERS}
        else:
            row = self.commands[command]
            allowed = {p for p in row.writes if self.writer_of.get(p) == role}
            allowed |= set(row.server_updates)
        return frozenset(allowed | {st.VERSION, st.UPDATED_AT})

    def illegal_changes(self, before: dict[str, Any], after: dict[str, Any],
                        command: str | None, role: str | None) -> list[str]:
        """Fields that changed between two documents without the right to change them.

        `command=None` is the server's own sweep (heartbeat / consent expiry): only
        server- and quorum-derived fields may change then.
        """
        allowed = self._allowed.get((command, role))
        if allowed is None:
            allowed = self._allowed[(command, role)] = self._may_change(command, role)
        bad = []
        for head, paths in self.branches:
            if before.get(head) is after.get(head):
                continue  # a branch `write` did not copy cannot have changed
            for path in paths:
                if path in allowed:
                    continue
                a, b = st.read(before, path), st.read(after, path)
                if a is not b and a != b:
                    bad.append(path)
        return bad


@functools.cache
def load() -> Ownership:
    t: DirectorOwnership = table(CONTRACT)
    return Ownership(
        table=t,
        roles=tuple(r.role for r in t.roles),
        writer_of={r.field: r.writer for r in t.fields},
        commands={c.command: c for c in t.commands},
        field_paths=tuple(r.field for r in t.fields),
        branches=_branches(r.field for r in t.fields),
    )


def _branches(paths: Iterable[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    heads: dict[str, list[str]] = {}
    for path in paths:
        heads.setdefault(st.parts(path)[0], []).append(path)
    return tuple((head, tuple(under)) for head, under in heads.items())
