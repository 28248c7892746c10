"""The property verifiers: green on the real code, and a bug seeded into the gate fails the
right property with a shrunk counterexample as evidence."""
from __future__ import annotations

from dataclasses import replace

import pytest

from lume.runtime.airdeck import DispatchGate, SafeStopLock
from lume.runtime.core import table
from lume.verifiers import _prop_airdeck as airdeck
from lume.verifiers import all_verifiers
from lume.verifiers._context import Context
from lume.verifiers._runner import default_root

PROPERTY_CHECKS = ("safety.airdeck.properties", "safety.bodytruth.properties", "director.ownership.properties",
                   "lumf.codec.properties")


def run_check(check_id: str):
    return all_verifiers()[check_id].run(Context(default_root()))


def failed(result) -> dict:
    bad = [e for e in result.evidence if e.ok is False]
    assert result.status == "fail" and bad, [e.message for e in result.evidence]
    return {e.field.removeprefix("property:"): e for e in bad}


class Faulty(DispatchGate):
    """The real gate whose label resolution is bent by `bend(target)` (a seeded bug)."""

    bend = staticmethod(lambda target: target)

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        real = self.rules.resolve

        def resolve(label, deck):
            res = real(label, deck)
            return res if res.target is None else replace(res, target=self.bend(res.target))

        self.rules = replace(self.rules)  # a copy: the bent resolution stays with this gate
        self.rules.resolve = resolve


def seed_gate(monkeypatch, bend) -> None:
    gate_class = type("Seeded", (Faulty,), {"bend": staticmethod(bend)})

    def make_gate(rules, authority=None, *, locked=False, dry_run=True):
        return gate_class(authority or airdeck.Authority.simulated(rules), rules, None,
                          locked=locked, dry_run=dry_run)

    monkeypatch.setattr(airdeck, "make_gate", make_gate)


@pytest.mark.parametrize("check_id", PROPERTY_CHECKS)
def test_every_property_check_has_a_budget_in_every_profile(check_id):
    t = table("property_checks.v1")
    assert t.default_profile in t.profiles
    for name, profile in t.profiles.items():
        assert check_id in profile.checks, (name, check_id)


def test_the_real_gate_passes_at_the_report_budget_with_seed_and_counts_in_evidence(monkeypatch):
    monkeypatch.setenv("LUME_PROPERTY_PROFILE", "report")
    result = run_check("safety.airdeck.properties")
    assert result.status == "pass", [e.message for e in result.evidence if e.ok is not True]
    budget = table("property_checks.v1").profiles["report"]
    for e in result.evidence:
        assert {"profile", "seed", "max_examples", "examples", "violations"} <= set(e.found)
        assert (e.found["profile"], e.found["seed"]) == ("report", budget.seed)
        assert e.found["examples"] >= budget.checks["safety.airdeck.properties"].max_examples
    found = {e.field: e.found for e in result.evidence}
    assert found["property:gate_streams"]["dispatches"] > 0
    assert found["property:destructive_in_burst"]["destructive_dispatches"] > 0
    assert found["property:safe_stop_survives_restart"]["safe_stops"] > 0


def test_a_cooldown_off_by_one_is_found_with_a_counterexample(monkeypatch):
    seed_gate(monkeypatch, lambda t: replace(t, cooldown_ms=t.cooldown_ms - 1))
    bad = failed(run_check("safety.airdeck.properties"))
    e = bad["gate_streams"]
    assert "SAFE-CMD-COOLDOWN" in e.found["error"]
    events = e.found["counterexample"]["events"]
    assert events and all({"timestamp_ms", "label", "source_id"} <= set(x) for x in events)
    assert e.found["counterexample"]["frames"]


def test_a_hold_ignored_is_found_with_a_counterexample(monkeypatch):
    seed_gate(monkeypatch, lambda t: replace(t, hold_ms=0))
    bad = failed(run_check("safety.airdeck.properties"))
    assert "SAFE-CMD-HOLD" in bad["gate_streams"].found["error"]
    assert bad["gate_streams"].found["counterexample"]


def test_a_safe_stop_lock_dropped_on_restart_is_found(monkeypatch):
    monkeypatch.setattr(SafeStopLock, "is_locked", lambda self: False)
    bad = failed(run_check("safety.airdeck.properties"))
    e = bad["safe_stop_survives_restart"]
    assert "SAFE-SAFE-STOP-LOCK" in e.found["error"] and e.found["counterexample"]
    assert set(bad) == {"safe_stop_survives_restart"}  # the other properties still hold


def test_a_threshold_ignored_is_found(monkeypatch):
    seed_gate(monkeypatch, lambda t: replace(t, threshold=0.0))
    bad = failed(run_check("safety.airdeck.properties"))
    assert any("SAFE-CMD-THRESHOLD" in e.found["error"] or "SAFE-CMD-PRESENCE" in e.found["error"]
               for e in bad.values())


def test_a_bus_that_forgets_the_pause_rule_fails_director_ownership(monkeypatch):
    from lume.runtime.director import _ownership as own

    real = own.load()
    rules = real.rules.model_copy(update={"paused_blocks_commands": []})  # a seeded bug: cues while paused
    bent = replace(real, table=real.table.model_copy(update={"rules": rules}))
    monkeypatch.setattr(own, "load", lambda: bent)
    bad = failed(run_check("director.ownership.properties"))
    e = bad["command_sequences"]
    assert "while session.phase is paused" in e.found["error"] and e.found["counterexample"]


def test_a_receiver_that_skips_the_reserved_bytes_fails_lumf_codec(monkeypatch):
    from lume.runtime.lumf import _codec

    monkeypatch.setattr(_codec, "_ORDER", [r for r in _codec._ORDER if r is not _codec._reserved_nonzero])
    bad = failed(run_check("lumf.codec.properties"))
    e = bad["each_invalid_class_refused"]
    assert "reserved_nonzero" in e.found["error"] and e.found["counterexample"]


def test_fusion_that_bursts_on_depth_energy_fails_bodytruth(monkeypatch):
    from lume.runtime.bodytruth import _fusion

    real = _fusion.Fusion._energy

    def energy(self, fresh):  # a seeded bug: depth shimmer counted as motion
        counted = [(rd.confidence, float(rd.energy)) for rd in fresh if rd.energy is not None]
        return (max(e for _, e in counted), len(counted)) if counted else real(self, fresh)

    monkeypatch.setattr(_fusion.Fusion, "_energy", energy)
    bad = failed(run_check("safety.bodytruth.properties"))
    assert any("SAFE-BURST-NONDESTRUCTIVE" in e.found["error"] for e in bad.values())


def test_a_property_run_writes_nothing_in_the_folder_it_runs_from(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_check("lumf.codec.properties").status == "pass"
    assert list(tmp_path.iterdir()) == []  # hypothesis keeps its files in the verifiers' cache folder
