"""The Mac5 pull / process / return handoff on the route-smoke K11 root.

The committed route-smoke root is copied to a temporary folder, indexed, bundled; `lume mac5
process` then runs the shipped worker (or a small scripted worker for the failure paths) and
must: refuse without a green completion gate, write only valid documents, never change the
source video or labels, and leave the bundle byte for byte unchanged whenever it refuses.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import importlib.util
import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from lume.generated.constants import BUNDLE_FILE, STORAGE_MANIFESTS_DIR
from lume.runtime import storage
from lume.runtime.cli import main
from lume.runtime.completion import (
    CompletionRefused,
    binding_problem,
    gate_parameters,
    read_completion_report,
)
from lume.runtime.core import get, iter_documents, now_iso, sign_report, validate_file
from lume.runtime.core._keys import SigningKey
from lume.runtime.storage._bagit_io import check_bag, export_bag
from lume.runtime.storage._mac5 import Mac5Refused, long_take_source, process, source_spec, worker_command
from lume.runtime.storage._policy import incoming_dir, processed_dir

REPO = Path(__file__).resolve().parents[2]
ROUTE_SMOKE = REPO / "fixtures" / "route_smoke"
POSE_COACH = REPO / "fixtures" / "pose_coach"
WORKER = f"{sys.executable} -m lume.runtime.workers.sam3d"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
# the shipped worker runs MediaPipe: the numpy-2 dependency set has no `pose` extra
needs_mediapipe = pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None,
                                     reason="the shipped worker needs the `pose` extra (mediapipe 0.10.21)")


# --------------------------------------------------------------------------- helpers


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under root with its bytes (None for folders)."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def green_predicate() -> dict:
    """A green, fresh Mac4-first completion-gate readiness report (readiness_report.v2)."""
    pred = copy.deepcopy(get("readiness_report.v2").examples[1])
    pred["generated_at"] = now_iso()
    for check in pred["checks"]:
        check["status"] = "pass"
    pred["verdicts"] = {"rig_safe": True, "data_sound": True, "overall": "green",
                        "completion_ready": True, "mac5_heavy_reconstruction_allowed": True}
    pred["gate"]["full_audit_ran"] = True
    for port in pred["gate"]["preflight"]["ports"]:
        port.update(reachable=True, latency_ms=1.5)
    return pred


def bound_to(bundle_dir: Path | None) -> list[dict]:
    """The subjects of a report bound to the take at `bundle_dir`: its topology sidecar, signed."""
    if bundle_dir is None:
        return []
    tail = gate_parameters()["topology_file"]
    return [{"name": str(bundle_dir / tail), "digest": {"sha256": sha(bundle_dir / tail)}}]


def dsse(predicate: dict, key: SigningKey, predicate_type: str | None = None,
         subjects: list[dict] | None = None) -> dict:
    """The predicate in an in-toto Statement in a DSSE envelope signed by `key`, built by hand
    so that it can carry what `sign_report` refuses to sign (an invalid predicate)."""
    stmt = {"_type": "https://in-toto.io/Statement/v1", "subject": subjects or [],
            "predicateType": predicate_type or get("readiness_report.v2").id, "predicate": predicate}
    payload = json.dumps(stmt).encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload), payload)
    return {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(),
            "signatures": [{"keyid": key.keyid,
                            "sig": base64.b64encode(key.private.sign(pae)).decode()}]}


def signed(predicate: dict, key: SigningKey, bundle_dir: Path | None = None) -> dict:
    return sign_report(predicate, bound_to(bundle_dir), key)


@pytest.fixture
def key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SigningKey:
    """A fresh signing key, trusted through a trust file of this test's own."""
    key = SigningKey.generate()
    trust_file = tmp_path / "trusted_keys.json"
    trust_file.write_text(json.dumps([key.trust_entry("test")]))
    monkeypatch.setenv("LUME_TRUST_FILE", str(trust_file))
    return key


