"""Run verifiers over a root and turn the results into a signed readiness report."""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from lume.runtime.core import SigningKey, sign_report

from ._catalog import all_verifiers
from ._context import Context
from ._framework import CheckResult, Verifier
from ._predicate import NotRun, build_predicate, subjects_of
from ._proofs import Proofs
from ._report import write_report
from ._rig import RigConfig

if TYPE_CHECKING:
    from lume.runtime.completion import CompletionRun

FIXTURE_ROOT = "route_smoke"


class UnknownCheck(ValueError):
    """`--only` named a check id that does not exist."""


def default_root() -> Path:
    """The shipped route-smoke fixtures (package data of lume.fixtures)."""
    return Path(str(resources.files("lume.fixtures") / FIXTURE_ROOT))


def select(only: Iterable[str] = ()) -> list[Verifier]:
    registry = all_verifiers()
    wanted = list(only)
    unknown = [i for i in wanted if i not in registry]
    if unknown:
        raise UnknownCheck(f"unknown check id(s): {', '.join(unknown)}; known: {', '.join(sorted(registry))}")
    return [registry[i] for i in (wanted or sorted(registry))]


NO_RIG = "no --rig given"


@dataclass
class Run:
    root: Path
    checks: list[CheckResult]
    subjects: list[dict[str, Any]]
    context: Context
    not_applicable: list[tuple[str, str]] = field(default_factory=list)  # (check id, what it needs)
    not_run: list[NotRun] = field(default_factory=list)  # every check of the default set left out
    predicate: dict[str, Any] | None = None  # the readiness predicate `report()` signed

    @property
    def green(self) -> bool:
        return bool(self.checks) and all(c.status == "pass" for c in self.checks) and not self.partial

    @property
    def partial(self) -> bool:
        return any(n.kind == "not_selected" for n in self.not_run)


def _left_out(v: Verifier, ctx: Context, *, explicit: bool, chosen: set[str], rig: Any) -> NotRun | None:
    """Why a check of the default set does not run here, or None when it runs."""
    if explicit and v.id in chosen:
        return None  # asked for by id: always runs
    if v.needs_rig and rig is None:
        return NotRun(v.id, "no_rig", NO_RIG, v.domain)
    if not v.applies(ctx):
        return NotRun(v.id, "not_applicable", f"not applicable: no {v.needs} in this root", v.domain)
    if explicit:
        return NotRun(v.id, "not_selected", "not selected (--only)", v.domain)
    return None


def run(root: Path, *, only: Iterable[str] = (), quick: bool = False, cache_folder: Path | None = None,
        progress: Callable[[Verifier, CheckResult | None], None] | None = None, deep: bool = False,
        rig: RigConfig | None = None, key: SigningKey | None = None) -> Run:
    """Run the selected verifiers (every one by default) over `root`; never writes into it.
    `deep` re-reads archives instead of trusting the member digests the indexer recorded.
    With `key` (the key that will sign the report) every passing property check is remembered
    as a signed proof, and a `quick` run reuses a valid one instead of running the check again
    (property_proof.v1).

    Without `only`, a check whose inputs the root does not hold is left out and listed in
    `not_applicable` (and `not_run`), as is a live rig probe when no `rig` is named; a check
    named in `only` always runs. With `only`, every other check of the default set that would
    have run here is `not_selected`: the run is partial and its report never green.
    """
    only = list(only)
    explicit = bool(only)
    verifiers = select(only)
    chosen = {v.id for v in verifiers}
    ctx = Context(root, quick=quick, cache_folder=cache_folder, deep=deep, rig=rig)
    proofs = Proofs(key, cache_folder / "proofs" if cache_folder else None) if key is not None else None
    # every file is hashed for the subjects anyway: start now, on the other core, while the
    # checks parse and validate (one pass over the bytes overlapping the other)
    ctx.cache.prefetch(ctx.files)
    try:
        not_run = [n for v in select(())
                   if (n := _left_out(v, ctx, explicit=explicit, chosen=chosen, rig=rig))]
        left = {n.id for n in not_run}
        skipped = [(n.id, all_verifiers()[n.id].needs) for n in not_run if n.kind == "not_applicable"]
        results = []
        for v in verifiers:
            if v.id in left:
                continue
            if progress:
                progress(v, None)
            result = proofs.recall(v) if proofs and quick and v.proof else None
            if result is None:
                result = v.run(ctx)
                if proofs and v.proof:
                    proofs.remember(v, result)
            results.append(result)
            if progress:
                progress(v, result)
        ctx.hash_all()  # subjects: every file of the root with its digest
    finally:
        ctx.cache.close()
    digests = {rel: ctx.cache.entries[rel][4] for rel in ctx.files if rel in ctx.cache.entries}
    ctx.cache.save(ran=[r.id for r in results], files=ctx.file_set)
    return Run(ctx.root, results, subjects_of(digests), ctx, skipped, not_run)


def report(result: Run, key: SigningKey, path: Path, *, root_label: str | None = None) -> dict[str, Any]:
    """Sign the run's readiness predicate and write JSON + Markdown + HTML; returns the envelope."""
    predicate = build_predicate(root_label or str(result.root), result.checks, result.subjects,
                                not_run=result.not_run)
    envelope = sign_report(predicate, result.subjects, key)
    write_report(envelope, path, predicate=predicate)
    result.predicate = predicate
    return envelope


def completion_predicate(run: "CompletionRun", *, generated_at: str | None = None) -> dict[str, Any]:
    """The readiness_report.v1 predicate of a completion-gate run (with its `gate` block)."""
    ready = run.completion_ready
    pred = build_predicate(run.root_label, run.checks, run.subjects(), generated_at=generated_at,
                           gate=run.gate_block(), completion_ready=ready,
                           mac5_heavy_reconstruction_allowed=False)
    # Mac5 may start only with a ready gate in a green report (readiness_report.v1 rule).
    pred["verdicts"]["mac5_heavy_reconstruction_allowed"] = ready and pred["verdicts"]["overall"] == "green"
    return pred


def sign_completion_report(run: "CompletionRun", key: SigningKey, output: Path, *,
              generated_at: str | None = None) -> dict[str, Any]:
    """Sign the gate's readiness predicate and write it (JSON + Markdown + HTML) to `output`."""
    predicate = completion_predicate(run, generated_at=generated_at)
    envelope = sign_report(predicate, predicate["subjects"], key)
    write_report(envelope, output, predicate=predicate)
    return envelope
