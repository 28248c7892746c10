"""Run verifiers over a root and turn the results into a signed readiness report."""
from __future__ import annotations

import multiprocessing
import threading
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from lume.runtime.core import Sealed, SigningKey, return_free_memory, seal_report, skip_final_collection

from . import _hypothesis_home
from ._catalog import all_verifiers
from ._context import Context
from ._digests import SECRET_PURPOSE
from ._framework import CheckResult, Verifier
from ._predicate import NotRun, build_predicate, subjects_of
from ._proofs import Proofs
from ._properties import own_process, scheduled
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
    (property_proof.v1); the quick cache is sealed under a secret derived from it (without a
    key, a run reads and writes an unsealed cache, which a run with a key never trusts).

    Without `only`, a check whose inputs the root does not hold is left out and listed in
    `not_applicable` (and `not_run`), as is a live rig probe when no `rig` is named; a check
    named in `only` always runs. With `only`, every other check of the default set that would
    have run here is `not_selected`: the run is partial and its report never green.
    """
    only = list(only)
    explicit = bool(only)
    verifiers = select(only)
    chosen = {v.id for v in verifiers}
    ctx = Context(root, quick=quick, cache_folder=cache_folder, deep=deep, rig=rig,
                  cache_secret=key.derive(SECRET_PURPOSE) if key is not None else None)
    # Hypothesis's own files: kept in the cache folder under a seal of this key (_hypothesis_home)
    home = (cache_folder, key.derive(_hypothesis_home.SECRET_PURPOSE) if key is not None else None)
    _hypothesis_home.use(*home)
    proofs = Proofs(key, cache_folder / "proofs" if cache_folder else None) if key is not None else None
    # every file is hashed for the subjects anyway: start now, on the other core, while the
    # checks parse and validate (one pass over the bytes overlapping the other)
    ctx.cache.prefetch(ctx.files)
    pool: ProcessPoolExecutor | None = None
    try:
        not_run = [n for v in select(())
                   if (n := _left_out(v, ctx, explicit=explicit, chosen=chosen, rig=rig))]
        left = {n.id for n in not_run}
        skipped = [(n.id, all_verifiers()[n.id].needs) for n in not_run if n.kind == "not_applicable"]
        todo = [v for v in verifiers if v.id not in left]
        done: dict[str, CheckResult] = {}
        if proofs and quick:
            done = {v.id: r for v in todo if v.proof and (r := proofs.recall(v)) is not None}
        # property checks never read the root: in their own process they run beside the file checks
        proving = [v for v in todo if v.proof and v.id not in done]
        if proving:
            _hypothesis_home.prepare()  # seeded beside the file checks, before a property runs here
        share: _Shared | None = None
        if proving and own_process():
            # the run waits for the helper to end: it skips the collection of its heap at exit
            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_helper_starts, initargs=home)
            by_id = {v.id: v for v in proving}
            share = _Shared(pool, [by_id[i] for i in scheduled(list(by_id))])
        aside = {v.id for v in proving} if share is not None else set()
        for v in todo:
            if v.id in aside:
                continue
            _run_here(v, ctx, done, proofs, progress)
        ctx.hash_all()  # subjects: every file of the root with its digest
        ctx.cache.close()
        digests = {rel: ctx.cache.entries[rel][4] for rel in ctx.files if rel in ctx.cache.entries}
        # the root is done with: its cache is saved and what the file checks read is dropped
        # before the subjects are built and this process takes property checks, so neither peak
        # stacks on the root's. Only a run that left checks out (--only) keeps their earlier
        # memos: reading the old cache back costs as much memory as the cache itself, for
        # nothing when every check ran
        ctx.cache.save(ran=[v.id for v in todo] if explicit else None, files=ctx.file_set)
        ctx.release()
        return_free_memory()  # what the checks and hashing threads freed, before the next peak
        subjects = subjects_of(digests)
        del digests
        while share is not None and (v := share.take()) is not None:
            _run_here(v, None, done, proofs, progress)  # this process is free now: it helps
        for v, future in share.handed() if share is not None else ():
            for result in _collect(future, [v]):
                if progress:
                    progress(v, None)
                done[v.id] = result
                if proofs:
                    proofs.remember(v, result)
                if progress:
                    progress(v, result)
        for v in share.left() if share is not None else ():
            _run_here(v, None, done, proofs, progress)  # the pool broke before it took them
        results = [done[v.id] for v in todo]
    finally:
        ctx.cache.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return Run(ctx.root, results, subjects, ctx, skipped, not_run)


class _Shared:
    """Property checks shared by one helper process and this one, without a second helper's
    memory (about 100 MiB). The queue is in property_checks.v1's order, longest first, and
    whichever process is free takes the check at its front (longest first: the last to start
    are the shortest, so the two end close together): a feeding thread hands the helper one
    check each time it has finished the last, and this process takes checks once its file
    checks are done (not the last one left, until it has run one: `take`). Each check runs
    once, in one of the two."""

    def __init__(self, pool: ProcessPoolExecutor, checks: list[Verifier]):
        self._pool = pool
        self._lock = threading.Lock()
        self._queue = deque(checks)
        self._handed: list[tuple[Verifier, Future]] = []
        self._took = False  # this process took a check
        self._feeder = threading.Thread(target=self._feed, name="lume-properties", daemon=True)
        self._feeder.start()

    def _feed(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    return
                v = self._queue.popleft()
                try:
                    future = self._pool.submit(prove, [v.id])
                except RuntimeError:  # a broken or shut-down pool: this process runs the rest
                    self._queue.appendleft(v)
                    return
                self._handed.append((v, future))
            wait([future])  # one check at a time: the others stay takeable by this process

    def take(self) -> Verifier | None:
        """The longest check no process has started, now this process's, or None.

        The last one left goes to the helper while this process has run none: the helper, its
        Hypothesis warm, is about to be free, and this process would first pay Hypothesis's
        start-up (about 20 MiB, on top of the report it has yet to sign: on a large root its
        peak then grew with the root, issue 19)."""
        with self._lock:
            if len(self._queue) > (0 if self._took else 1):
                self._took = True
                return self._queue.popleft()
            return None

    def handed(self) -> list[tuple[Verifier, Future]]:
        """The checks the helper was handed, with their futures (call once `take()` is None)."""
        self._feeder.join()
        return list(self._handed)

    def left(self) -> list[Verifier]:
        """The checks nobody took: the pool refused them (call after `handed()`)."""
        with self._lock:
            rest, self._queue = list(self._queue), deque()
        return rest


def _run_here(v: Verifier, ctx: Context | None, done: dict[str, CheckResult], proofs: Proofs | None,
              progress: Callable[[Verifier, CheckResult | None], None] | None) -> None:
    """Run one check in this process (unless a proof already stands for it), remembering a
    property check's proof."""
    if progress:
        progress(v, None)
    if v.id not in done:
        done[v.id] = v.run(ctx)  # type: ignore[arg-type] - property checks read no root
        if proofs and v.proof:
            proofs.remember(v, done[v.id])
    if progress:
        progress(v, done[v.id])


