"""The verifiers over the route-smoke fixtures and over copies with one fault seeded each."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from verify_roots import build_root, copy_root, settle, tree_digest

from lume.runtime.core import held, invariants, status_of, violated
from lume.verifiers import Verifier, all_verifiers
from lume.verifiers._predicate import build_predicate, verdicts
from lume.verifiers._runner import default_root, run

FIXTURES = default_root()
pytestmark = pytest.mark.skipif(not (FIXTURES / "index.json").is_file(),
                                reason=f"route-smoke fixtures not built: {FIXTURES}")
BUNDLE = "_processed/20260528-weighted-freestyle-01"
VIDEO = f"{BUNDLE}/sources/mac4_tier0/raw/video/webcam_main.mp4"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_root(FIXTURES, tmp_path / "root")


def check(root: Path, check_id: str, **kw):
    return {c.id: c for c in run(root, only=[check_id], **kw).checks}[check_id]


def edit_json(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))


def failures(result) -> list:
    return [e for e in result.evidence if e.ok is False]


def test_fixtures_are_green_and_unchanged():
    before = tree_digest(FIXTURES)
    result = run(FIXTURES)
    live = {n.id for n in result.not_run if n.kind == "no_rig"}  # the rig probes: no --rig given
    assert live == {v for v in all_verifiers() if v.startswith("rig.")} and not result.not_applicable
    assert {c.id: c.status for c in result.checks} == {v: "pass" for v in all_verifiers() if v not in live}
    assert tree_digest(FIXTURES) == before
    names = [s["name"] for s in result.subjects]
    assert "index.json" in names and any(n.endswith("bundle.json") for n in names)
    predicate = build_predicate(result.root, result.checks)
    assert predicate["verdicts"]["overall"] == "green"


def test_every_cited_invariant_exists():
    known = set(invariants())
    for v in all_verifiers().values():
        assert set(v.invariants) <= known, v.id


def test_built_root_is_green_and_unchanged(tmp_path):
    root = build_root(tmp_path / "built")
    before = tree_digest(root)
    assert all(c.status == "pass" for c in run(root).checks)
    assert tree_digest(root) == before


def test_changed_byte_fails_storage_integrity(root):
    video = root / VIDEO
    data = bytearray(video.read_bytes())
    data[len(data) // 2] ^= 0xFF
    video.write_bytes(bytes(data))
    result = check(root, "storage.integrity")
    assert result.status == "fail"
    bad = [e for e in failures(result) if e.file == VIDEO]
    assert bad and all("sha256" in e.message for e in bad)
    assert all(e.expected != e.found for e in bad)
    assert any("uploaded archive member" in e.message for e in bad)  # source changed since upload


def test_missing_file_fails_storage_integrity(root):
    (root / BUNDLE / "sources/mac4_tier0/raw/labels/labels.jsonl").unlink()
    result = check(root, "storage.integrity")
    assert result.status == "fail"
    assert any("missing" in e.message and str(e.expected).endswith("labels.jsonl") for e in failures(result))


def test_wrong_size_fails_storage_integrity(root):
    def grow(doc):
        doc["sources"][0]["files"][0]["byte_size"] += 1
    edit_json(root / BUNDLE / "bundle.json", grow)
    result = check(root, "storage.integrity")
    wrong = [e for e in failures(result) if "byte size" in e.message]
    assert result.status == "fail" and len(wrong) == 1
    assert wrong[0].expected == wrong[0].found + 1


def test_orphan_folder_fails_storage_integrity(root):
    (root / "_processed" / "20260601-stray").mkdir()
    (root / "_processed" / "20260601-stray" / "video.mp4").write_bytes(b"x")
    result = check(root, "storage.integrity")
    assert result.status == "fail"
    assert [e.file for e in failures(result) if "orphan" in e.message] == ["_processed/20260601-stray"]


def test_deleted_incoming_archive_fails_storage_integrity(root):
    archive = next((root / "_incoming").glob("*.zip"))
    archive.unlink()
    result = check(root, "storage.integrity")
    assert result.status == "fail"
    assert "SAFE-INCOMING-KEPT" in result.invariants
    assert any("missing from _incoming" in e.message for e in failures(result))


def test_unindexed_incoming_archive_fails(root):
    (root / "_incoming" / "20260602-late.tar.gz").write_bytes(b"late")
    result = check(root, "storage.integrity")
    assert any(e.file == "_incoming/20260602-late.tar.gz" for e in failures(result))


def test_derived_output_over_a_source_fails(root):
    def overwrite(doc):
        doc["derived"] = [{"derived_id": "evil_001", "source_id": "mac4_tier0", "machine": "Mac5",
                           "tool": "x", "path": "sources/mac4_tier0/session.json",
                           "sampling_policy": "not_applicable", "status": "complete"}]
    edit_json(root / BUNDLE / "bundle.json", overwrite)
    result = check(root, "storage.integrity")
    messages = {e.message for e in failures(result)}
    assert "derived output outside derived/" in messages
    assert "derived output overwrites a source" in messages


def test_index_disagreement_and_counts_fail(root):
    edit_json(root / "index.json", lambda d: d["counts"].update(total=d["counts"]["total"] + 1))
    result = check(root, "storage.integrity")
    assert any(e.field == "counts.total" for e in failures(result))


def test_non_k11_authority_claims_fail(root):
    edit_json(root / BUNDLE / "bundle.json",
              lambda d: d["safety"].update(mac4_can_command_rekordbox=True))
    edit_json(root / BUNDLE / "derived/mac4_first/device_topology.json",
              lambda d: d.update(command_authority_changed=True))
    from lume.runtime.core import get

    config = dict(get("machine_config.v1").examples[1], can_command_rekordbox=True)
    (root / "_logs" / "mac5_config.json").write_text(json.dumps(config))
    state = dict(get("mac4_live_output_state.v1").examples[0], mac4_sends_rekordbox_commands=True)
    (root / BUNDLE / "derived/mac4_first/live_output_state.json").write_text(json.dumps(state))
    result = check(root, "authority.k11_only.static")
    assert result.status == "fail"
    bad = {(e.file, e.field): (e.expected, e.found) for e in failures(result)}
    assert bad[(f"{BUNDLE}/bundle.json", "safety.mac4_can_command_rekordbox")] == (False, True)
    assert bad[(f"{BUNDLE}/derived/mac4_first/device_topology.json", "command_authority_changed")] == (False, True)
    assert bad[("_logs/mac5_config.json", "can_command_rekordbox")] == (False, True)
    assert bad[(f"{BUNDLE}/derived/mac4_first/live_output_state.json", "mac4_sends_rekordbox_commands")] == (False, True)
    # the same claims also break their contracts (consts), so conformance is red too
    assert check(root, "schema.conformance").status == "fail"


def test_own_machine_config_is_checked(root, tmp_path, monkeypatch):
    from lume.runtime.core import get

    config = dict(get("machine_config.v1").examples[1], can_command_rekordbox=True)
    (tmp_path / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("LUME_CONFIG", str(tmp_path / "config.json"))
    result = check(root, "authority.k11_only.static")
    assert result.status == "fail"
    assert any("configuration" in e.message or e.file.endswith("config.json") for e in failures(result))


def test_unknown_label_fails_label_table(root):
    def add(doc):
        doc["labels"].append({"label": "moonwalk", "source_id": "mac4_tier0",
                              "category": "expressive_motion", "t_start_s": 1.0, "t_end_s": 2.0})
        doc["labels"][0]["category"] = "presence"  # wrong category for still_recovery_baseline
    edit_json(root / BUNDLE / "bundle.json", add)
    result = check(root, "labels.table")
    assert result.status == "fail"
    unknown = [e for e in failures(result) if e.found == "moonwalk"]
    assert unknown and unknown[0].file == f"{BUNDLE}/bundle.json" and "labels[" in unknown[0].field
    assert any(e.expected == "stillness" and e.found == "presence" for e in failures(result))


def test_unknown_label_in_jsonl_names_the_line(root):
    labels = root / BUNDLE / "sources/mac4_tier0/raw/labels/labels.jsonl"
    first = json.loads(labels.read_text().splitlines()[0])
    labels.write_text(labels.read_text() + json.dumps(dict(first, label="headspin")) + "\n")
    result = check(root, "labels.table")
    bad = [e for e in failures(result) if e.found == "headspin"]
    lines = len(labels.read_text().splitlines())
    assert bad and bad[0].field.startswith(f"line {lines}:")


def test_schema_violation_and_unreadable_json_fail_conformance(root):
    edit_json(root / "index.json", lambda d: d.update(machine="Mac4"))
    (root / "_logs" / "broken.json").write_text("{not json")
    result = check(root, "schema.conformance")
    files = {e.file for e in failures(result)}
    assert {"index.json", "_logs/broken.json"} <= files


def test_a_check_that_raises_is_inconclusive_never_pass(root):
    def boom(ctx):
        yield held("fine so far")
        raise RuntimeError("disk vanished")

    result = Verifier("test.boom", "raises", (), "data", boom).run(None)
    assert result.status == "inconclusive"
    assert "disk vanished" in result.evidence[-1].message
    assert status_of([held("a"), violated("b")]) == "fail"
    assert status_of([]) == "inconclusive"


def test_empty_root_is_red(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(empty)
    assert {c.status for c in result.checks} <= {"inconclusive", "pass"}
    assert any(c.status == "inconclusive" for c in result.checks)
    assert verdicts(result.checks)["overall"] == "red"


def test_partial_run_is_never_green(root):
    result = run(root, only=["storage.integrity"])
    assert result.checks[0].status == "pass"
    v = verdicts(result.checks)
    assert v["overall"] == "red" and v["rig_safe"] is False and v["data_sound"] is True


def test_quick_mode_trusts_unchanged_files_only(root):
    settle(root)  # what was read of a file that had just changed is read again (test_digests.py)
    full = run(root)
    assert full.context.cache.hashed == len(full.context.files)
    quick = run(root, quick=True)
    assert quick.context.cache.hashed == 0 and quick.context.cache.trusted == len(quick.context.files)
    assert [c.status for c in quick.checks] == [c.status for c in full.checks]
    # same size, same mtime, one byte changed: ctime moved, so quick mode re-hashes and sees it
    video = root / VIDEO
    st = video.stat()
    data = bytearray(video.read_bytes())
    data[10] ^= 0xFF
    video.write_bytes(bytes(data))
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = run(root, quick=True, only=["storage.integrity"])
    assert again.context.cache.hashed == 1
    assert again.checks[0].status == "fail"


def test_every_label_field_names_a_property_of_its_contract():
    import re

    from lume.runtime.core import get
    from lume.runtime.core._inline import self_contained

    def resolve(schema, node):
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].split("/")[-1]]
        for sub in node.get("allOf", []):
            node = {**node, **resolve(schema, sub)}
        return node

    for field in get("labels.v1").table_data()["label_fields"]:
        schema = self_contained(get(field["contract"]))
        node = schema
        for name, each in re.findall(r"([A-Za-z0-9_]+)(\[\*\])?", field["path"]):
            node = resolve(schema, node)["properties"][name]
            if each:
                node = resolve(schema, node)["items"]
