"""Run a hypothesis property in-process and turn the run into evidence of a verifier.

Every run is reproducible and bounded: the seed and the example budget come from the
profile of property_checks.v1 (`default_profile`, or the one LUME_PROPERTY_PROFILE names),
with no example database and no deadline. A property is a function of one generated value
that raises AssertionError naming the invariant it found broken; it counts what it saw (events,
dispatches, frames …) in a Counter. Hypothesis shrinks a failure to a minimal example and runs
that example last, so the value of the last call is the shrunk counterexample the evidence
carries. Hypothesis prints nothing here (the caller may be writing JSON to stdout), and reads
and writes its files only in a private folder (`_hypothesis_home`).
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from lume.runtime.core import Evidence, frozen_heap, held, table, unchecked, violated

from ._hypothesis_home import private_home

BUDGETS = "property_checks.v1"
PROFILE_ENV = "LUME_PROPERTY_PROFILE"
MAX_SHOWN = 20_000  # characters of a counterexample kept in the evidence (the rest is elided)


class UnknownProfile(ValueError):
    """LUME_PROPERTY_PROFILE names no profile of property_checks.v1."""


@dataclass(frozen=True)
class Budget:
    check: str
    profile: str
    seed: int
    max_examples: int
    max_steps: int | None

    def record(self) -> dict[str, Any]:
        out = {"profile": self.profile, "seed": self.seed, "max_examples": self.max_examples}
        if self.max_steps is not None:
            out["max_steps"] = self.max_steps
        return out


def profile_name() -> str:
    t = table(BUDGETS)
    name = os.environ.get(PROFILE_ENV) or t.default_profile
    if name not in t.profiles:
        raise UnknownProfile(f"{PROFILE_ENV}={name!r} is not a profile of {BUDGETS} "
                             f"(profiles: {', '.join(sorted(t.profiles))})")
    return name


def reduced_profile(check_ids: Iterable[str]) -> str | None:
    """The profile the property checks among `check_ids` ran at, when it is not
    property_checks.v1's `default_profile` (LUME_PROPERTY_PROFILE names another: a budget the
    report records per check, but that an operator must also be told); else None."""
    name, t = profile_name(), table(BUDGETS)
    return name if name != t.default_profile and set(t.profiles[name].checks) & set(check_ids) else None


def own_process() -> bool:
    """Whether the current profile shares property checks with a helper process."""
    return bool(table(BUDGETS).profiles[profile_name()].own_process)


def scheduled(ids: list[str]) -> list[str]:
    """`ids` in the order the current profile lists its checks (longest first: the helper
    process starts with them); ids it does not list keep their order, at the end."""
    order = {c: i for i, c in enumerate(table(BUDGETS).profiles[profile_name()].checks)}
    return sorted(ids, key=lambda i: order.get(i, len(order)))


def budget(check_id: str) -> Budget:
    """The seed and budget of one check in the current profile (KeyError naming the contract)."""
    name = profile_name()
    profile = table(BUDGETS).profiles[name]
    b = profile.checks.get(check_id)
    if b is None:
        raise KeyError(f"{BUDGETS} profile {name!r} gives {check_id} no budget")
    return Budget(check_id, name, profile.seed, b.max_examples, b.max_steps)


def _settings(b: Budget) -> Any:
    from hypothesis import HealthCheck, Phase, settings

    s = table(BUDGETS).settings
    return settings(settings.get_profile("default"), max_examples=b.max_examples, database=None,
                    deadline=s.deadline_ms, derandomize=False,
                    report_multiple_bugs=s.report_multiple_bugs, print_blob=False,
                    phases=[Phase[p] for p in s.phases], suppress_health_check=list(HealthCheck))


@dataclass
class PropertyRun:
    name: str
    invariants: tuple[str, ...]
    budget: Budget
    examples: int = 0
    counts: Counter = field(default_factory=Counter)
    counterexample: Any = None
    error: str | None = None
    show: Callable[[Any], Any] | None = None  # a compact form of a value for the evidence

    @property
    def failed(self) -> bool:
        return self.error is not None


def run_property(name: str, invariants: Iterable[str], strategy: Any,
                 prop: Callable[[Any, Counter], None], b: Budget, *, explicit: Iterable[Any] = (),
                 show: Callable[[Any], Any] | None = None) -> PropertyRun:
    """Run `prop` over `strategy` at the budget's seed and example count (plus `explicit`
    examples first); a failure keeps the shrunk counterexample (as `show` renders it) and the error."""
    from hypothesis import given, seed
    from hypothesis.reporting import with_reporter

    out = PropertyRun(name, tuple(invariants), b, show=show)
    last: list[Any] = [None]

    def body(value: Any) -> None:
        last[0] = value
        counts: Counter = Counter()
        prop(value, counts)
        if out.error is None:
            out.examples += 1
            out.counts.update(counts)

    # The explicit examples run first, here rather than through @example: hypothesis renders
    # every explicit example's arguments for its report (a sixth of a run's time), and an
    # explicit example is never shrunk anyway, so its failure is its own counterexample.
    explicit = list(explicit) if "explicit" in table(BUDGETS).settings.phases else []
    test = seed(b.seed)(_settings(b)(given(strategy)(body)))
    try:
        for value in explicit:
            body(value)
        with with_reporter(lambda _text: None), private_home(), frozen_heap():
            test()
    except Exception as exc:  # noqa: BLE001 - any failure of the property is its counterexample
        out.error = f"{type(exc).__name__}: {exc}".strip()
        out.counterexample = last[0]
    return out


def jsonable(value: Any) -> Any:
    """A counterexample as JSON (tuples as lists, anything else by its repr), size-bounded."""
    import orjson

    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if v is None or isinstance(v, (bool, int, float, str)):
            return v if not isinstance(v, float) or v == v and abs(v) != float("inf") else repr(v)
        if isinstance(v, (bytes, bytearray)):
            return bytes(v).hex()
        return repr(v)

    data = plain(value)
    text = orjson.dumps(data).decode()
    return data if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + f"… ({len(text)} characters)"


def evidence(run: PropertyRun, *, must_see: Iterable[str] = ()) -> Evidence:
    """One piece of evidence for a property run: held with its counts, violated with the shrunk
    counterexample, or unchecked when the run never reached what it must see (a vacuous pass)."""
    where = f"property:{run.name}"
    record = {**run.budget.record(), "examples": run.examples, **dict(sorted(run.counts.items()))}
    cited = f" ({', '.join(run.invariants)})" if run.invariants else ""
    if run.failed:
        return violated(f"{run.name}{cited}: counterexample: {run.error}",
                        field=where, expected="no counterexample",
                        found={**run.budget.record(), "error": run.error,
                               "counterexample": jsonable(run.show(run.counterexample) if run.show
                                                          else run.counterexample)})
    missing = [k for k in must_see if not run.counts.get(k)]
    if missing:
        return unchecked(f"{run.name}{cited}: the generated inputs never reached "
                         f"{', '.join(missing)}; the property was not exercised",
                         field=where, expected={k: ">= 1" for k in missing}, found=record)
    return held(f"{run.name}{cited}: {run.examples} examples, 0 violations", field=where,
                expected={"violations": 0}, found={**record, "violations": 0})