def _helper_starts(cache_folder: Path | None, home_secret: bytes | None) -> None:
    """The property-check helper process, as it starts: it skips the collection of its heap at
    exit, and keeps Hypothesis's files as the run does."""
    skip_final_collection()
    _hypothesis_home.use(cache_folder, home_secret)
    _hypothesis_home.prepare()


def prove(ids: list[str]) -> list[CheckResult]:
    """Run property checks by id (in a process of their own: they read no root, no Context)."""
    registry = all_verifiers()
    return [registry[i].run(None) for i in ids]  # type: ignore[arg-type]


def _collect(background: Future, proving: list[Verifier]) -> list[CheckResult]:
    """The background run's results; should the process fail (killed, out of memory), the
    checks run here instead: a broken helper process never costs a verdict."""
    try:
        results = background.result()
    except Exception:  # noqa: BLE001 - BrokenProcessPool, pickling, anything: run them here
        results = None
    answered = [getattr(r, "id", None) for r in results] if isinstance(results, list) else None
    if answered != [v.id for v in proving]:
        return [v.run(None) for v in proving]  # type: ignore[arg-type]
    return results


def report(result: Run, key: SigningKey, path: Path, *, root_label: str | None = None) -> Sealed:
    """Sign the run's readiness predicate and write JSON + Markdown + HTML; returns the signed
    envelope `Sealed` (`.envelope()` for the dict). It lists every file of the root once, as the
    Statement's subjects: rendered straight into the bytes signed, and written without a base64
    copy in memory."""
    predicate = build_predicate(root_label or str(result.root), result.checks, not_run=result.not_run)
    sealed = seal_report(predicate, result.subjects, key)
    write_report(sealed, path, predicate=predicate, subjects=result.subjects)
    result.predicate = predicate
    return sealed


def completion_predicate(run: "CompletionRun", *, generated_at: str | None = None) -> dict[str, Any]:
    """The readiness_report.v2 predicate of a completion-gate run (with its `gate` block); its
    subjects are `run.subjects()`."""
    ready = run.completion_ready
    pred = build_predicate(run.root_label, run.checks, generated_at=generated_at,
                           gate=run.gate_block(), completion_ready=ready,
                           mac5_heavy_reconstruction_allowed=False)
    # Mac5 may start only with a ready gate in a green report (readiness_report rule).
    pred["verdicts"]["mac5_heavy_reconstruction_allowed"] = ready and pred["verdicts"]["overall"] == "green"
    return pred


def sign_completion_report(run: "CompletionRun", key: SigningKey, output: Path, *,
              generated_at: str | None = None) -> dict[str, Any]:
    """Sign the gate's readiness predicate and write it (JSON + Markdown + HTML) to `output`."""
    predicate = completion_predicate(run, generated_at=generated_at)
    subjects = run.subjects()
    sealed = seal_report(predicate, subjects, key)
    write_report(sealed, output, predicate=predicate, subjects=subjects)
    return sealed.envelope()
