"""bundle.layout (issue 15): bundle_layout.v1 enforced on every bundle of a root."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lume.runtime.core import InputError
from lume.runtime.storage import register_derived
from lume.verifiers._runner import default_root, run

MAIN = "_processed/20260528-weighted-freestyle-01"
SECOND = "_processed/20260529-route-smoke-02"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return Path(shutil.copytree(default_root(), tmp_path / "root"))


def layout_check(root: Path, tmp_path: Path):
    return run(root, only=["bundle.layout", "storage.integrity"], cache_folder=tmp_path / "cache").checks


def test_the_route_smoke_bundles_follow_the_layout(root: Path, tmp_path: Path) -> None:
    layout, integrity = layout_check(root, tmp_path)
    assert layout.status == "pass" and integrity.status == "pass"
    assert layout.warnings == []


def test_a_missing_device_topology_sidecar_fails(root: Path, tmp_path: Path) -> None:
    """Issue 15: a bundle missing its device-topology sidecar verified GREEN."""
    shutil.rmtree(root / SECOND / "derived/mac4_first")
    layout, _ = layout_check(root, tmp_path)
    assert layout.status == "fail"
    assert [(e.file, e.expected) for e in layout.failures] == [
        (f"{SECOND}/derived/mac4_first", ["derived/mac4_first/device_topology.json"])]


def test_a_stray_file_is_a_warning_that_names_it(root: Path, tmp_path: Path) -> None:
    (root / MAIN / "notes.txt").write_text("call the venue\n")
    (root / MAIN / "sources/mocopi/calibration.bin").write_bytes(b"\x00\x01")
    layout, _ = layout_check(root, tmp_path)
    assert layout.status == "pass"
    assert sorted(e.file for e in layout.warnings) == [f"{MAIN}/notes.txt", f"{MAIN}/sources/mocopi/calibration.bin"]
    assert all("stray file" in e.message for e in layout.warnings)


def test_a_stray_file_fails_when_the_layout_says_so(root: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import lume.verifiers._bundle_layout as check

    real = check.layout
    monkeypatch.setattr(check, "layout", lambda: {**real(), "unknown_files": "failure"})
    (root / MAIN / "notes.txt").write_text("call the venue\n")
    layout, _ = layout_check(root, tmp_path)
    assert layout.status == "fail" and [e.file for e in layout.failures] == [f"{MAIN}/notes.txt"]


def test_a_sidecar_out_of_place_fails_naming_where_it_belongs(root: Path, tmp_path: Path) -> None:
    """Issue 15: a sidecar inside a Mac4 archive landed under sources/mac4_tier0/derived/…"""
    wrong = root / MAIN / "sources/mac4_tier0/derived/mac4_first/device_topology.json"
    wrong.parent.mkdir(parents=True)
    shutil.copyfile(root / MAIN / "derived/mac4_first/device_topology.json", wrong)
    layout, _ = layout_check(root, tmp_path)
    assert layout.status == "fail"
    [bad] = layout.failures
    assert bad.file == f"{MAIN}/sources/mac4_tier0/derived/mac4_first/device_topology.json"
    assert bad.expected == f"{MAIN}/derived/mac4_first/device_topology.json" and "out of place" in bad.message


def test_unregistered_derived_outputs_fail_until_they_are_registered(root: Path, tmp_path: Path) -> None:
    """Issue 15: template and AirDeck outputs were never registered, so nothing checksummed them."""
    names = ["gesture_templates.json", "gesture_windows.jsonl", "session_summary.md", "timeline.csv"]
    for name in names:
        out = root / MAIN / "derived/templates" / name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(f"{name}\n")
    layout, _ = layout_check(root, tmp_path)
    assert layout.status == "fail"
    assert sorted(e.file for e in layout.failures) == [f"{MAIN}/derived/templates/{n}" for n in sorted(names)]
    assert all("not registered" in e.message for e in layout.failures)
    entry = register_derived(root / MAIN, [f"derived/templates/{n}" for n in names], source_id="mac4_tier0")
    assert entry["derived_id"] == "templates_001" and entry["tool"] == "lume templates build"
    assert entry["machine"] == "K11" and entry["path"] == "derived/templates/gesture_templates.json"
    layout, integrity = layout_check(root, tmp_path)
    assert layout.status == "pass" and integrity.status == "pass"
    # registered, the outputs are checksummed: a changed byte turns storage.integrity red
    (root / MAIN / "derived/templates/timeline.csv").write_text("t,lab3l\n")
    _, integrity = layout_check(root, tmp_path)
    assert integrity.status == "fail"
    assert any(e.file.endswith("timeline.csv") for e in integrity.failures)


def test_registering_twice_replaces_the_entry(root: Path) -> None:
    out = root / MAIN / "derived/templates/timeline.csv"
    out.parent.mkdir(parents=True)
    out.write_text("a\n")
    first = register_derived(root / MAIN, ["derived/templates/timeline.csv"])
    out.write_text("b\n")
    again = register_derived(root / MAIN, ["derived/templates/timeline.csv"])
    doc = json.loads((root / MAIN / "bundle.json").read_text())
    assert [d["derived_id"] for d in doc["derived"] if d["derived_type"] == "templates"] == [first["derived_id"]]
    assert again["outputs"][0]["sha256"] != first["outputs"][0]["sha256"]


def test_only_files_of_one_derived_folder_can_be_registered(root: Path) -> None:
    before = (root / MAIN / "bundle.json").read_bytes()
    for outputs in (["sources/mac4_tier0/session.json"], ["derived/templates/missing.csv"], []):
        with pytest.raises(InputError):
            register_derived(root / MAIN, outputs)
    assert (root / MAIN / "bundle.json").read_bytes() == before


def test_an_instance_folder_with_a_bad_name_is_stray(root: Path, tmp_path: Path) -> None:
    pose = next((root / MAIN / "sources/k11_pose_coach").iterdir())
    shutil.copytree(pose, pose.parent / "bad name!")
    layout, _ = layout_check(root, tmp_path)
    assert any("bad name!" in e.file for e in layout.warnings)


def test_templates_and_promotion_register_what_they_write(root: Path, tmp_path: Path) -> None:
    """The analyzer and `lume promote` record their outputs in bundle.json derived[] through
    storage's one update function; their binding to the bundle survives that registration."""
    from lume.runtime.templates import build_templates, promote

    bundle = root / MAIN
    build_templates(bundle)
    promote(bundle, visual=True)  # refuses when the templates are stale against the bundle
    doc = json.loads((bundle / "bundle.json").read_text())
    registered = {o["path"] for d in doc["derived"] for o in d.get("outputs") or []}
    assert {"derived/templates/gesture_templates.json", "derived/templates/gesture_windows.jsonl",
            "derived/templates/session_summary.md", "derived/templates/timeline.csv",
            "derived/templates/timeline.png", "derived/templates/visual_templates.json"} <= registered
    layout, integrity = layout_check(root, tmp_path)
    assert layout.status == "pass", [e.message for e in layout.failures]
    assert integrity.status == "pass", [e.message for e in integrity.failures]
