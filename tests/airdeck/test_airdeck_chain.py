"""The chain live mode follows (issue 13): record -> promote (signed) -> dry run (signed) -> live
(fresh events only, K11 only). Each attack of the issue, against real signed files and a real
mido socket port on loopback: nothing is ever sent, and the refusal says why in one line."""
from __future__ import annotations

import base64
import hashlib
import json
import time

import pytest
from airdeck_helpers import T0, event, frame, held, rules
from airdeck_work import PLAY_D1, Work, config, manifest, mixed, now_ms, received, write_jsonl

from lume.runtime.airdeck import (
    Authority,
    DispatchGate,
    PromotedManifest,
    dry_run,
    live_refusal,
    load_manifest,
    sign_dry_run,
    sign_manifest,
)
from lume.runtime.core import SigningKey, decode_statement, rfc3339

LIVE_NOW = "SAFE-LIVE-NOW"


@pytest.fixture
def work(tmp_path):
    w = Work(tmp_path, held("left_hand_raise", T0, 1500))
    assert w.dry_run().exit_code == 0
    return w


def decisions(work) -> list[dict]:
    return [json.loads(x) for x in (work.root / "live.decisions.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------------------- the manifest
def test_a_hand_written_manifest_is_refused(work, server):
    """The contract's own example, trimmed to left_hand_raise, evidence digests made up."""
    work.write_manifest(manifest(), signed=False)
    assert work.dry_run().exit_code == 0  # a dry run may read it, and says so in its report
    assert work.predicate()["promoted_manifest"]["signature"]["status"] == "unsigned"
    r = work.live(server.port)
    assert r.exit_code == 1 and "refusing live mode" in r.output
    assert "manifest is unsigned" in r.output and "hand-written or edited manifest is never live" in r.output
    assert received(server) == b""


def test_an_edited_manifest_is_refused(work, server):
    env = json.loads(work.manifest.read_text())
    stmt = decode_statement(env)
    stmt["predicate"]["gestures"][0]["threshold"] = 0.99  # stricter, even: any edit breaks the seal
    env["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    work.manifest.write_text(json.dumps(env))
    r = work.live(server.port)
    assert r.exit_code == 1 and "manifest is invalid" in r.output and "bad signature" in r.output
    assert received(server) == b""


def test_a_manifest_signed_by_an_untrusted_key_is_refused(work, server):
    work.write_manifest(manifest(), key=SigningKey.generate())
    assert work.dry_run().exit_code == 0
    r = work.live(server.port)
    assert r.exit_code == 1 and "manifest is untrusted" in r.output and "untrusted key" in r.output
    assert received(server) == b""


def test_evidence_changed_after_promotion_is_refused(tmp_path, server):
    """A bundle-shaped folder: the manifest in derived/airdeck/, its evidence beside it."""
    bundle = tmp_path / "bundle"
    airdeck = bundle / "derived" / "airdeck"
    airdeck.mkdir(parents=True)
    clip = bundle / "sources" / "k11_pose_coach" / "s1" / "metadata" / "training.jsonl"
    clip.parent.mkdir(parents=True)
    clip.write_text('{"clip": 1}\n')
    work = Work(airdeck, held("left_hand_raise", T0, 1500))
    doc = manifest()
    doc["source_bundle"]["path"] = str(tmp_path / "moved-away")  # not reachable: found from the file
    rel = clip.relative_to(bundle).as_posix()
    work.write_manifest(doc, evidence=[{"name": rel, "digest": {"sha256": hashlib.sha256(clip.read_bytes()).hexdigest()}},
                                       {"name": "derived/airdeck/gone.json", "digest": {"sha256": "0" * 64}}])
    assert work.manifest.parent == airdeck
    assert work.dry_run().exit_code == 0
    assert work.live(server.port).exit_code == 0 and received(server) == PLAY_D1  # unchanged: live
    clip.write_text('{"clip": 2}\n')
    r = work.live(server.port)
    assert r.exit_code == 1 and f"{rel} changed after promotion" in r.output
    assert received(server) == b""


# ---------------------------------------------------------------------------- the dry-run report
def test_a_dry_run_report_for_another_manifest_is_refused(work, server):
    other = manifest()
    other["generated_at"] = rfc3339(time.time())
    work.write_manifest(other)  # signed and trusted, but the report ran against the first one
    r = work.live(server.port)
    assert r.exit_code == 1 and "was run against manifest sha256" in r.output
    assert received(server) == b""


def test_an_unsigned_dry_run_report_is_refused(work, server):
    dry_run(work.events, report=work.report, bodytruth=work.frames,
            manifest=load_manifest(work.manifest), key=None)  # the library without a key
    r = work.live(server.port)
    assert r.exit_code == 1 and "dry-run report is not signed" in r.output
    assert received(server) == b""


def test_a_stale_dry_run_report_is_refused(work, server):
    report = work.predicate()
    report["generated_at"] = rfc3339(time.time() - 2 * 86400)
    work.report.write_text(json.dumps(sign_dry_run(report, work.key)))
    r = work.live(server.port)
    assert r.exit_code == 1 and "stale: generated_at" in r.output and "24.0 h limit" in r.output
    assert "airdeck_dry_run_report.v2" in r.output
    assert received(server) == b""


def test_a_dry_run_report_by_an_untrusted_key_is_refused(work, server):
    work.report.write_text(json.dumps(sign_dry_run(work.predicate(), SigningKey.generate())))
    r = work.live(server.port)
    assert r.exit_code == 1 and "untrusted key" in r.output
    assert received(server) == b""


# ---------------------------------------------------------------------------- live means now
def test_a_recorded_stream_never_drives_a_live_port(work, server):
    """The attack of issue 13: a recording months old sent 90 0B 7F to a MIDI port."""
    r = work.live(server.port, events=work.stream)  # the recorded chain the dry run replayed
    assert r.exit_code == 0, r.output
    assert received(server) == b""
    log = decisions(work)
    assert log and {x["decision"] for x in log} == {"refused"}
    assert {x["invariant"] for x in log} == {LIVE_NOW}
    assert log[0]["reason"].startswith("live event: stale: timestamp_ms ")
    assert "older than the 1 s limit" in log[0]["reason"]
    assert "a recorded stream can drive a dry run, never a live port" in log[0]["reason"]
    # the same recording still drives a dry run
    assert work.lume("airdeck", "run", "--events", work.stream, "--log", work.root / "dry.jsonl",
                     "--json").exit_code == 0


def test_a_future_dated_stream_is_refused(work, server):
    ahead = write_jsonl(work.root / "ahead.jsonl", mixed(held("left_hand_raise", now_ms() + 60_000, 500)))
    r = work.live(server.port, events=ahead)
    assert r.exit_code == 0 and received(server) == b""
    assert {x["invariant"] for x in decisions(work)} == {LIVE_NOW}
    assert "dated in the future" in decisions(work)[0]["reason"]


def test_fresh_events_with_a_stale_frame_are_refused():
    clock = 1_790_000_000.0
    gate = DispatchGate(Authority("K11", True), rules(), dry_run=False, clock=lambda: clock)
    ts = int(clock * 1000)
    gate.observe(frame(ts - 5_000))  # a frame from five seconds ago, the only one there is
    d = gate.decide(event(ts))
    assert d.invariant == LIVE_NOW and d.reason.startswith("live BodyTruth frame: stale: timestamp ")
    assert "body_truth.v0" in d.reason


def test_the_gate_is_pure_the_clock_is_injected():
    """Same stream, same decisions: in a dry run the events' own time, live the given clock."""
    stream = mixed(held("left_hand_raise", T0, 800))
    dry = DispatchGate(Authority("K11", True), rules(), dry_run=True)
    live_then = DispatchGate(Authority("K11", True), rules(), dry_run=False, clock=lambda: T0 / 1000 + 0.4)
    from lume.runtime.airdeck import run_stream

    assert [d.decision for d in run_stream(dry, stream)] == [d.decision for d in run_stream(live_then, stream)]
    assert any(d.dispatched for d in run_stream(DispatchGate(Authority("K11", True), rules()), stream))


# ---------------------------------------------------------------------------- the library refusal
def test_live_refusal_names_every_missing_link(tmp_path):
    r = rules()
    k11 = config()
    bare = PromotedManifest.from_data(manifest(), path=str(tmp_path / "m.json"))
    assert "manifest is unsigned" in live_refusal(k11, r, bare, None, trust=[])
    key = SigningKey.generate()
    path = tmp_path / "m.json"
    path.write_text(json.dumps(sign_manifest(manifest(), [], key)))
    signed = load_manifest(path, trust=[key.trust_entry()])
    assert signed.signed
    assert "no dry-run report" in live_refusal(k11, r, signed, None, trust=[key.trust_entry()])
    assert "SAFE-AUTHORITY-K11" in live_refusal(config("Mac4", False), r, signed, None)


def test_a_signed_manifest_copied_away_from_its_evidence_is_not_live(tmp_path):
    """Its signature still verifies, but nothing it names can be checked here: refused."""
    key = SigningKey.generate()
    path = tmp_path / "elsewhere" / "promoted_gestures.json"
    path.parent.mkdir()
    clip = {"name": "sources/k11_pose_coach_001/clip.mp4", "digest": {"sha256": "ab" * 32}}
    path.write_text(json.dumps(sign_manifest(manifest(), [clip], key)))
    signed = load_manifest(path, trust=[key.trust_entry()])
    assert signed.signed
    refusal = live_refusal(config(), rules(), signed, None, trust=[key.trust_entry()])
    assert "none of its 1 evidence file(s) could be checked" in refusal and "SAFE-SIGNED-EVIDENCE" in refusal