def write_report(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def script(tmp_path: Path, name: str, body: str) -> str:
    """A scripted worker: a Python file run with this interpreter."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return f"{sys.executable} {path}"


# A scripted worker that writes contract-valid outputs without running pose (zero frames):
# it reads the flags of process_session.py and hashes the video like a real worker.
VALID_EMPTY_WORKER = """
    import argparse, hashlib, json, pathlib, time
    p = argparse.ArgumentParser()
    p.add_argument("--session", type=pathlib.Path); p.add_argument("--out", type=pathlib.Path)
    p.add_argument("--fps", type=float); p.add_argument("--label-windows-only", action="store_true")
    a = p.parse_args()
    out = a.out or a.session / "derived" / "sam3d"
    out.mkdir(parents=True, exist_ok=True)
    video = a.session / json.loads((a.session / "session.json").read_text())["video"]["path"]
    digest = hashlib.sha256(video.read_bytes()).hexdigest()
    (out / "sam3d_frames.jsonl").write_text("")
    (out / "summary.json").write_text(json.dumps({
        "schema": "lume.sam3d.summary.v1", "source_id": "somewhere", "source_path": "raw/video/webcam_main.mp4",
        "tool": "SAM3DBody-cpp", "worker": {"machine": "Mac5", "script": "process_session.py"},
        "sampling_policy": "label_windows_only" if a.label_windows_only else "fixed_fps",
        "fps": a.fps, "label_windows_only": a.label_windows_only, "frames_sampled": 0,
        "frames_with_body": 0, "started_at_unix": time.time(), "finished_at_unix": time.time(),
        "source_sha256_before": digest, "source_sha256_after": digest, "status": "complete"}))
    print("scripted worker done")
"""


def arrived(tmp_path: Path) -> Path:
    """The route-smoke root as sessions arrive on K11: archives, sidecars, transport manifests."""
    if not ROUTE_SMOKE.is_dir():
        pytest.fail(f"route-smoke fixtures missing: {ROUTE_SMOKE} (lume fixtures build)")
    root = tmp_path / "dance-sessions"
    for folder in (incoming_dir(), STORAGE_MANIFESTS_DIR):
        shutil.copytree(ROUTE_SMOKE / folder, root / folder)
    return root


def long_take_bundles(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / processed_dir()).glob(f"*/{BUNDLE_FILE}")
                  if any(s["source_type"] == "long_take_video"
                         for s in json.loads(p.read_text())["sources"]))


@pytest.fixture
def k11(tmp_path: Path) -> tuple[Path, str, Path]:
    """(root, bundle id, bundle dir): the committed route-smoke root (after index, bundle
    create and add Pose Coach), copied; its first long-take bundle."""
    if not ROUTE_SMOKE.is_dir():
        pytest.fail(f"route-smoke fixtures missing: {ROUTE_SMOKE} (lume fixtures build)")
    root = tmp_path / "dance-sessions"
    shutil.copytree(ROUTE_SMOKE, root)
    bundle_dir = long_take_bundles(root)[0]
    return root, json.loads((bundle_dir / BUNDLE_FILE).read_text())["bundle_id"], bundle_dir


def source_files(bundle_dir: Path) -> dict[str, str]:
    """sha256 of the long-take source's session.json, video and labels."""
    _entry, folder = long_take_source(bundle_dir, json.loads((bundle_dir / BUNDLE_FILE).read_text()))
    return {rel: sha(folder / rel) for rel in source_spec().required}


def run_cli(*args: str):
    return CliRunner().invoke(main, ["mac5", "process", *args])


# --------------------------------------------------------------------------- the happy path


@needs_mediapipe
def test_route_smoke_replay_with_the_shipped_worker(tmp_path: Path, key: SigningKey) -> None:
    """index -> bundle create -> add Pose Coach -> Mac5 process -> BagIt export, every document
    valid, the sources and the incoming archives unchanged."""
    root = arrived(tmp_path)
    storage.index_root(root)
    session_id = sorted(p.name for p in (root / processed_dir()).iterdir())[0]
    bundle_dir = storage.create_bundle(root, session_id)
    pose_root = tmp_path / "pose-coach"
    shutil.copytree(POSE_COACH, pose_root)
    storage.add_pose_coach(bundle_dir, storage.resolve_latest(pose_root))
    bundle_id = json.loads((bundle_dir / BUNDLE_FILE).read_text())["bundle_id"]
    gate = write_report(tmp_path / "gate.json", signed(green_predicate(), key, bundle_dir))
    sources_before = source_files(bundle_dir)
    incoming_before = tree(root / incoming_dir())

    result = process(root, bundle_id, WORKER, fps=1.0, gate_report=gate)

    assert result.derived_id == "sam3d_001" and result.status == "complete"
    assert result.frames_sampled >= 3  # 1 fps over a take of a few seconds
    derived = bundle_dir / "derived" / "sam3d"
    assert sorted(p.name for p in derived.iterdir()) == ["sam3d_frames.jsonl", "summary.json", "worker.log"]
    # every document in the bundle validates against its contract
    checked = [validate_file(p) for p in iter_documents([bundle_dir])]
    assert {r.contract for r in checked} >= {"rehearsal_bundle.v1", "sam3d_summary.v1", "sam3d_frame.v1"}
    assert all(r.ok for r in checked), [str(p) for r in checked for p in r.problems]
    # the derived entry records every output with its checksum and size
    bundle = json.loads((bundle_dir / "bundle.json").read_text())
    entry = next(d for d in bundle["derived"] if d["derived_id"] == "sam3d_001")
    assert entry["machine"] == "Mac5" and entry["tool"] == "MediaPipe-Pose"
    assert entry["path"] == "derived/sam3d/summary.json" and entry["sampling_policy"] == "fixed_fps"
    for out in entry["outputs"]:
        assert sha(bundle_dir / out["path"]) == out["sha256"]
        assert (bundle_dir / out["path"]).stat().st_size == out["byte_size"]
    summary = json.loads((derived / "summary.json").read_text())
    assert summary["source_sha256_before"] == summary["source_sha256_after"]
    assert summary["source_path"].endswith("raw/video/webcam_main.mp4")
    assert (bundle_dir / summary["source_path"]).is_file()
    assert summary["completion_gate_report"] == str(gate.resolve())
    # sources and incoming archives untouched
    assert source_files(bundle_dir) == sources_before
    assert summary["source_sha256_before"] == sources_before["raw/video/webcam_main.mp4"]
    assert tree(root / incoming_dir()) == incoming_before
    # the bundle, Mac5 outputs included, exports as a valid BagIt bag
    # (the Pose Coach session is kept by reference on the Pose Coach root this machine mounts)
    mounts = {"machine": "K11", "pose_coach_root": str(pose_root)}
    bag = export_bag(bundle_dir, root / "_exports" / f"{bundle_id}.bag", include_referenced=True, config=mounts)
    assert check_bag(bag).errors == []


@needs_mediapipe
def test_cli_label_windows_only_with_a_signed_report_and_rerun_replaces_the_entry(
        k11, tmp_path: Path, key: SigningKey) -> None:
    root, bundle_id, bundle_dir = k11
    gate = write_report(tmp_path / "gate.dsse.json", signed(green_predicate(), key, bundle_dir))
    result = run_cli(str(root), bundle_id, "--worker", WORKER, "--label-windows-only",
                     "--fps", "1", "--gate-report", str(gate), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["sampling_policy"] == "label_windows_only"
    assert "--label-windows-only" in report["command"]
    summary = json.loads((bundle_dir / "derived/sam3d/summary.json").read_text())
    assert summary["label_windows_only"] is True and summary["label_windows"]
    frames = [json.loads(line) for line in (bundle_dir / "derived/sam3d/sam3d_frames.jsonl").read_text().splitlines()]
    windows = summary["label_windows"]
    assert frames and all(any(w["label"] == f["label"] and w["t_start_s"] - 1 <= f["t_s"] <= w["t_end_s"]
                              for w in windows) for f in frames)

    # a second run (scripted worker, placeholders) replaces sam3d_001 instead of adding an entry
    worker = script(tmp_path, "empty", VALID_EMPTY_WORKER) + " --session {session} --out {out} --fps {fps}"
    again = run_cli(str(root), bundle_id, "--worker", worker, "--gate-report", str(gate))
    assert again.exit_code == 0, again.output
    bundle = json.loads((bundle_dir / "bundle.json").read_text())
    sam3d = [d for d in bundle["derived"] if d["path"] == "derived/sam3d/summary.json"]
    assert [d["derived_id"] for d in sam3d] == ["sam3d_001"]
    assert sam3d[0]["tool"] == "SAM3DBody-cpp" and sam3d[0]["sampling_policy"] == "fixed_fps"
    stamped = json.loads((bundle_dir / "derived/sam3d/summary.json").read_text())
    assert stamped["source_id"] == bundle["sources"][0]["source_id"]  # K11 provenance stamped
    assert "scripted worker done" in (bundle_dir / "derived/sam3d/worker.log").read_text()
    assert not [p for p in (bundle_dir / "derived").iterdir() if p.name.startswith(".")]


# --------------------------------------------------------------------------- the gate


def _refused(result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    for needle in needles:
        assert needle in result.stderr, result.stderr


@pytest.mark.parametrize("case", ["missing", "bare", "untrusted", "stale", "red", "mac5_not_allowed",
                                  "invalid_predicate", "no_gate_block", "not_json",
                                  "wrong_predicate_type", "unbound"])
def test_refused_without_a_green_signed_gate_and_the_bundle_is_unchanged(
        k11, tmp_path: Path, key: SigningKey, case: str) -> None:
    root, bundle_id, bundle_dir = k11
    before = tree(bundle_dir)
    red = dict(get("readiness_report.v2").examples[1], generated_at=now_iso())
    not_allowed = green_predicate()
    not_allowed["verdicts"]["mac5_heavy_reconstruction_allowed"] = False
    contradictory = green_predicate()  # allowed without completion_ready: breaks the contract
    contradictory["verdicts"]["completion_ready"] = False
    no_gate = green_predicate()
    del no_gate["gate"]
    stale = green_predicate()
    stale["generated_at"] = "2020-01-01T00:00:00Z"
    reports = {
        "bare": (green_predicate(), ["unsigned"]),
        "untrusted": (signed(green_predicate(), SigningKey.generate()), ["untrusted key"]),
        "stale": (signed(stale, key), ["stale"]),
        "red": (signed(red, key), ["overall is 'red'"]),
        "mac5_not_allowed": (signed(not_allowed, key),
                             ["mac5_heavy_reconstruction_allowed is false", "SAFE-MAC5-GATE"]),
        "invalid_predicate": (dsse(contradictory, key), ["readiness_report.v2", "completion_ready"]),
        "no_gate_block": (signed(no_gate, key), ["gate.kind is None", "mac4_first"]),
        "wrong_predicate_type": (dsse(green_predicate(), key, "https://example.org/other"),
                                 ["predicateType"]),
        "unbound": (signed(green_predicate(), key), ["names no", "device_topology.json", "SAFE-MAC5-GATE"]),
    }
    args = [str(root), bundle_id, "--worker", WORKER]
    if case == "missing":
        needles = ["no completion-gate report", "SAFE-MAC5-GATE"]
    elif case == "not_json":
        (tmp_path / "gate.json").write_text("{nope")
        args += ["--gate-report", str(tmp_path / "gate.json")]
        needles = ["not valid JSON"]
    else:
        doc, needles = reports[case]
        args += ["--gate-report", str(write_report(tmp_path / "gate.json", doc))]
    _refused(run_cli(*args), "refused", *needles)
    assert tree(bundle_dir) == before


def test_gate_check_returns_the_predicate_of_a_green_signed_report(
        tmp_path: Path, key: SigningKey) -> None:
    pred = green_predicate()
    topology = tmp_path / gate_parameters()["topology_file"]
    topology.parent.mkdir(parents=True, exist_ok=True)
    topology.write_text("{}")
    report = read_completion_report(write_report(tmp_path / "dsse.json", signed(pred, key, tmp_path)))
    assert report.predicate == pred and report.subjects == bound_to(tmp_path)
    broken = signed(pred, key)
    broken["payload"] = broken["payload"][:-8] + "AAAAAAAA"
    with pytest.raises(CompletionRefused, match="SAFE-MAC5-GATE"):
        read_completion_report(write_report(tmp_path / "broken.json", broken))
    with pytest.raises(CompletionRefused, match="cannot read"):
        read_completion_report(tmp_path / "absent.json")


def v1_report(key: SigningKey, subjects: list[dict], listed: list[dict]) -> dict:
    """A completion-gate report as lume wrote it before readiness_report.v2: the predicate
    repeats the subjects (`listed`), the Statement names `subjects`."""
    from lume.runtime.core import sign_statement

    pred = {**green_predicate(), "schema": "lume.readiness_report.v1", "subjects": listed}
    return sign_statement(pred, subjects, key, contract="readiness_report.v1")


def test_a_v1_report_still_lets_mac5_start_when_its_two_subject_lists_agree(
        k11, tmp_path: Path, key: SigningKey) -> None:
    _, _, bundle_dir = k11
    subjects = bound_to(bundle_dir)
    report = read_completion_report(write_report(tmp_path / "v1.json", v1_report(key, subjects, subjects)))
    assert report.predicate["schema"] == "lume.readiness_report.v1" and report.subjects == subjects
    assert binding_problem(report, bundle_dir) is None


def test_a_v1_report_whose_predicate_lists_other_files_is_refused(k11, tmp_path: Path,
                                                                  key: SigningKey) -> None:
    """The Statement binds the take, the predicate names nothing: two answers, so neither counts."""
    _, _, bundle_dir = k11
    doc = v1_report(key, bound_to(bundle_dir), [])
    with pytest.raises(CompletionRefused, match="Statement subjects differ"):
        read_completion_report(write_report(tmp_path / "v1.json", doc))


# --------------------------------------------------------------------------- failing workers


def test_failing_worker_leaves_the_bundle_unchanged_and_reports_its_stderr(
        k11, tmp_path: Path, key: SigningKey) -> None:
    root, bundle_id, bundle_dir = k11
    gate = write_report(tmp_path / "gate.json", signed(green_predicate(), key, bundle_dir))
    before = tree(bundle_dir)
    worker = script(tmp_path, "boom", """
        import sys
        print("starting", flush=True)
        sys.stderr.write("SAM3DBody-cpp: model file not found: sam3d_body.onnx\\n")
        sys.exit(3)
    """)
    _refused(run_cli(str(root), bundle_id, "--worker", worker, "--gate-report", str(gate)),
             "worker exited with status 3", "model file not found: sam3d_body.onnx")
    assert tree(bundle_dir) == before
    _refused(run_cli(str(root), bundle_id, "--worker", "/no/such/worker", "--gate-report", str(gate)),
             "worker command not found")
    assert tree(bundle_dir) == before


def test_worker_writing_an_invalid_summary_is_refused_with_the_contract_error(
        k11, tmp_path: Path, key: SigningKey) -> None:
    root, bundle_id, bundle_dir = k11
    gate = write_report(tmp_path / "gate.json", signed(green_predicate(), key, bundle_dir))
    before = tree(bundle_dir)
    worker = script(tmp_path, "invalid", """
        import json, pathlib, sys
        out = pathlib.Path(sys.argv[sys.argv.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps({"schema": "lume.sam3d.summary.v1", "fps": -1}))
        (out / "sam3d_frames.jsonl").write_text('{"frame_index": 0, "t_s": 0, "present": true}\\n')
    """) + " --out {out}"
    result = run_cli(str(root), bundle_id, "--worker", worker, "--gate-report", str(gate))
    _refused(result, "break their contracts", "sam3d_summary.v1", "summary.json", "$.fps",
             "sam3d_frames.jsonl:1", "sam3d_frame.v1")
    assert tree(bundle_dir) == before


def test_summary_that_disagrees_with_the_run_is_refused(
        k11, tmp_path: Path, key: SigningKey) -> None:
    root, bundle_id, bundle_dir = k11
    gate = write_report(tmp_path / "gate.json", signed(green_predicate(), key, bundle_dir))
    before = tree(bundle_dir)
    lying = VALID_EMPTY_WORKER.replace('"frames_sampled": 0', '"frames_sampled": 7')
    result = run_cli(str(root), bundle_id, "--worker", script(tmp_path, "lying", lying),
                     "--gate-report", str(gate))
    _refused(result, "disagrees with the run", "$.frames_sampled is 7, expected 0")
    # a worker ignoring --label-windows-only is caught too
    ignoring = VALID_EMPTY_WORKER.replace('"label_windows_only": a.label_windows_only', '"label_windows_only": False') \
        .replace('"label_windows_only" if a.label_windows_only else "fixed_fps"', '"fixed_fps"')
    result = run_cli(str(root), bundle_id, "--worker", script(tmp_path, "ignoring", ignoring),
                     "--label-windows-only", "--gate-report", str(gate))
    _refused(result, "$.label_windows_only is False, expected True")
    assert tree(bundle_dir) == before


def test_worker_touching_sources_is_refused(k11, tmp_path: Path, key: SigningKey) -> None:
    root, bundle_id, bundle_dir = k11
    gate = write_report(tmp_path / "gate.json", signed(green_predicate(), key, bundle_dir))
    before = tree(bundle_dir)
    # modifies its working copy of the labels
    worker = script(tmp_path, "copy_toucher", """
        import pathlib, sys
        s = pathlib.Path(sys.argv[sys.argv.index("--session") + 1])
        with open(s / "raw/labels/labels.jsonl", "a") as fh:
            fh.write("\\n")
    """)
    _refused(run_cli(str(root), bundle_id, "--worker", worker, "--gate-report", str(gate)),
             "modified its copy of the sources", "raw/labels/labels.jsonl")
    assert tree(bundle_dir) == before
    # modifies the K11 source itself (the test hands it the path)
    _entry, folder = long_take_source(bundle_dir, json.loads((bundle_dir / BUNDLE_FILE).read_text()))
    k11_labels = folder / "raw/labels/labels.jsonl"
    worker = script(tmp_path, "k11_toucher", f"""
        with open({str(k11_labels)!r}, "a") as fh:
            fh.write("\\n")
    """)
    _refused(run_cli(str(root), bundle_id, "--worker", worker, "--gate-report", str(gate)),
             "SOURCES MODIFIED on K11", "raw/labels/labels.jsonl")
    assert not (bundle_dir / "derived" / "sam3d").exists()


def test_bad_root_or_bundle_is_bad_input(k11, tmp_path: Path, key: SigningKey) -> None:
    root, bundle_id, _bundle_dir = k11
    gate = write_report(tmp_path / "gate.json", signed(green_predicate(), key, _bundle_dir))
    for args in ([str(tmp_path / "nowhere"), bundle_id], [str(root), "no-such-bundle"]):
        result = run_cli(*args, "--worker", WORKER, "--gate-report", str(gate))
        assert result.exit_code == 2, result.output
    with pytest.raises(Mac5Refused):
        process(root, bundle_id, WORKER, gate_report=None)


def test_worker_command_flags_and_placeholders(tmp_path: Path) -> None:
    s, o = tmp_path / "s", tmp_path / "o"
    argv, names_out = worker_command("python3 process_session.py", s, o, 1.0, True)
    assert argv == ["python3", "process_session.py", "--session", str(s), "--fps", "1",
                    "--label-windows-only"] and not names_out
    argv, names_out = worker_command("run --in={session} --out {out} -r {fps}", s, o, 0.5, False)
    assert argv == ["run", f"--in={s}", "--out", str(o), "-r", "0.5"] and names_out


# --------------------------------------------------------------------------- the working copy


def test_a_relative_workdir_is_taken_from_the_current_folder(
        k11, tmp_path: Path, key: SigningKey, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker runs inside the working copy, so a relative --workdir must not be handed to
    it as a relative --session (issue 15: `--workdir REL` failed)."""
    root, bundle_id, bundle_dir = k11
    gate = write_report(tmp_path / "gate.json", signed(green_predicate(), key, bundle_dir))
    (tmp_path / "scratch").mkdir()
    monkeypatch.chdir(tmp_path)
    worker = script(tmp_path, "empty", VALID_EMPTY_WORKER)
    result = run_cli(str(root), bundle_id, "--worker", worker, "--gate-report", str(gate),
                     "--workdir", "scratch", "--json")
    assert result.exit_code == 0, result.output
    assert (bundle_dir / "derived/sam3d/summary.json").is_file()
    assert list((tmp_path / "scratch").iterdir()) == []  # the working copy is gone afterwards


def test_a_missing_workdir_is_bad_input_not_a_traceback(k11, tmp_path: Path, key: SigningKey) -> None:
    root, bundle_id, bundle_dir = k11
    gate = write_report(tmp_path / "gate.json", signed(green_predicate(), key, bundle_dir))
    before = tree(bundle_dir)
    result = run_cli(str(root), bundle_id, "--worker", script(tmp_path, "empty", VALID_EMPTY_WORKER),
                     "--gate-report", str(gate), "--workdir", str(tmp_path / "nowhere"))
    assert result.exit_code == 2, result.output
    assert "nowhere" in result.stderr and "--workdir" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert tree(bundle_dir) == before
