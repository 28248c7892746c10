"""Freshness as contract data: the evidence_freshness.v1 table and the one comparison with the clock."""
from __future__ import annotations

import math

import pytest

from lume.generated.constants import FRESHNESS_EVIDENCE, SAFE_EVIDENCE_FRESH, SAFE_MAC5_GATE
from lume.runtime.core import evidence_freshness, freshness, get, limit, parameters, rfc3339

NOW = 1_790_000_000.0  # a fixed clock for every test here


def test_every_row_names_a_contract_that_declares_its_time_field():
    for row in evidence_freshness().evidence:
        schema = get(row.contract).raw
        assert row.field in schema["properties"], (row.evidence, row.contract, row.field)


def test_rows_are_unique_and_generated_as_constants():
    names = [r.evidence for r in evidence_freshness().evidence]
    assert len(names) == len(set(names)) and tuple(names) == FRESHNESS_EVIDENCE


def test_the_mac5_gate_values_kept_for_old_readers_agree_with_the_table():
    gate = parameters(SAFE_MAC5_GATE)
    row = limit(gate["freshness"])
    assert gate["max_age_s"] == row.max_age_s and gate["max_clock_skew_s"] == row.skew_s


def test_the_invariant_cites_the_table():
    assert parameters(SAFE_EVIDENCE_FRESH)["table"] == get("evidence_freshness.v1").id


def test_fresh_evidence_counts():
    f = freshness("mrt2_proof", {"created_at": rfc3339(NOW - 3600)}, now=NOW, source="proof.json")
    assert f.fresh and f.age_s == pytest.approx(3600) and f.record()["fresh"] is True
    assert "within the 24.0 h limit" in f.describe()


def test_stale_evidence_names_field_time_limit_and_contract():
    half_year = rfc3339(NOW - 183 * 86400)
    f = freshness("mrt2_proof", {"created_at": half_year}, now=NOW, source="proof.json")
    assert not f.fresh
    assert f.problem == (f"proof.json: stale: created_at {half_year} is 183.0 d old, older than the "
                         f"24.0 h limit [mrt2_browser_proof.v1; mrt2_proof in evidence_freshness.v1, "
                         f"SAFE-EVIDENCE-FRESH]")


def test_future_dated_evidence_beyond_the_skew_fails():
    ahead = rfc3339(NOW + 3600)
    f = freshness("mac4_live_state", {"generated_at": ahead}, now=NOW)
    assert not f.fresh and "dated in the future, 60 min ahead" in f.problem
    assert "5 min clock-skew allowance" in f.problem
    assert freshness("mac4_live_state", {"generated_at": rfc3339(NOW + 60)}, now=NOW).fresh


def test_a_row_may_have_its_own_skew():
    lim = limit("gesture_event_live")
    assert lim.max_age_s == 1.0 and lim.skew_s == 1.0
    f = freshness("gesture_event_live", {"timestamp_ms": int((NOW + 5) * 1000)}, now=NOW)
    assert not f.fresh and "1 s clock-skew allowance" in f.problem and "(20" in f.problem


@pytest.mark.parametrize(("doc", "words"), [
    ({}, "created_at_unix is missing"),
    ({"created_at_unix": "yesterday"}, "not a finite number"),
    ({"created_at_unix": True}, "not a finite number"),
    ("not even an object", "is missing"),
])
def test_missing_or_unreadable_time_fails(doc, words):
    f = freshness("device_topology", doc, now=NOW)
    assert not f.fresh and words in f.problem and "device_topology_mac4_first.v1" in f.problem


def test_unreadable_rfc3339_and_naive_times_fail():
    assert "not an RFC 3339 time" in freshness("mrt2_proof", {"created_at": "soon"}, now=NOW).problem
    assert "needs `Z` or an offset" in freshness("mrt2_proof", {"created_at": "2026-05-01T10:00:00"},
                                                   now=NOW).problem


def test_an_operator_limit_overrides_the_row_and_inf_checks_only_the_skew():
    old = {"generated_at": rfc3339(NOW - 10 * 86400)}
    assert not freshness("readiness_report", old, now=NOW).fresh
    assert freshness("readiness_report", old, now=NOW, max_age_s=math.inf).fresh
    assert not freshness("readiness_report", old, now=NOW, max_age_s=3600).fresh


def test_unknown_evidence_is_a_key_error_naming_the_table():
    with pytest.raises(KeyError, match="evidence_freshness.v1"):
        limit("horoscope")
