"""claims: seed 002's "What Not To Claim Yet" as rules; a claim without its evidence is red, naming both."""
from __future__ import annotations

import json
from pathlib import Path

import yaml
from training_helpers import CLAIMS, TRAINING, check, cli, copy_training, failures

from lume.runtime.core import InputError
from lume.runtime.training import RootEvidence, criteria, evaluate, read_claims, rules, sha256_file

SEED_LIST = ["SAN V6 exists", "a full 128D model is trained",
             "the CoreML generation path is a verified diffusion sampler", "a specific training pair count",
             "a specific validation loss", "a single shared body/audio/N'Ko model",
             "that mocopi is required for gesture control"]


def note(folder: Path, claims: list, name: str = "RELEASE.md") -> Path:
    front = yaml.safe_dump({"schema": "lume.release_claims.v1", "release": "test release", "claims": claims})
    path = folder / name
    path.write_text(f"---\n{front}---\n# Test release\n")
    return path


def evaluated(root: Path, path: Path) -> list:
    files = [p.relative_to(root).as_posix() for p in sorted(root.rglob("*")) if p.is_file()]
    ev = RootEvidence.scan(root, files, lambda r: sha256_file(root / r))
    return evaluate(read_claims(path), path.relative_to(root).as_posix(), ev)


def test_the_table_is_the_seed_list_and_each_rule_names_its_evidence():
    table = rules()
    assert [r["sentence"] for r in table.values()] == SEED_LIST
    ids = {c["id"] for c in criteria()}
    for r in table.values():
        assert len(r["evidence"]["description"]) > 40
        for req in r["evidence"]["requires"]:
            assert req.get("criteria", []) == "all" or set(req.get("criteria", [])) <= ids


def test_the_release_note_claiming_san_v6_is_red():
    out = cli("claims", "check", str(CLAIMS / "RELEASE-san-v6.md"), "--root", str(TRAINING), "--json")
    assert out.exit_code == 1, out.output
    [bad] = [e for e in json.loads(out.output)["evidence"] if e["ok"] is False]
    assert "SAN V6 exists" in bad["message"] and "without its evidence" in bad["message"]
    assert "family 'linear_probe' (needs 'san')" in bad["message"]
    assert bad["expected"].startswith("A SAN-side model artifact record of version v6")


def test_the_release_note_claiming_nothing_is_green():
    out = cli("claims", "check", str(CLAIMS / "RELEASE-plan-only.md"), "--root", str(TRAINING))
    assert out.exit_code == 0, out.output
    assert "claims nothing" in out.output


def test_every_claim_of_the_table_without_evidence_is_red(tmp_path):
    root = tmp_path / "empty-root"
    root.mkdir()
    claims = [{"id": i, **({"value": 1} if r["value"] != "none" else {})} for i, r in rules().items()]
    results = evaluated(root, note(root, claims))
    assert [e.ok for e in results] == [False] * len(SEED_LIST)
    for e, sentence in zip(results, SEED_LIST):
        assert f"“{sentence}”" in e.message and e.found


def test_claims_with_their_evidence_are_green_and_wrong_values_red(tmp_path):
    root = copy_training(tmp_path / "root")
    ok = evaluated(root, note(root, [{"id": "training_pair_count", "value": 48}]))
    assert [e.ok for e in ok] == [True], ok[0].message
    wrong = evaluated(root, note(root, [{"id": "training_pair_count", "value": 81000}]))
    assert "holds 48 pairs, the claim says 81000" in wrong[0].message
    # the probe has a val_loss, but a least-squares probe is not one of the models the claim is about
    loss = evaluated(root, note(root, [{"id": "validation_loss", "value": 0.9099}]))
    assert loss[0].ok is False and "family 'linear_probe'" in loss[0].message
    full = evaluated(root, note(root, [{"id": "full_128d_model_trained"}]))
    assert full[0].ok is False


def test_cited_evidence_limits_what_counts(tmp_path):
    root = copy_training(tmp_path / "root")
    results = evaluated(root, note(root, [{"id": "training_pair_count", "value": 48,
                                           "evidence": ["sessions/v6-s01/audio_features.npz",
                                                        "nowhere.npz"]}]))
    assert [e.ok for e in results] == [False, False]
    assert "nowhere.npz is not a file of the root" in results[0].message
    assert "no training pairs file among the cited evidence" in results[1].message


def test_unknown_claims_and_broken_documents(tmp_path):
    root = copy_training(tmp_path / "root")
    [bad] = evaluated(root, note(root, [{"id": "v7_exists"}]))
    assert bad.ok is False and "not a claim of claims.v1" in bad.message
    broken = tmp_path / "claims.yaml"
    broken.write_text("schema: lume.release_claims.v1\nclaims: nope\n")
    try:
        read_claims(broken)
    except InputError as exc:
        assert "claims.yaml" in str(exc) and "release_claims.v1" in str(exc)
    else:
        raise AssertionError("an invalid claims YAML must be refused")
    out = cli("claims", "check", str(broken))
    assert out.exit_code == 2 and "Traceback" not in out.output
    plain = tmp_path / "plain.md"
    plain.write_text("# no front matter\n")
    assert read_claims(plain) is None and cli("claims", "check", str(plain)).exit_code == 2


def test_the_verifier_turns_red_on_the_san_v6_note_in_the_root(tmp_path):
    root = copy_training(tmp_path / "root")
    assert check(root, "claims", tmp_path).status == "pass"  # RELEASE-NOTES.md claims nothing
    (root / "RELEASE-V6.md").write_bytes((CLAIMS / "RELEASE-san-v6.md").read_bytes())
    result = check(root, "claims", tmp_path)
    assert result.status == "fail"
    [bad] = failures(result.evidence)
    assert bad.file == "RELEASE-V6.md" and bad.field == "claims[0] san_v6_exists"


def test_mocopi_claim_needs_camera_only_control_to_fail(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    from lume.runtime.core import get

    matrix = get("physical_proof_matrix.v1").examples[0]
    (root / "physical_proof_matrix.json").write_text(json.dumps(matrix))
    results = evaluated(root, note(root, [{"id": "mocopi_required_for_gestures"}]))
    works = [g["label"] for g in matrix["gestures"]
             if g["examples"] >= matrix["thresholds"]["min_physical_examples"]
             and g["dispatched_examples"] >= matrix["thresholds"]["min_dispatch_fraction"] * g["examples"]]
    assert results[0].ok is (not works and any(g["examples"] >= matrix["thresholds"]["min_physical_examples"]
                                               for g in matrix["gestures"]))
    for g in matrix["gestures"]:
        g["examples"], g["dispatched_examples"] = 6, 0
    (root / "physical_proof_matrix.json").write_text(json.dumps(matrix))
    [ok] = evaluated(root, note(root, [{"id": "mocopi_required_for_gestures"}]))
    assert ok.ok is True and "camera-only control fails" in ok.message
