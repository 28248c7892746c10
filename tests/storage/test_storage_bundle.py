"""Bundle manifests (lume bundle create), update_bundle, and the Pose Coach adapter."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner
from storage_helpers import (
    MAIN,
    POSE_COACH,
    POSE_SESSION,
    SECOND,
    arrived,
    put,
    session_members,
    tar_bytes,
    tree,
)

from lume.runtime.cli import main
from lume.runtime.core import iter_documents, validate_file
from lume.runtime.core._jsonl import InputError
from lume.runtime.core._time import fixed
from lume.runtime.storage import add_pose_coach, create_bundle, index_root, sha256_file, update_bundle


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def indexed(tmp_path: Path) -> Path:
    root = arrived(tmp_path)
    index_root(root, clock=fixed(1780000000))
    return root


@pytest.fixture
def pose_session(tmp_path: Path) -> Path:
    """A private copy of the Pose Coach fixture session."""
    dest = tmp_path / "pose-coach"
    shutil.copytree(POSE_COACH, dest)
    return dest / "sessions" / POSE_SESSION


def bundle_of(folder: Path) -> dict:
    return json.loads((folder / "bundle.json").read_text())


def all_valid(folder: Path) -> set[str]:
    results = [validate_file(p) for p in iter_documents([folder])]
    assert all(r.ok for r in results), [str(p) for r in results for p in r.problems]
    assert not [r.file for r in results if r.skipped]
    return {r.contract for r in results}


# --------------------------------------------------------------------------- create


def test_create_bundle_records_every_source_with_checksums_and_the_video_duration(indexed: Path) -> None:
    folder = create_bundle(indexed, MAIN, clock=fixed(1780000100))
    assert folder == indexed / "_processed" / MAIN
    doc = bundle_of(folder)
    assert doc["schema"] == "lume.rehearsal_bundle.v1" and doc["bundle_id"] == MAIN
    assert doc["created_at_unix"] == doc["updated_at_unix"] == 1780000100
    assert [s["source_id"] for s in doc["sources"]] == ["mac4_tier0", "motionmix", "mocopi"]
    mac4 = doc["sources"][0]
    assert mac4["path"] == "sources/mac4_tier0" and mac4["labels_path"] == "raw/labels/labels.jsonl"
    archive = indexed / "_incoming" / f"{MAIN}.tar.gz"
    assert mac4["sha256"] == sha256_file(archive) and mac4["byte_size"] == archive.stat().st_size
    assert mac4["archive_path"].endswith(f"_incoming/{MAIN}.tar.gz")
    cap = cv2.VideoCapture(str(folder / "sources/mac4_tier0/raw/video/webcam_main.mp4"))
    frames, fps = cap.get(cv2.CAP_PROP_FRAME_COUNT), cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    assert mac4["duration_s"] == pytest.approx(frames / fps, abs=1e-3) and mac4["duration_s"] == pytest.approx(3.0)
    for s in doc["sources"]:
        for f in s["files"]:
            p = folder / s["path"] / f["path"]
            assert sha256_file(p) == f["sha256"] and p.stat().st_size == f["byte_size"]
    assert doc["sources"][1]["timebase"] == "unix_millis" and doc["sources"][1]["machine"] == "MotionMix"
    labels = {(lb["label"], lb["category"]) for lb in doc["labels"]}
    assert ("wave_color", "expressive_motion") in labels and ("bad_false_reactive", "negative_false_reactive") in labels
    wave = next(lb for lb in doc["labels"] if lb["label"] == "wave_color")
    assert wave["end_unix"] - wave["start_unix"] == pytest.approx(1.0)
    point = next(lb for lb in doc["labels"] if lb["label"] == "bad_false_reactive")
    assert point["t_start_s"] == point["t_end_s"] == 2.6  # a marker without t_unix
    assert doc["safety"]["rekordbox_command_authority"] == "K11 only"
    for rel in ("README.md", "reports/bundle_summary.md", "reports/capture_quality.md", "reports/storage_integrity.md"):
        assert (folder / rel).is_file()
    assert "Insta360 Link, 320x240 at 15 fps" in (folder / "reports/capture_quality.md").read_text()
    assert all_valid(folder) >= {"rehearsal_bundle.v1", "mac4_session.v1", "mac4_label_record.v1"}


def test_create_is_safe_to_rerun_and_stamps_updated_at_only_on_change(indexed: Path) -> None:
    folder = create_bundle(indexed, SECOND, clock=fixed(100))
    before = tree(folder)
    create_bundle(indexed, SECOND, clock=fixed(200))
    assert tree(folder) == before  # same bytes, same mtimes
    create_bundle(indexed, SECOND, bundle_id="20260529-renamed", clock=fixed(300))
    doc = bundle_of(folder)
    assert doc["bundle_id"] == "20260529-renamed" and doc["created_at_unix"] == 100 and doc["updated_at_unix"] == 300
    create_bundle(indexed, SECOND, clock=fixed(400))  # the id given once is kept
    assert bundle_of(folder)["updated_at_unix"] == 300


def test_create_keeps_what_other_producers_added(indexed: Path, pose_session: Path) -> None:
    folder = create_bundle(indexed, MAIN, clock=fixed(100))
    add_pose_coach(folder, pose_session, clock=fixed(150))
    derived = {"derived_id": "sam3d_001", "derived_type": "sam3d", "source_id": "mac4_tier0", "machine": "Mac5",
               "tool": "SAM3DBody-cpp", "path": "derived/sam3d/summary.json",
               "sampling_policy": "label_windows_only", "status": "pending"}
    update_bundle(folder, lambda d: d["derived"].append(derived), clock=fixed(175))
    before = (folder / "bundle.json").read_bytes()
    create_bundle(indexed, MAIN, clock=fixed(200))
    assert (folder / "bundle.json").read_bytes() == before
    doc = bundle_of(folder)
    assert [s["source_id"] for s in doc["sources"]][-1] == "k11_pose_coach_001"
    assert [d for d in doc["derived"] if d["derived_type"] == "sam3d"] == [derived]
    assert doc["updated_at_unix"] == 175


def test_cli_create_and_bad_input(indexed: Path, tmp_path: Path) -> None:
    ok = run("bundle", "create", str(indexed), SECOND, "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["bundle"]["bundle_id"] == SECOND
    missing = run("bundle", "create", str(indexed), "no-such-session")
    assert missing.exit_code == 2 and "not a processed Mac4 Tier 0 session" in missing.output
    assert run("bundle", "create", str(tmp_path / "nowhere"), SECOND).exit_code == 2
    assert run("bundle", "create", str(indexed), SECOND, "--bundle-id", "bad id!").exit_code == 2


def test_invalid_session_json_names_the_file_and_contract_and_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "r"
    m = session_members("s")
    doc = json.loads(m["session.json"])
    doc["machine"] = "Mac5"
    m["session.json"] = json.dumps(doc).encode()
    put(root, "s.tar.gz", tar_bytes(m), members=m, session_id="s")
    index_root(root)
    result = run("bundle", "create", str(root), "s")
    assert result.exit_code == 2
    assert "session.json" in result.output and "$.machine" in result.output and "mac4_session.v1" in result.output
    assert not (root / "_processed/s/bundle.json").exists()


def test_update_bundle_refuses_an_invalid_result(indexed: Path) -> None:
    folder = create_bundle(indexed, SECOND, clock=fixed(100))
    before = (folder / "bundle.json").read_bytes()
    with pytest.raises(InputError, match="rehearsal_bundle.v1"):
        update_bundle(folder, lambda d: d["safety"].update(mac5_can_command_rekordbox=True))
    assert (folder / "bundle.json").read_bytes() == before
    assert update_bundle(folder, lambda d: None, clock=fixed(999))["updated_at_unix"] == 100


# --------------------------------------------------------------------------- Pose Coach


def test_pose_coach_reference_is_the_default_and_adding_twice_adds_one_entry(indexed: Path, pose_session: Path) -> None:
    folder = create_bundle(indexed, MAIN, clock=fixed(100))
    entry = add_pose_coach(folder, pose_session, clock=fixed(200))
    assert entry["source_id"] == "k11_pose_coach_001" and entry["storage"] == "reference"
    assert entry["manifest_path"] == str((pose_session / "manifest.json").resolve())
    assert entry["schema"] == "lume.pose_coach.training_session.v1"
    assert entry["review_video"] == "video/display-overlay.avi" and entry["raw_camera_video"] == "video/raw-camera.avi"
    assert entry["training_jsonl_path"] == "metadata/training.jsonl"
    assert entry["coordinate_space"] == "normalized_camera_frame"
    assert set(entry["intended_use"]) == {"airdeck_training", "pose_quality_review", "virtual_deck_follow_targets"}
    paths = {f["path"] for f in entry["files"]}
    assert {"manifest.json", "metadata/training.jsonl", "video/display-overlay.avi", "video/camera-overlay.avi",
            "video/raw-camera.avi", "frames/raw/000000.png"} <= paths
    for f in entry["files"]:
        assert sha256_file(pose_session / f["path"]) == f["sha256"]
    assert not (folder / "sources/k11_pose_coach").exists()  # nothing copied
    before = tree(folder)
    again = run("bundle", "add-pose-coach", str(folder), str(pose_session))
    assert again.exit_code == 0, again.output
    assert tree(folder) == before
    doc = bundle_of(folder)
    assert [s["source_id"] for s in doc["sources"]].count("k11_pose_coach_001") == 1
    clips = [lb for lb in doc["labels"] if lb["source_id"] == "k11_pose_coach_001"]
    assert {(lb["label"], lb["category"]) for lb in clips} == {("present_still", "presence"),
                                                               ("d1_play_pause", "deck_transport")}
    all_valid(folder)


def test_pose_coach_copy_and_latest(indexed: Path, pose_session: Path) -> None:
    folder = create_bundle(indexed, SECOND, clock=fixed(100))
    result = run("bundle", "add-pose-coach", str(folder), "--latest", str(pose_session.parent.parent), "--copy", "--json")
    assert result.exit_code == 0, result.output
    entry = json.loads(result.output)["entry"]
    assert entry["storage"] == "copy"
    copy = folder / "sources/k11_pose_coach" / POSE_SESSION
    assert entry["manifest_path"] == f"sources/k11_pose_coach/{POSE_SESSION}/manifest.json"
    for f in entry["files"]:
        assert sha256_file(copy / f["path"]) == f["sha256"] == sha256_file(pose_session / f["path"])
    assert not any(p.name.startswith(".extract-") for p in copy.parent.iterdir())
    # a second session gets the next number
    other = pose_session.parent / "20260529-180000"
    shutil.copytree(pose_session, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["session_id"] = other.name
    (other / "manifest.json").write_text(json.dumps(manifest))
    assert add_pose_coach(folder, other)["source_id"] == "k11_pose_coach_002"
    all_valid(folder)


def test_pose_coach_bad_input(indexed: Path, pose_session: Path, tmp_path: Path) -> None:
    folder = create_bundle(indexed, SECOND, clock=fixed(100))
    before = tree(folder)
    assert run("bundle", "add-pose-coach", str(folder)).exit_code == 2  # neither SESSION_DIR nor --latest
    manifest = json.loads((pose_session / "manifest.json").read_text())
    manifest["storage_model"] = "one_big_file"
    (pose_session / "manifest.json").write_text(json.dumps(manifest))
    bad = run("bundle", "add-pose-coach", str(folder), str(pose_session))
    assert bad.exit_code == 2 and "pose_coach_session.v1" in bad.output and "$.storage_model" in bad.output
    manifest["storage_model"] = "per_session_folder_with_video_frames_metadata"
    (pose_session / "manifest.json").write_text(json.dumps(manifest))
    (pose_session / "video/raw-camera.avi").unlink()
    missing = run("bundle", "add-pose-coach", str(folder), str(pose_session))
    assert missing.exit_code == 2 and "raw-camera.avi" in missing.output
    assert run("bundle", "add-pose-coach", str(tmp_path / "no-bundle"), str(pose_session)).exit_code == 2
    assert tree(folder) == before


def test_bundle_export_bagit_is_wired(indexed: Path, tmp_path: Path) -> None:
    folder = create_bundle(indexed, SECOND, clock=fixed(100))
    result = run("bundle", "export", "--bagit", str(folder), str(tmp_path / "bag"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bag" / "bagit.txt").is_file()
    assert run("bundle", "export", "--bagit", str(folder), str(tmp_path / "bag")).exit_code == 2  # exists


# --------------------------------------------------------------------------- real rigs' files (issue 15)


def test_the_seed_minimal_pose_coach_manifest_is_added_with_the_seed_layout(indexed: Path, pose_session: Path) -> None:
    """A manifest with only what seed 000 lists means the seed's layout; its folder is its id."""
    (pose_session / "manifest.json").write_text(json.dumps({
        "schema": "lume.pose_coach.training_session.v1",
        "storage_model": "per_session_folder_with_video_frames_metadata",
        "operator": "kk",  # Pose Coach's own key: kept, listed
    }))
    folder = create_bundle(indexed, MAIN, clock=fixed(100))
    notes: list = []
    entry = add_pose_coach(folder, pose_session, copy=True, clock=fixed(200), notes=notes)
    assert entry["session_id"] == POSE_SESSION and entry["storage"] == "copy"
    assert entry["review_video"] == "video/display-overlay.avi" and entry["start_unix"] > 0
    assert {"metadata/training.jsonl", "video/raw-camera.avi", "frames/camera/000005.png"} <= \
        {f["path"] for f in entry["files"]}
    assert [(n.path, n.contract) for n in notes] == [("$.operator", "pose_coach_session.v1")]
    copied = folder / "sources/k11_pose_coach" / POSE_SESSION / "manifest.json"
    assert json.loads(copied.read_text())["operator"] == "kk"  # kept when copied
    all_valid(folder)


