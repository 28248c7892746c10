"""models.live_safe: model artifact records under seed 002's eight criteria, digests against files."""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import numpy as np
from training_helpers import (
    RECORD,
    RUN_ID,
    TRAINING,
    check,
    cli,
    copy_training,
    edit_json,
    failures,
    write_arrays,
)

from lume.runtime.core import get
from lume.runtime.templates import _policy as gesture_policy
from lume.runtime.training import assess, criteria, load_record, policy

REL = f"models/{RUN_ID}/model_artifact.json"


def ref(root: Path, rel: str, **extra) -> dict:
    data = (root / rel).read_bytes()
    return {**extra, "path": Path(rel).name, "sha256": hashlib.sha256(data).hexdigest(),
            "byte_size": len(data)}


def live_safe_root(tmp: Path, *, moving: bool = True) -> Path:
    """The fixture run with every piece of evidence recorded (as after a real deploy)."""
    root = copy_training(tmp / "root")
    run = f"models/{RUN_ID}"
    t = np.linspace(0, 1, 30)[:, None]
    out = np.sin(2 * np.pi * t * np.arange(1, 16)) if moving else np.ones((30, 15))
    write_arrays(root / run / "live_output.npz", {"outputs": out.astype(np.float32)})
    (root / run / "device_load.log").write_text("iPhone 16 Pro Max build 412: model loaded in 38 ms\n")
    (root / run / "observations.md").write_text("Sky Garden: airy pads; Aurora Veil: sparse bells.\n")

    def complete(doc):
        doc["status"] = "live_safe"
        doc["on_device"] = {"device": "iPhone 16 Pro Max", "build": "412", "loaded": True,
                            "evidence": ref(root, f"{run}/device_load.log")}
        doc["live_output"] = ref(root, f"{run}/live_output.npz")
        doc["observations"] = {"observed": ["per-mode listening test: each mode sounds distinct"],
                               "log": ref(root, f"{run}/observations.md")}
    edit_json(root / REL, complete)
    return root


def test_the_fixture_run_is_a_candidate_with_five_criteria():
    a = assess(load_record(RECORD), TRAINING, REL)
    assert a.status == "candidate" and a.claimed == "candidate" and not a.problems
    assert a.missing() == ["on_device_load_verified", "live_output_non_flat", "behavior_observed"]
    [ev] = a.evidence()
    assert ev.ok is True and "5 of 8 criteria met" in ev.message


def test_all_eight_criteria_make_a_model_live_safe(tmp_path):
    root = live_safe_root(tmp_path)
    a = assess(load_record(root / REL), root, REL)
    assert a.status == "live_safe" and a.missing() == [], a.criteria
    assert [c["id"] for c in a.criteria] == [c["id"] for c in criteria()]
    assert check(root, "models.live_safe", tmp_path).status == "pass"


def test_a_flat_live_output_keeps_it_a_candidate_and_a_live_safe_claim_fails(tmp_path):
    root = live_safe_root(tmp_path, moving=False)
    a = assess(load_record(root / REL), root, REL)
    assert a.missing() == ["live_output_non_flat"]
    detail = next(c["detail"] for c in a.criteria if c["id"] == "live_output_non_flat")
    assert "largest per-dimension std 0" in detail
    result = check(root, "models.live_safe", tmp_path)
    assert result.status == "fail"
    [bad] = failures(result.evidence)
    assert bad.field == "status" and bad.found == ["live_output_non_flat"]


def test_an_artifact_whose_digest_differs_is_red(tmp_path):
    root = copy_training(tmp_path / "root")
    weights = root / "models" / RUN_ID / "probe_weights.npz"
    data = bytearray(weights.read_bytes())
    data[-40] ^= 0x01
    weights.write_bytes(bytes(data))
    result = check(root, "models.live_safe", tmp_path)
    assert result.status == "fail"
    [bad] = failures(result.evidence)
    assert bad.message == "sha256 differs from the record"
    assert bad.file == f"models/{RUN_ID}/probe_weights.npz"
    assert bad.expected == load_record(RECORD)["artifacts"][0]["sha256"] != bad.found


def test_a_dataset_that_is_missing_or_resized_is_red(tmp_path):
    root = copy_training(tmp_path / "root")
    (root / "pairs" / "v6_pairs.npz").unlink()
    bad = failures(check(root, "models.live_safe", tmp_path).evidence)
    assert [e.message for e in bad] == ["file the record names is missing"]
    assert bad[0].expected == "pairs/v6_pairs.npz"
    edit_json(root / REL, lambda d: d["datasets"][0].update(path="../../../../etc/passwd"))
    bad = failures(check(root, "models.live_safe", tmp_path).evidence)
    assert [e.message for e in bad] == ["path leaves the verified root"]


def test_the_policy_serves_gestures_and_models_alike():
    """live_safe_policy.v1's gesture view is promotion_policy.v1's criteria, word for word."""
    old = get("promotion_policy.v1").table_data()["criteria"]
    assert gesture_policy.criteria() == sorted(old, key=lambda c: c["order"])
    new = policy()["criteria"]
    assert [c["order"] for c in criteria()] == list(range(1, 9)) and len({c["id"] for c in new}) == 8
    assert [c["sentence"] for c in criteria()] == [
        "source data is archived", "training or rule code is identified", "runtime artifact is identified",
        "on-device load is verified", "live output is non-flat", "behavior is observed", "fallback is tested",
        "report is written"]


def test_models_status_cli(tmp_path):
    out = cli("models", "status", str(TRAINING), "--json")
    assert out.exit_code == 0, out.output
    [rec] = json.loads(out.output)["records"]
    assert rec["status"] == "candidate" and sum(c["met"] for c in rec["criteria"]) == 5
    root = live_safe_root(tmp_path, moving=False)
    failed = cli("models", "status", str(root))
    assert failed.exit_code == 1 and "claims live_safe but misses live_output_non_flat" in failed.output
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("models", "status", str(empty)).exit_code == 2
    broken = copy.deepcopy(load_record(RECORD))
    del broken["code"]
    (empty / "model_artifact.json").write_text(json.dumps(broken))
    refused = cli("models", "status", str(empty))
    assert refused.exit_code == 2 and "model_artifact.v1" in refused.output
    assert "Traceback" not in refused.output
