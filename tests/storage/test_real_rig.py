"""A K11 root as a real rig writes it (issue 15, "Done when").

Producers LUME does not own add keys of their own; Pose Coach writes the seed's minimal
manifest; the Pose Coach session stays on its own root, referenced by the bundle; MotionMix
uploads a sidecar archive without a transport manifest; the Mac4 archive carries its device
topology sidecar; somebody leaves a stray file in the bundle. The pipeline indexes, bundles and
verifies GREEN with the warnings listed, the referenced files hashed where they live and the stray
file reported; removing a referenced file or changing a byte of it turns the report red naming
the file; the BagIt export lists the referenced files in fetch.txt and validates with
bagit-python once they are fetched (or at once with --include-referenced).
"""
from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import bagit
import pytest
from click.testing import CliRunner
from storage_helpers import POSE_COACH, POSE_SESSION, ROUTE_SMOKE, put, session_members, sha, tar_bytes

from lume.runtime.cli import main
from lume.runtime.core import get

SID = "20260601-rig-take-01"
MAIN = "20260528-weighted-freestyle-01"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("LUME_KEY_DIR", str(home / "keys"))
    monkeypatch.setenv("LUME_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.delenv("LUME_TRUST_FILE", raising=False)
    monkeypatch.delenv("LUME_CONFIG", raising=False)


def lume(*args: str):
    return CliRunner().invoke(main, list(args))


def with_extra(line: bytes, **extra) -> bytes:
    return json.dumps({**json.loads(line), **extra}).encode() + b"\n"


def rig(tmp: Path) -> tuple[Path, Path]:
    """(K11 dance-sessions root as it arrived, the Pose Coach root beside it)."""
    root = tmp / "k11" / "dance-sessions"
    (root / "_incoming").mkdir(parents=True)
    # Mac4: its own keys in session.json and in every label line; the device topology sidecar inside
    members = session_members(SID)
    session = json.loads(members["session.json"])
    session["gpu"] = "M2 Max"
    session["video"]["exposure_us"] = 8000
    members["session.json"] = (json.dumps(session, indent=2) + "\n").encode()
    members["raw/labels/labels.jsonl"] = b"".join(
        with_extra(line, confidence=0.9) for line in members["raw/labels/labels.jsonl"].splitlines())
    topology = copy.deepcopy(get("device_topology_mac4_first.v1").examples[0])
    topology["bundle_id"], topology["firmware"] = SID, "4.2"
    members["derived/mac4_first/device_topology.json"] = json.dumps(topology).encode()
    prefixed = {f"{SID}/{k}": v for k, v in members.items()}
    put(root, f"{SID}.tar.gz", tar_bytes(prefixed), members=prefixed, session_id=SID)
    # MotionMix: a sidecar archive without a transport manifest, one extra key per line
    stream = (ROUTE_SMOKE / "_processed" / MAIN / "sources/motionmix/motionmix_state.jsonl").read_bytes()
    mm = {"motionmix_state.jsonl": b"".join(with_extra(line, fps=30) for line in stream.splitlines())}
    put(root, f"{SID}.motionmix.tgz", tar_bytes(mm))
    # Pose Coach: its own root, the seed's minimal manifest, its own keys in the training records
    pose_root = tmp / "recordings" / "pose-coach"
    shutil.copytree(POSE_COACH, pose_root)
    session_dir = pose_root / "sessions" / POSE_SESSION
    (session_dir / "manifest.json").write_text(json.dumps({
        "schema": "lume.pose_coach.training_session.v1",
        "storage_model": "per_session_folder_with_video_frames_metadata",
        "operator": "kk"}, indent=2))
    training = session_dir / "metadata/training.jsonl"
    training.write_bytes(b"".join(with_extra(line, gpu_ms=3.5) for line in training.read_bytes().splitlines()))
    return root, pose_root


def configure(tmp: Path, root: Path, *, machine: str = "K11", pose_coach_root: Path | None) -> Path:
    config = dict(get("machine_config.v1").examples[2], machine=machine, storage_root=str(root),
                  pose_coach_root=str(pose_coach_root) if pose_coach_root else None)
    if machine != "K11":
        config.update(can_command_rekordbox=False, midi_output=None)
    path = tmp / f"config-{machine}-{'mounted' if pose_coach_root else 'unmounted'}.json"
    path.write_text(json.dumps(config))
    return path


def verify(root: Path, tmp: Path, config: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("LUME_CONFIG", str(config))
    out = lume("verify", str(root), "-o", str(tmp / "report.json"), "--json")
    assert out.exit_code in (0, 1), out.output
    return json.loads(out.stdout)


def check(report: dict, check_id: str) -> dict:
    return next(c for c in report["checks"] if c["id"] == check_id)


def warnings_of(report: dict) -> list[dict]:
    return [e for c in report["checks"] for e in c["evidence"] if e.get("warning")]


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """(root, Pose Coach root, bundle): indexed, bundled, the Pose Coach session added by reference."""
    root, pose_root = rig(tmp_path)
    monkeypatch.setenv("LUME_CONFIG", str(configure(tmp_path, root, pose_coach_root=pose_root)))
    indexed = lume("index", str(root), "--json")
    assert indexed.exit_code == 0, indexed.output
    created = lume("bundle", "create", str(root), SID, "--json")
    assert created.exit_code == 0, created.output
    noted = {(w["contract"], w["path"]) for w in json.loads(created.stdout)["warnings"]}
    assert noted == {("mac4_session.v1", "$.gpu"), ("mac4_session.v1", "$.video.exposure_us"),
                     ("mac4_label_record.v1", "$.confidence"), ("motionmix_state_record.v1", "$.fps")}
    bundle = root / "_processed" / SID
    added = lume("bundle", "add-pose-coach", str(bundle), str(pose_root / "sessions" / POSE_SESSION), "--json")
    assert added.exit_code == 0, added.output
    body = json.loads(added.stdout)
    assert body["entry"]["storage"] == "reference"
    assert {(w["contract"], w["path"]) for w in body["warnings"]} == {
        ("pose_coach_session.v1", "$.operator"), ("pose_coach_training_record.v1", "$.gpu_ms")}
    (bundle / "notes.txt").write_text("Mac4 lens was dirty in the second half\n")  # a stray file
    return root, pose_root, bundle


def test_a_real_rig_root_verifies_green_with_its_warnings(built, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    root, pose_root, bundle = built
    # the sidecars went where the layout says: no bundle of their own, nothing in the source folder
    assert sorted(p.name for p in (root / "_processed").iterdir()) == [SID]
    assert (bundle / "sources/motionmix/motionmix_state.jsonl").is_file()
    assert (bundle / "derived/mac4_first/device_topology.json").is_file()
    report = verify(root, tmp_path, configure(tmp_path, root, pose_coach_root=pose_root), monkeypatch)
    assert report["overall"] == "green", [(c["id"], c["status"]) for c in report["checks"]]
    integrity = check(report, "storage.integrity")
    assert any("referenced file(s) hashed where they live (root pose_coach)" in e["message"]
               for e in integrity["evidence"])
    warned = {(e["file"].rsplit("/", 1)[-1], e["found"]) for e in warnings_of(report)}
    assert ("notes.txt", "notes.txt") in warned  # the stray file, reported
    assert {("session.json", "gpu"), ("session.json", "exposure_us"), ("labels.jsonl", "confidence"),
            ("motionmix_state.jsonl", "fps")} <= warned  # producers' keys, with file, line and key
    lines = [e["field"] for e in warnings_of(report) if e["file"].endswith("motionmix_state.jsonl")]
    assert lines == ["line 1: $.fps"]


@pytest.mark.parametrize("damage", ["remove", "change a byte"])
def test_a_referenced_file_removed_or_changed_turns_the_report_red_naming_it(
        built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    root, pose_root, _bundle = built
    video = pose_root / "sessions" / POSE_SESSION / "video/raw-camera.avi"
    if damage == "remove":
        video.unlink()
    else:
        data = bytearray(video.read_bytes())
        data[len(data) // 2] ^= 0x01
        video.write_bytes(bytes(data))
    report = verify(root, tmp_path, configure(tmp_path, root, pose_coach_root=pose_root), monkeypatch)
    assert report["overall"] == "red"
    [bad] = [e for e in check(report, "storage.integrity")["evidence"] if str(e["file"]).endswith("raw-camera.avi")]
    assert bad["file"] == str(video)
    assert ("missing" if damage == "remove" else "sha256") in bad["message"]


def test_a_root_this_machine_does_not_mount_is_not_reachable_per_the_contract(
        built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _pose_root, _bundle = built
    # Mac5 does not hold the Pose Coach root: a warning, the report stays green
    report = verify(root, tmp_path, configure(tmp_path, root, machine="Mac5", pose_coach_root=None), monkeypatch)
    assert report["overall"] == "green", [(c["id"], [e["message"] for e in c["evidence"] if not e.get("warning")][1:4])
                                          for c in report["checks"] if c["status"] != "pass"]
    [away] = [e for e in warnings_of(report) if "not_reachable" in e["message"]]
    assert "root pose_coach" in away["message"] and "it lives on K11" in away["message"]
    # K11 is declared to hold it: there the same is a failure
    report = verify(root, tmp_path, configure(tmp_path, root, machine="K11", pose_coach_root=None), monkeypatch)
    assert report["overall"] == "red"
    [bad] = [e for e in check(report, "storage.integrity")["evidence"] if "not_reachable" in e["message"]]
    assert "root pose_coach" in bad["message"] and "this machine holds it" in bad["message"]


def _fetch(bag: Path) -> None:
    """What a BagIt fetcher does: get every fetch.txt entry into place."""
    for line in (bag / "fetch.txt").read_text().splitlines():
        url, _size, name = line.split(None, 2)
        target = bag / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(url2pathname(urlparse(url).path), target)


def test_the_bagit_export_lists_referenced_files_in_fetch_txt_and_validates(
        built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, pose_root, bundle = built
    (bundle / "notes.txt").unlink()
    out = lume("bundle", "export", str(bundle), "-o", str(tmp_path / "bag"), "--json")
    assert out.exit_code == 0, out.output
    said = json.loads(out.stdout)
    assert said["referenced_files"] == "fetch" and said["referenced"] >= 10
    text = lume("bundle", "export", str(bundle), "-o", str(tmp_path / "bag2"))
    assert "listed in fetch.txt" in text.output
    bag = tmp_path / "bag"
    session = pose_root / "sessions" / POSE_SESSION
    fetched = {line.split(None, 2)[2]: line.split(None, 2) for line in (bag / "fetch.txt").read_text().splitlines()}
    video = f"data/sources/k11_pose_coach/{POSE_SESSION}/video/raw-camera.avi"
    assert fetched[video][0] == (session / "video/raw-camera.avi").as_uri()
    assert int(fetched[video][1]) == (session / "video/raw-camera.avi").stat().st_size
    for alg in ("sha256", "sha512"):  # RFC 8493 2.2.3: in every payload manifest
        listed = {line.split(None, 1)[1] for line in (bag / f"manifest-{alg}.txt").read_text().splitlines()}
        assert set(fetched) <= listed
    assert f"{sha((session / 'video/raw-camera.avi').read_bytes())}  {video}" in (bag / "manifest-sha256.txt").read_text()
    assert not (bag / video).exists()  # by reference: not in the bag
    with pytest.raises(bagit.BagValidationError):  # incomplete until fetched (RFC 8493 3)
        bagit.Bag(str(bag)).validate()
    _fetch(bag)
    bagit.Bag(str(bag)).validate()  # bagit-python: valid once fetched
    assert lume("bag", "validate", str(bag)).exit_code == 0

    included = lume("bundle", "export", str(bundle), "-o", str(tmp_path / "full"), "--include-referenced", "--json")
    assert included.exit_code == 0 and json.loads(included.stdout)["referenced_files"] == "included"
    assert not (tmp_path / "full" / "fetch.txt").exists()
    bagit.Bag(str(tmp_path / "full")).validate()
