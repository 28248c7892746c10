"""Evidence and check results: what every check, audit and gate returns.

A piece of evidence names the file, field, expected and found values and says whether it
holds (`ok` True), is violated (False) or could not be checked (None). A warning holds (it never
turns a check red) but is listed for the operator: an unknown key in a document another program
wrote, a stray file in a bundle, a referenced file on a root this machine does not mount. A check's status
follows from its evidence: any violation is `fail`; otherwise anything unchecked, or no
evidence at all, is `inconclusive` (never `pass`); only checked-and-held evidence is `pass`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["pass", "fail", "inconclusive"]
Domain = Literal["rig", "data"]


@dataclass
class Evidence:
    file: str | None
    field: str | None
    expected: Any
    found: Any
    message: str
    ok: bool | None = True
    warning: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = {"file": self.file, "field": self.field, "expected": self.expected,
               "found": self.found, "message": self.message}
        if self.warning:
            out["warning"] = True
        if self.ok is not True:  # readiness_report.v1 `outcome`: the rows a report shows first
            out["outcome"] = "violated" if self.ok is False else "unchecked"
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evidence:
        """The evidence `to_dict` gave (KeyError or ValueError for anything else)."""
        ok = {None: True, "violated": False, "unchecked": None}[d.get("outcome")]
        return cls(d["file"], d["field"], d["expected"], d["found"], str(d["message"]), ok,
                   warning=d.get("warning") is True)


def held(message: str, *, file: str | None = None, field: str | None = None,
         expected: Any = None, found: Any = None) -> Evidence:
    return Evidence(file, field, expected, found, message, True)


def warned(message: str, *, file: str | None = None, field: str | None = None,
           expected: Any = None, found: Any = None) -> Evidence:
    return Evidence(file, field, expected, found, message, True, warning=True)


def violated(message: str, *, file: str | None = None, field: str | None = None,
             expected: Any = None, found: Any = None) -> Evidence:
    return Evidence(file, field, expected, found, message, False)


def unchecked(message: str, *, file: str | None = None, field: str | None = None,
              expected: Any = None, found: Any = None) -> Evidence:
    return Evidence(file, field, expected, found, message, None)


@dataclass
class CheckResult:
    id: str
    title: str
    status: Status
    invariants: list[str]
    evidence: list[Evidence]
    duration_ms: float
    domain: Domain = "data"

    @property
    def failures(self) -> list[Evidence]:
        return [e for e in self.evidence if e.ok is False]

    @property
    def warnings(self) -> list[Evidence]:
        return [e for e in self.evidence if e.warning]

    def to_dict(self) -> dict[str, Any]:
        """The readiness_report.v1 `Check` object."""
        return {"id": self.id, "title": self.title, "status": self.status,
                "invariants": list(self.invariants),
                "evidence": [e.to_dict() for e in self.evidence],
                "duration_ms": round(self.duration_ms, 3)}


def status_of(evidence: list[Evidence]) -> Status:
    if any(e.ok is False for e in evidence):
        return "fail"
    if not evidence or any(e.ok is None for e in evidence):
        return "inconclusive"
    return "pass"
