"""The next step an operator takes for a failing or inconclusive check (check_remediation.v1).

One place turns a check id, its status and the evidence row it answers into the sentence a
report prints; the sentences themselves are contract data, never literals in code.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from ._rules import check_remediation


def _text(value: Any) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class _Fields(dict):
    def __missing__(self, key: str) -> str:  # an unknown placeholder stays visible, never a KeyError
        return "{" + key + "}"


def next_step(check: str, status: str, evidence: Mapping[str, Any] | None = None, *, root: str = "ROOT") -> str | None:
    """The check_remediation.v1 step for a check of this status, answering `evidence` (a dict with
    file / field / expected / found / message); None for a passing check."""
    if status not in ("fail", "inconclusive"):
        return None
    table = check_remediation()
    row = evidence or {}
    message = str(row.get("message") or "")
    text = getattr(table.default, status)
    for step in table.checks.get(check, []):
        if step.status == status and (step.when is None or step.when in message):
            text = step.next
            break
    fields = _Fields({k: _text(row.get(k)) for k in ("file", "field", "expected", "found")})
    fields.update(root=root, check=check)
    return text.format_map(fields)
