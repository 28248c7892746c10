"""replay.route_smoke: the recorded sessions of a root replay through fusion and the real gate,
a Mac4 gesture is refused, and a dispatch the label table or the manifest does not allow fails."""
from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import lume.runtime.airdeck as airdeck
from lume.fixtures import REHEARSALS_DIR, route_smoke_root
from lume.fixtures._airdeck_rehearsal import SESSION
from lume.runtime.core import get
from lume.verifiers._prop_airdeck import rule_tables
from lume.verifiers._runner import run
from lume.verifiers._strategies import T0, frames_for, held

CHECK = "replay.route_smoke"


def check(root: Path, tmp_path: Path):
    [result] = run(root, only=[CHECK], cache_folder=tmp_path / "cache").checks
    return result


def lines(records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def session_root(tmp_path: Path, events, frames, manifest=None) -> Path:
    root = tmp_path / "root"
    folder = root / "rehearsal"
    folder.mkdir(parents=True)
    (folder / "gestures.jsonl").write_text(lines(events))
    (folder / "recorded.bodytruth.jsonl").write_text(lines(frames))
    if manifest is not None:
        (folder / "promoted_gestures.json").write_text(json.dumps(manifest))
    return root


def test_the_fixture_rehearsal_replays_with_its_dispatches_and_the_mac4_refusal(tmp_path):
    result = check(route_smoke_root(), tmp_path)
    assert result.status == "pass", [e.message for e in result.evidence]
    [e] = [e for e in result.evidence if e.file == f"{REHEARSALS_DIR}/{SESSION}"]
    found = e.found
    assert [d["command"] for d in found["dispatched"]] == ["d1_play_pause", "safe_stop_rehearsal"]
    assert found["refusals_by_machine"]["Mac4"] == {"SAFE-NEVER-COMMAND": found["refusals_by_machine"]["Mac4"]["SAFE-NEVER-COMMAND"]}
    assert found["refusals_by_machine"]["Mac4"]["SAFE-NEVER-COMMAND"] > 0
    assert {"SAFE-CMD-HOLD", "SAFE-SAFE-STOP-LOCK"} <= set(found["refusals_by_invariant"])
    assert found["time_per_mode_ms"]["gesture_confirmed"] > 0 and found["body"].startswith("observations fused")


def test_a_root_without_gesture_sessions_leaves_the_check_out(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(route_smoke_root(), root, ignore=shutil.ignore_patterns(REHEARSALS_DIR))
    result = run(root, cache_folder=tmp_path / "cache")
    assert CHECK in {i for i, _ in result.not_applicable}


def test_a_dispatch_of_a_candidate_label_fails_the_check(tmp_path, monkeypatch):
    loop = held("loop_toggle", T0, 900, deck=1)
    root = session_root(tmp_path, loop, frames_for(loop))
    assert check(root, tmp_path).status == "pass"  # the real gate refuses the candidate
    promoted = airdeck.Rules.from_data(**rule_tables(all_promoted=True))  # a seeded bug: candidates dispatch
    monkeypatch.setattr(airdeck.Rules, "from_contracts", classmethod(lambda cls: promoted))
    result = check(root, tmp_path)
    assert result.status == "fail"
    assert any("loop_toggle" in e.message and "not a promoted command label" in e.message
               for e in result.evidence if e.ok is False)


def test_a_dispatch_outside_the_promoted_manifest_fails_the_check(tmp_path, monkeypatch):
    manifest = copy.deepcopy(get("airdeck_promoted_gestures.v1").examples[0])
    manifest["gestures"] = [g for g in manifest["gestures"] if g["label"] != "left_hand_raise"]
    left = held("left_hand_raise", T0, 900)
    root = session_root(tmp_path, left, frames_for(left), manifest)
    ok = check(root, tmp_path)
    assert ok.status == "pass" and ok.evidence[0].found["dispatches"] == 0
    assert ok.evidence[0].found["refusals_by_invariant"].get("SAFE-CMD-PROMOTED")

    class IgnoresManifest(airdeck.DispatchGate):  # a seeded bug: the manifest is never read
        def __init__(self, authority, rules=None, manifest=None, **kw):
            super().__init__(authority, rules, None, **kw)

    monkeypatch.setattr(airdeck, "DispatchGate", IgnoresManifest)
    result = check(root, tmp_path)
    assert result.status == "fail"
    assert any("not in the promoted manifest" in e.message for e in result.evidence if e.ok is False)


def test_an_unreadable_session_stream_fails_naming_the_file(tmp_path):
    left = held("left_hand_raise", T0, 900)
    root = session_root(tmp_path, left, frames_for(left))
    with open(root / "rehearsal" / "gestures.jsonl", "a") as fh:
        fh.write('{"timestamp_ms": "soon"}\n')
    result = check(root, tmp_path)
    assert result.status == "fail"
    assert "gestures.jsonl" in result.evidence[0].message

