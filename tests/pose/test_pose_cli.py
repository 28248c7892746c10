"""`lume pose extract`: output files, bad input, and a clear exit 2 without the pose extra."""
from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from lume.runtime import core as contracts
from lume.runtime.cli import main


@pytest.fixture(scope="module")
def real_media():
    import lume_testpaths

    return lume_testpaths.real_media


def test_missing_pose_extra_exits_2_with_the_fix(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # `import mediapipe` now raises ImportError
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0")
    result = CliRunner().invoke(main, ["pose", "extract", str(video)])
    assert result.exit_code == 2
    assert "lume[pose]" in result.output and "MediaPipe is not installed" in result.output


def test_mediapipe_without_solutions_is_refused(monkeypatch):
    import types

    from lume.runtime.pose import PoseUnavailable, load_mediapipe_pose

    monkeypatch.setitem(sys.modules, "mediapipe", types.SimpleNamespace(__version__="1.2.0"))
    with pytest.raises(PoseUnavailable, match="1.2.0 has no solutions.pose"):
        load_mediapipe_pose()


def test_bad_inputs_exit_2(tmp_path):
    pytest.importorskip("mediapipe")
    runner = CliRunner()
    missing = runner.invoke(main, ["pose", "extract", str(tmp_path / "none.mp4")])
    assert missing.exit_code == 2 and "no such video file" in missing.output
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    bad = runner.invoke(main, ["pose", "extract", str(junk)])
    assert bad.exit_code == 2 and "cannot decode" in bad.output
    zones = runner.invoke(main, ["pose", "extract", str(junk), "--deck-zones", "no_such_zones"])
    assert zones.exit_code == 2 and "neither a file nor a contract" in zones.output


def test_extract_writes_observations_and_training_records(real_media, tmp_path):
    pytest.importorskip("mediapipe")
    video = real_media("video", "jacky_dance.mp4")
    out, training = tmp_path / "dance.obs.jsonl", tmp_path / "metadata" / "training.jsonl"
    result = CliRunner().invoke(main, ["pose", "extract", str(video), "--out", str(out), "--max-frames", "6",
                                       "--training", str(training), "--label", "present_still", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["frames"] == 6 and summary["detected"] == 6
    assert contracts.validate_file(out).ok and contracts.validate_file(out).contract == "body_observation.v1"
    checked = contracts.validate_file(training)
    assert checked.ok and checked.contract == "pose_coach_training_record.v1" and checked.documents == 6
