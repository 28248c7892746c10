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
from typing import TYPE_CHECKING, Callable, Iterable

from lume.runtime.core import (  # noqa: F401 (re-exported to the checks)
    CheckResult,
    Domain,
    Evidence,
    held,
    status_of,
    unchecked,
    violated,
    warned,
)

if TYPE_CHECKING:
    from ._context import Context

@dataclass(frozen=True)
class Verifier:
    id: str
    title: str
    invariants: tuple[str, ...]
    domain: Domain
    check: Callable[["Context"], Iterable[Evidence]] = field(repr=False)
    inputs: Callable[["Context"], bool] | None = field(default=None, repr=False)
    needs: str = ""
    needs_rig: bool = False  # a live rig probe: left out ("no --rig given") when no rig is named
    # a property check: a function of the code, contracts and budget alone, never of the root,
    # so a pass may be remembered and reused by --quick (property_proof.v1)
    proof: bool = False

    def applies(self, ctx: "Context") -> bool:
        """Whether the root holds this check's inputs (always, for a check that declares none)."""
        return self.inputs is None or bool(self.inputs(ctx))

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


def verifier(id: str, title: str, *, invariants: Iterable[str] = (), domain: Domain = "data",
             inputs: Callable[["Context"], bool] | None = None, needs: str = "",
             needs_rig: bool = False, proof: bool = False) -> Callable[[Callable[["Context"], Iterable[Evidence]]], Verifier]:
    """Make a check function a Verifier (the catalog, `_catalog.py`, lists the built-in ones).

    `inputs(ctx)` says whether the root holds what the check reads, `needs` says what that is;
    `needs_rig` marks a live probe of the rig (`ctx.rig`), reported as not run without one;
    `proof` a property check whose pass `--quick` may reuse (it must not read the root).
    """

    def make(fn: Callable[["Context"], Iterable[Evidence]]) -> Verifier:
        return Verifier(id, title, tuple(invariants), domain, fn, inputs, needs, needs_rig, proof)

    return make
