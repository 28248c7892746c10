"""The verifier framework: a verifier is a small named check over a storage root.

Each verifier has a stable dotted id, a title, the safety invariants (`SAFE-…` ids of
lume:contract:safety_invariants:v1) it covers and a domain (`rig` safety or `data`
soundness). It yields Evidence — file, field, expected, found, message, and whether that
piece holds (`ok` True), is violated (False) or could not be checked (None). The status of a
check follows from its evidence: any violation is `fail`; otherwise anything unchecked, an
exception, or no evidence at all is `inconclusive` (never `pass`); only checked-and-held
evidence is `pass`. Verifiers only read: they get a Context whose helpers never write into
the root.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal

if TYPE_CHECKING:
    from .context import Context

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

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "field": self.field, "expected": self.expected,
                "found": self.found, "message": self.message}


def held(message: str, *, file: str | None = None, field: str | None = None,
         expected: Any = None, found: Any = None) -> Evidence:
    return Evidence(file, field, expected, found, message, True)


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


@dataclass(frozen=True)
class Verifier:
    id: str
    title: str
    invariants: tuple[str, ...]
    domain: Domain
    check: Callable[["Context"], Iterable[Evidence]] = field(repr=False)

    def run(self, ctx: "Context") -> CheckResult:
        """Run the check; an exception or missing input makes it inconclusive, never pass."""
        start = time.perf_counter()
        evidence: list[Evidence] = []
        try:
            for item in self.check(ctx):
                evidence.append(item)
            if not evidence:
                evidence.append(unchecked("nothing to check: the root holds no input for this check",
                                          expected="at least one input", found=0))
        except Exception as exc:  # noqa: BLE001 - a broken check is reported, never passed
            where = traceback.extract_tb(exc.__traceback__)[-1]
            evidence.append(unchecked(
                f"check could not run: {type(exc).__name__}: {exc}",
                expected="check runs to completion", found=type(exc).__name__,
                field=f"{where.filename.rsplit('/', 1)[-1]}:{where.lineno}"))
        return CheckResult(self.id, self.title, status_of(evidence), list(self.invariants),
                           evidence, (time.perf_counter() - start) * 1000, self.domain)


REGISTRY: dict[str, Verifier] = {}


def verifier(id: str, title: str, *, invariants: Iterable[str] = (),
             domain: Domain = "data") -> Callable[[Callable[["Context"], Iterable[Evidence]]], Verifier]:
    """Register a check function as a verifier (ids are unique)."""

    def register(fn: Callable[["Context"], Iterable[Evidence]]) -> Verifier:
        if id in REGISTRY:
            raise ValueError(f"verifier id {id!r} registered twice")
        v = Verifier(id, title, tuple(invariants), domain, fn)
        REGISTRY[id] = v
        return v

    return register


def all_verifiers() -> dict[str, Verifier]:
    """Every built-in verifier, by id (importing the modules registers them)."""
    from . import authority, labels, schema_conformance, storage_integrity  # noqa: F401

    return dict(REGISTRY)
