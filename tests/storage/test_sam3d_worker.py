"""The shipped Mac5 worker: OpenCV sampling + MediaPipe pose -> derived/sam3d contracts."""
from __future__ import annotations

import builtins
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lume.runtime.core import validate_file
from lume.runtime.workers import sam3d as worker
from lume.runtime.workers.sam3d import Window, label_windows, sample_targets

pytest.importorskip("mediapipe", reason="the `pose` extra (mediapipe 0.10.21) is not installed")
cv2 = pytest.importorskip("cv2")

START = 1780076400.0




from lume_testpaths import real_media  # noqa: E402


def make_session(folder: Path, video: Path | None = None, *, seconds: float = 3.0, fps: int = 10,
                 labels: list[dict] | None = None) -> Path:
    """A Mac4 Tier 0 session: session.json, raw/video/webcam_main.mp4, raw/labels/labels.jsonl.
    The video is `video` when given, else `seconds` of a real person photo sliding sideways."""
    (folder / "raw/video").mkdir(parents=True)
    (folder / "raw/labels").mkdir(parents=True)
    target = folder / "raw/video/webcam_main.mp4"
    if video is not None:
        shutil.copyfile(video, target)
    else:
        frame = cv2.resize(cv2.imread(str(real_media("images", "tfexamples_image1.png"))), (320, 240))
        writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, (320, 240))
        for i in range(int(seconds * fps)):
            writer.write(frame if i % 10 < 8 else frame * 0)  # 2 of every 10 frames are black
        writer.release()
    cap = cv2.VideoCapture(str(target))
    width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    vfps, count = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    session = {
        "schema": "lume.mac4.tier0_session.v1", "session_id": folder.name, "machine": "Mac4",
        "recorder": {"script": "tools/lume-dance-capture/lume_dance_recorder.py", "launcher": "direct"},
        "started_at_unix": START, "ended_at_unix": START + count / vfps, "duration_s": count / vfps,
        "video": {"path": "raw/video/webcam_main.mp4", "camera": "test", "width": width,
                  "height": height, "fps": vfps, "codec": "mp4v"},
        "labels_path": "raw/labels/labels.jsonl", "status": "complete",
    }
    (folder / "session.json").write_text(json.dumps(session))
    labels = labels if labels is not None else [
        {"t_s": 0.5, "label": "wave_color", "event": "start", "source": "keyboard"},
        {"t_s": 1.6, "label": "wave_color", "event": "end", "source": "keyboard"},
        {"t_unix": START + 2.35, "label": "bad_false_reactive", "event": "marker", "source": "keyboard"},
    ]
    (folder / "raw/labels/labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in labels))
    return folder


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- sampling


def test_fixed_rate_sampling_covers_the_take_and_names_windows() -> None:
    windows = [Window("wave_color", 0.5, 1.6)]
    targets = sample_targets(1.0, 10.0, 30, windows, label_windows_only=False)
    assert targets == {0: (0.0, None), 10: (1.0, "wave_color"), 20: (2.0, None)}


def test_label_window_sampling_stays_inside_windows_and_keeps_point_markers() -> None:
    windows = [Window("wave_color", 0.5, 1.6), Window("bad_false_reactive", 2.35, 2.35)]
    targets = sample_targets(2.0, 10.0, 30, windows, label_windows_only=True)
    assert targets == {5: (0.5, "wave_color"), 10: (1.0, "wave_color"), 15: (1.5, "wave_color"),
                       23: (2.3, "bad_false_reactive")}
    assert all(f < 30 for f in sample_targets(1.0, 10.0, 30, [Window("x", 2.99, 9.0)], True))


def test_label_windows_pair_start_end_and_close_open_windows(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    rows = [
        {"t_s": 1.0, "label": "wave_color", "event": "start", "source": "keyboard"},
        {"t_unix": START + 4.0, "label": "wave_color", "event": "end", "source": "keyboard"},
        {"t_s": 5.0, "label": "burst_high_energy", "event": "start", "source": "keyboard"},
        {"t_s": 6.0, "label": "keep_signature", "event": "end", "source": "keyboard"},
        {"t_s": 99.0, "label": "keep_signature", "event": "marker", "source": "keyboard"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    log: list[str] = []
    found = label_windows(path, START, 10.0, log)
    assert found == [Window("wave_color", 1.0, 4.0), Window("burst_high_energy", 5.0, 10.0)]
    assert any("without a `start`" in m for m in log)
    assert any("never ended" in m for m in log)
    assert any("starts after the take" in m for m in log)


def test_invalid_label_line_is_bad_input_naming_file_line_and_contract(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps({"t_s": 1, "label": "not_a_marker", "event": "start", "source": "k"}) + "\n")
    with pytest.raises(worker.InputError, match=r"labels.jsonl:1: \$.label: .*mac4_label_record.v1"):
        label_windows(path, START, 10.0, [])


# --------------------------------------------------------------------------- runs


def test_run_writes_valid_contract_documents_and_never_touches_the_source(tmp_path: Path) -> None:
    session = make_session(tmp_path / "s-01")
    before = {p: digest(p) for p in session.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    summary = worker.run(session, out, fps=1.0, label_windows_only=False)
    assert {p.name for p in out.iterdir()} == {"summary.json", "sam3d_frames.jsonl", "worker.log"}
    for name in ("summary.json", "sam3d_frames.jsonl"):
        result = validate_file(out / name)
        assert result.contract and result.ok, result.problems
    frames = [json.loads(line) for line in (out / "sam3d_frames.jsonl").read_text().splitlines()]
    assert [f["frame_index"] for f in frames] == [0, 10, 20]
    assert [f["label"] for f in frames] == [None, "wave_color", None]
    assert summary["frames_sampled"] == 3 and summary["frames_with_body"] == sum(f["present"] for f in frames)
    assert summary["frames_with_body"] >= 2  # a real person is in the frame
    body = next(f for f in frames if f["present"])
    assert len(body["keypoints"]) == 33 and body["keypoints"][0]["name"] == "nose"
    assert 0 <= body["body_box"]["x_min"] < body["body_box"]["x_max"] <= 1
    assert summary["tool"] == "MediaPipe-Pose" and summary["sampling_policy"] == "fixed_fps"
    assert summary["source_sha256_before"] == summary["source_sha256_after"] == before[
        session / "raw/video/webcam_main.mp4"]
    assert {p: digest(p) for p in session.rglob("*") if p.is_file()} == before


def test_label_windows_only_run(tmp_path: Path) -> None:
    session = make_session(tmp_path / "s-02")
    out = tmp_path / "out"
    summary = worker.run(session, out, fps=2.0, label_windows_only=True)
    assert summary["sampling_policy"] == "label_windows_only" and summary["label_windows_only"] is True
    assert summary["label_windows"] == [
        {"label": "wave_color", "t_start_s": 0.5, "t_end_s": 1.6},
        {"label": "bad_false_reactive", "t_start_s": 2.35, "t_end_s": 2.35}]
    frames = [json.loads(line) for line in (out / "sam3d_frames.jsonl").read_text().splitlines()]
    assert [(f["frame_index"], f["label"]) for f in frames] == [
        (5, "wave_color"), (10, "wave_color"), (15, "wave_color"), (23, "bad_false_reactive")]
    # frame 8 of every 10 is black: no body there
    assert all(f["present"] for f in frames if f["frame_index"] % 10 < 8)
    assert validate_file(out / "summary.json").ok and validate_file(out / "sam3d_frames.jsonl").ok


def test_real_dance_video_finds_the_dancer(tmp_path: Path) -> None:
    session = make_session(tmp_path / "s-03", real_media("video", "jacky_dance.mp4"), labels=[])
    out = tmp_path / "out"
    summary = worker.run(session, out, fps=0.5, label_windows_only=False)
    assert summary["frames_sampled"] >= 2
    assert summary["frames_with_body"] == summary["frames_sampled"]
    frames = [json.loads(line) for line in (out / "sam3d_frames.jsonl").read_text().splitlines()]
    assert all(f["confidence"] > 0.5 for f in frames)


def test_module_cli_default_out_and_exit_codes(tmp_path: Path) -> None:
    session = make_session(tmp_path / "s-04", seconds=1.0)
    cmd = [sys.executable, "-m", "lume.runtime.workers.sam3d", "--session", str(session), "--fps", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads((session / "derived/sam3d/summary.json").read_text())
    assert summary["worker"]["command"].endswith("--session " + str(session) + " --fps 1")



def test_invalid_session_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    session = make_session(tmp_path / "s-06", seconds=1.0)
    (session / "session.json").write_text("{}")
    assert worker.main(["--session", str(session)]) == 2
    assert "mac4_session.v1" in capsys.readouterr().err
    (session / "session.json").unlink()
    assert worker.main(["--session", str(session)]) == 2
    assert not (session / "derived").exists()


def test_unreadable_video_fails_with_exit_1(tmp_path: Path) -> None:
    session = make_session(tmp_path / "s-05", seconds=1.0)
    (session / "raw/video/webcam_main.mp4").write_bytes(b"not a video")
    assert worker.main(["--session", str(session), "--out", str(tmp_path / "out")]) == 1
    assert not (tmp_path / "out").exists()


def test_missing_mediapipe_names_the_pose_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_mediapipe(name, *args, **kwargs):
        if name == "mediapipe" or name.startswith("mediapipe."):
            raise ImportError("No module named 'mediapipe'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mediapipe)
    with pytest.raises(worker.WorkerError, match=r"pose.*extra"):
        worker._pose_solution()