def test_unknown_keys_in_training_records_are_kept_and_listed_once_per_key(
        indexed: Path, pose_session: Path) -> None:
    training = pose_session / "metadata/training.jsonl"
    lines = [json.loads(line) for line in training.read_text().splitlines()]
    training.write_text("".join(json.dumps(dict(r, gpu_ms=3.5)) + "\n" for r in lines))
    folder = create_bundle(indexed, MAIN, clock=fixed(100))
    result = run("bundle", "add-pose-coach", str(folder), str(pose_session), "--json")
    assert result.exit_code == 0, result.output
    warnings = json.loads(result.stdout)["warnings"]
    assert [(w["line"], w["path"]) for w in warnings] == [(1, "$.gpu_ms")]
    assert f"on {len(lines)} records" in warnings[0]["message"]
    text = run("bundle", "add-pose-coach", str(folder), str(pose_session))
    assert text.exit_code == 0 and "warning:" in text.stderr and "gpu_ms" in text.stderr


@pytest.mark.parametrize("copy", [True, False])
def test_a_symbolic_link_in_the_session_is_refused_never_followed(
        indexed: Path, pose_session: Path, tmp_path: Path, copy: bool) -> None:
    """Issue 18: add-pose-coach --copy followed links out of the session."""
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG not yours")
    (pose_session / "frames/raw/000009.png").symlink_to(secret)
    folder = create_bundle(indexed, MAIN, clock=fixed(100))
    before = tree(folder)
    result = run("bundle", "add-pose-coach", str(folder), str(pose_session), *(["--copy"] if copy else []))
    assert result.exit_code == 2, result.output
    assert "000009.png" in result.stderr and "symbolic link" in result.stderr
    assert tree(folder) == before
    assert not any(p.read_bytes() == secret.read_bytes() for p in folder.rglob("*.png"))


def test_a_linked_session_folder_part_is_refused_too(indexed: Path, pose_session: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere-video"
    shutil.move(pose_session / "video", elsewhere)
    (pose_session / "video").symlink_to(elsewhere, target_is_directory=True)
    folder = create_bundle(indexed, MAIN, clock=fixed(100))
    result = run("bundle", "add-pose-coach", str(folder), str(pose_session), "--copy")
    assert result.exit_code == 2 and "symbolic link" in result.stderr


def test_an_extra_motionmix_key_bundles_with_a_warning(tmp_path: Path) -> None:
    """Issue 15: one `fps` key in motionmix_state.jsonl made `lume bundle create` exit 2."""
    root = arrived(tmp_path)
    index_root(root, clock=fixed(1780000000))
    stream = root / "_processed" / MAIN / "sources/motionmix/motionmix_state.jsonl"
    lines = [json.loads(line) for line in stream.read_text().splitlines()]
    stream.chmod(0o644)
    stream.write_text("".join(json.dumps(dict(r, fps=30) if i == 1 else r) + "\n" for i, r in enumerate(lines)))
    result = run("bundle", "create", str(root), MAIN, "--json")
    assert result.exit_code == 0, result.output
    warnings = json.loads(result.stdout)["warnings"]
    assert [(w["line"], w["path"], w["contract"]) for w in warnings] == [(2, "$.fps", "motionmix_state_record.v1")]
