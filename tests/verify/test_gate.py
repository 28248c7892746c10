"""The Mac4-first completion gate against real HTTP servers on loopback (stand-ins for Mac4)."""
from __future__ import annotations

import copy
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner

from lume.runtime.cli import main
from lume.runtime.completion import (
    CompletionReport,
    binding_problem,
    resolve_target,
    run_completion_gate,
)
from lume.runtime.core import get, rfc3339
from lume.runtime.core._keys import SigningKey, load_trust
from lume.runtime.core._signing import decode_statement, verify_report
from lume.verifiers import sign_completion_report

pytestmark = pytest.mark.network


# what dates each document the gate audits (evidence_freshness.v1), and how it is written
TIME_FIELDS = {"body_truth.v0": ("timestamp", lambda t: int(t * 1000)),
               "mac4_live_output_state.v1": ("generated_at", rfc3339),
               "mrt2_browser_proof.v1": ("created_at", rfc3339),
               "device_topology_mac4_first.v1": ("created_at_unix", lambda t: t)}


def example(stem: str, i: int = 0, *, age_s: float = 0) -> dict[str, Any]:
    """A contract example, dated `age_s` before now when the gate judges its age."""
    doc = copy.deepcopy(get(stem).examples[i])
    if stem in TIME_FIELDS:
        name, write = TIME_FIELDS[stem]
        doc[name] = write(time.time() - age_s)
    return doc


class Served:
    """An HTTP server on 127.0.0.1 that answers GET PATH with a configurable JSON document."""

    def __init__(self, docs: dict[str, Any]):
        self.docs = docs
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                status, body = 404, b'{"error": "not found"}'
                if self.path in served.docs:
                    doc = served.docs[self.path]
                    status, body = doc if isinstance(doc, tuple) else (200, json.dumps(doc).encode())
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mac4:
    """SSH (a bare listening socket), BodyTruth (/body-truth) and the bridge (/state, /mrt2-proof)."""

    def __init__(self) -> None:
        self.ssh = socket.socket()
        self.ssh.bind(("127.0.0.1", 0))
        self.ssh.listen(8)
        self.bodytruth = Served({"/body-truth": example("body_truth.v0")})
        self.bridge = Served({"/state": example("mac4_live_output_state.v1"),
                              "/mrt2-proof": example("mrt2_browser_proof.v1", 0)})

    def args(self) -> list[str]:
        return ["--host", "127.0.0.1", "--ssh-port", str(self.ssh.getsockname()[1]),
                "--bodytruth-port", str(self.bodytruth.port), "--bridge-port", str(self.bridge.port)]

    def ports(self) -> dict[str, int]:
        return {"ssh": self.ssh.getsockname()[1], "bodytruth": self.bodytruth.port, "output_bridge": self.bridge.port}

    def close(self) -> None:
        self.ssh.close()
        self.bodytruth.close()
        self.bridge.close()


@pytest.fixture(autouse=True)
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh key folder and trust file outside the repository; no machine configuration."""
    monkeypatch.setenv("LUME_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("LUME_TRUST_FILE", raising=False)
    monkeypatch.delenv("LUME_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "keys"


@pytest.fixture
def mac4() -> Iterator[Mac4]:
    m = Mac4()
    yield m
    m.close()


@pytest.fixture
def topology(tmp_path: Path) -> Path:
    p = tmp_path / "bundle" / "derived" / "mac4_first" / "device_topology.json"
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps(example("device_topology_mac4_first.v1")))
    return p


def free_ports(n: int) -> list[int]:
    """Ports nobody listens on (bound, then released)."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def gate(args: list[str]) -> Any:
    return CliRunner().invoke(main, ["gate", *args])


def statement_of(path: Path) -> dict[str, Any]:
    """The in-toto Statement of a report, after checking it is authentic and trusted."""
    return verify_report(json.loads(path.read_text()), load_trust())


def report_of(path: Path) -> dict[str, Any]:
    """The predicate of a report, after checking it is authentic and trusted."""
    return statement_of(path)["predicate"]


def check(pred: dict[str, Any], check_id: str) -> dict[str, Any]:
    (found,) = [c for c in pred["checks"] if c["id"] == check_id]
    return found


def test_all_green_is_ready_and_the_signed_report_verifies(mac4: Mac4, topology: Path, tmp_path: Path) -> None:
    out = tmp_path / "gate.json"
    res = gate(["mac4-first", *mac4.args(), "--topology", str(topology), "-o", str(out)])
    assert res.exit_code == 0, res.output
    pred = report_of(out)
    verdicts = dict(pred["verdicts"])
    rests_on = verdicts.pop("rests_on")
    assert verdicts == {"rig_safe": True, "data_sound": True, "overall": "green",
                        "completion_ready": True, "mac5_heavy_reconstruction_allowed": True}
    assert "gate.mac4_first.mrt2_proof" in rests_on["rig_safe"]
    assert rests_on["data_sound"] == ["gate.mac4_first.body_truth"] and pred["causes"] == []
    assert pred["gate"]["kind"] == "mac4_first" and pred["gate"]["full_audit_ran"] is True
    times = {t["evidence"]: t for t in pred["gate"]["evidence_times"]}
    assert set(times) == {"body_truth_frame", "mac4_live_state", "mrt2_proof", "device_topology"}
    assert all(t["fresh"] and 0 <= t["age_s"] < 60 for t in times.values())
    assert times["mrt2_proof"]["field"] == "created_at" and times["mrt2_proof"]["max_age_s"] == 86400
    assert all(p["reachable"] for p in pred["gate"]["preflight"]["ports"])
    assert {c["status"] for c in pred["checks"]} == {"pass"}
    names = {s["name"] for s in statement_of(out)["subject"]}
    assert "subjects" not in pred  # each digest once: in the Statement
    assert f"http://127.0.0.1:{mac4.bodytruth.port}/body-truth" in names and str(topology) in names
    assert out.with_suffix(".md").exists() and out.with_suffix(".html").exists()


def test_nothing_listening_writes_a_fast_failure_report(tmp_path: Path) -> None:
    ssh, bt, br = free_ports(3)
    out = tmp_path / "preflight.json"
    res = gate(["mac4-first", "--host", "127.0.0.1", "--ssh-port", str(ssh), "--bodytruth-port", str(bt),
                "--bridge-port", str(br), "--output", str(out)])
    assert res.exit_code == 1, res.output
    pred = report_of(out)  # even a failure is signed
    assert pred["verdicts"]["completion_ready"] is False
    assert pred["verdicts"]["mac5_heavy_reconstruction_allowed"] is False
    assert pred["verdicts"]["overall"] == "red"
    assert pred["gate"]["full_audit_ran"] is False
    assert [(p["name"], p["port"], p["reachable"]) for p in pred["gate"]["preflight"]["ports"]] == [
        ("ssh", ssh, False), ("bodytruth", bt, False), ("output_bridge", br, False)]
    pre = check(pred, "gate.mac4_first.preflight")
    assert pre["status"] == "fail" and {e["field"] for e in pre["evidence"]} == {
        "ports.ssh", "ports.bodytruth", "ports.output_bridge"}
    assert check(pred, "gate.mac4_first.full_audit")["status"] == "inconclusive"


def test_one_port_down_skips_the_audit(mac4: Mac4, topology: Path, tmp_path: Path) -> None:
    ports = mac4.ports()
    (ports["ssh"],) = free_ports(1)
    target = resolve_target(None, host="127.0.0.1", ports=ports, topology=topology)
    run = run_completion_gate(target)
    assert not run.full_audit_ran and not run.completion_ready
    assert [p["reachable"] for p in run.probes] == [False, True, True]


def test_endpoint_smoke_proof_is_never_enough(mac4: Mac4, topology: Path, tmp_path: Path) -> None:
    mac4.bridge.docs["/mrt2-proof"] = example("mrt2_browser_proof.v1", 1)  # a valid endpoint_smoke proof
    out = tmp_path / "gate.json"
    res = gate(["mac4-first", *mac4.args(), "--topology", str(topology), "--output", str(out)])
    assert res.exit_code == 1
    pred = report_of(out)
    assert pred["verdicts"]["completion_ready"] is False
    proof = check(pred, "gate.mac4_first.mrt2_proof")
    assert proof["status"] == "fail"
    (bad,) = [e for e in proof["evidence"] if e["field"] == "proof_kind"]
    assert (bad["expected"], bad["found"]) == ("browser_web_midi_runtime", "endpoint_smoke")


def test_mac4_sending_rekordbox_commands_is_not_ready(mac4: Mac4, topology: Path, tmp_path: Path) -> None:
    state = example("mac4_live_output_state.v1")
    state["mac4_sends_rekordbox_commands"] = True
    mac4.bridge.docs["/state"] = state
    out = tmp_path / "gate.json"
    assert gate(["mac4-first", *mac4.args(), "--topology", str(topology), "--output", str(out)]).exit_code == 1
    pred = report_of(out)
    live = check(pred, "gate.mac4_first.live_output_state")
    assert live["status"] == "fail" and pred["verdicts"]["mac5_heavy_reconstruction_allowed"] is False
    fields = {(e["field"], json.dumps(e["found"])) for e in live["evidence"]}
    assert ("mac4_sends_rekordbox_commands", "true") in fields  # the explicit SAFE-MAC4-READONLY evidence
    assert any(e["field"] == "$.mac4_sends_rekordbox_commands" for e in live["evidence"])  # and the contract's


def test_invalid_body_truth_is_not_ready_with_evidence(mac4: Mac4, topology: Path, tmp_path: Path) -> None:
    doc = example("body_truth.v0")
    doc["confidence"] = 1.7
    del doc["raw_ref"]
    mac4.bodytruth.docs["/body-truth"] = doc
    target = resolve_target(None, host="127.0.0.1", ports=mac4.ports(), topology=topology)
    run = run_completion_gate(target)
    assert run.full_audit_ran and not run.completion_ready
    bt = next(c for c in run.checks if c.id == "gate.mac4_first.body_truth")
    assert bt.status == "fail"
    assert {"$.confidence", "$"} <= {e.field for e in bt.evidence}
    assert all("body_truth.v0" in e.message for e in bt.evidence)


def test_http_error_and_non_json_fail(mac4: Mac4, topology: Path) -> None:
    mac4.bodytruth.docs["/body-truth"] = (500, b"oops")
    mac4.bridge.docs["/state"] = (200, b"{not json")
    run = run_completion_gate(resolve_target(None, host="127.0.0.1", ports=mac4.ports(), topology=topology))
    by_id = {c.id: c for c in run.checks}
    assert by_id["gate.mac4_first.body_truth"].status == "fail"
    assert by_id["gate.mac4_first.body_truth"].evidence[0].found == 500
    assert "not valid JSON" in by_id["gate.mac4_first.live_output_state"].evidence[0].message
    assert not run.completion_ready


def test_proof_from_a_local_file(mac4: Mac4, topology: Path, tmp_path: Path) -> None:
    del mac4.bridge.docs["/mrt2-proof"]
    proof = tmp_path / "mrt2_browser_proof.json"
    proof.write_text(json.dumps(example("mrt2_browser_proof.v1", 0)))
    out = tmp_path / "gate.json"
    res = gate(["mac4-first", *mac4.args(), "--topology", str(topology), "--proof-file", str(proof),
                "--output", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert str(proof) in {s["name"] for s in statement_of(out)["subject"]}


def test_proof_url_option(mac4: Mac4, topology: Path, tmp_path: Path) -> None:
    mac4.bridge.docs["/elsewhere"] = mac4.bridge.docs.pop("/mrt2-proof")
    url = f"http://127.0.0.1:{mac4.bridge.port}/elsewhere"
    run = run_completion_gate(resolve_target(None, host="127.0.0.1", ports=mac4.ports(), topology=topology, proof_url=url))
    assert run.completion_ready


def test_topology_missing_or_unsafe(mac4: Mac4, topology: Path) -> None:
    run = run_completion_gate(resolve_target(None, host="127.0.0.1", ports=mac4.ports()))
    topo = next(c for c in run.checks if c.id == "gate.mac4_first.device_topology")
    assert topo.status == "inconclusive" and not run.completion_ready

    doc = example("device_topology_mac4_first.v1")
    doc["devices"][1]["live_command_source"] = True  # a Mac4 camera claiming the command path
    doc["command_authority_changed"] = True
    topology.write_text(json.dumps(doc))
    run = run_completion_gate(resolve_target(None, host="127.0.0.1", ports=mac4.ports(), topology=topology))
    topo = next(c for c in run.checks if c.id == "gate.mac4_first.device_topology")
    assert topo.status == "fail" and not run.completion_ready
    found = {e.field: e.found for e in topo.evidence if e.ok is False}
    assert found["command_authority_changed"] is True
    assert found["devices[].live_command_source"] == ["femto_mega"]


def test_preflight_only_is_never_completion_ready(mac4: Mac4, tmp_path: Path) -> None:
    out = tmp_path / "pre.json"
    res = gate(["mac4-first", "--preflight-only", *mac4.args(), "--output", str(out)])
    assert res.exit_code == 0, res.output
    pred = report_of(out)
    assert pred["gate"]["full_audit_ran"] is False and pred["verdicts"]["completion_ready"] is False
    assert check(pred, "gate.mac4_first.preflight")["status"] == "pass"


def test_defaults_come_from_the_machine_configuration(mac4: Mac4, topology: Path, tmp_path: Path) -> None:
    cfg = example("machine_config.v1", 1)  # Mac5
    ports = mac4.ports()
    cfg["mac4"] = {"host": "127.0.0.1", "ssh_port": ports["ssh"], "bodytruth_port": ports["bodytruth"],
                   "bridge_port": ports["output_bridge"]}
    cfg["key_dir"], cfg["trust_file"] = str(tmp_path / "k2"), str(tmp_path / "k2" / "trusted.json")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    out = tmp_path / "gate.json"
    res = gate(["mac4-first", "--config", str(path), "--topology", str(topology), "--output", str(out)])
    assert res.exit_code == 0, res.output

    target = resolve_target({"mac4": {"host": "mac4.local"}})
    assert target.ports == {"ssh": 22, "bodytruth": 9405, "output_bridge": 9415}  # machine_config.v1 defaults


def test_no_host_or_bad_config_is_bad_input(tmp_path: Path) -> None:
    assert gate(["mac4-first", "--output", str(tmp_path / "x.json")]).exit_code == 2
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({"schema": "lume.machine_config.v1", "machine": "Mac5"}))
    res = gate(["mac4-first", "--config", str(bad), "--output", str(tmp_path / "x.json")])
    assert res.exit_code == 2 and "machine_config.v1" in res.output
    assert not (tmp_path / "x.json").exists()


def test_watch_logs_every_attempt_and_gives_up(tmp_path: Path) -> None:
    ssh, bt, br = free_ports(3)
    log, out = tmp_path / "watch.jsonl", tmp_path / "gate.json"
    res = gate(["watch", "--max-attempts", "3", "--interval", "0", "--watch-log", str(log), "--output", str(out),
                "--host", "127.0.0.1", "--ssh-port", str(ssh), "--bodytruth-port", str(bt), "--bridge-port", str(br)])
    assert res.exit_code == 1, res.output
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [x["attempt"] for x in lines] == [1, 2, 3]
    assert not any(x["preflight_ready"] for x in lines)
    assert report_of(out)["gate"]["full_audit_ran"] is False


def test_watch_runs_the_full_gate_once_ready(mac4: Mac4, topology: Path, tmp_path: Path) -> None:
    log, out = tmp_path / "watch.jsonl", tmp_path / "gate.json"
    log.write_text(json.dumps({"attempt": 1, "earlier": True}) + "\n")  # appended to, never rewritten
    res = gate(["watch", "--max-attempts", "5", "--interval", "0", "--watch-log", str(log), "--output", str(out),
                *mac4.args(), "--topology", str(topology)])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == 2 and lines[0]["earlier"] and lines[1]["preflight_ready"] and lines[1]["completion_ready"]
    assert report_of(out)["verdicts"]["mac5_heavy_reconstruction_allowed"] is True


def test_mac5_refuses_unless_the_report_verifies(mac4: Mac4, topology: Path, tmp_path: Path) -> None:
    from lume.runtime.completion import CompletionRefused, read_completion_report
    from lume.runtime.core._keys import load_or_create_key, trust

    key = load_or_create_key()
    trust(key.public_hex)
    ready = run_completion_gate(resolve_target(None, host="127.0.0.1", ports=mac4.ports(), topology=topology))
    good = tmp_path / "good.json"
    sign_completion_report(ready, key, good)
    assert read_completion_report(good).predicate["verdicts"]["completion_ready"] is True

    stranger = tmp_path / "stranger.json"
    sign_completion_report(ready, SigningKey.generate(), stranger)
    with pytest.raises(CompletionRefused, match="untrusted"):
        read_completion_report(stranger)

    stale = tmp_path / "stale.json"
    sign_completion_report(ready, key, stale, generated_at="2020-01-01T00:00:00Z")
    with pytest.raises(CompletionRefused, match="stale"):
        read_completion_report(stale)

    tampered = tmp_path / "tampered.json"
    env = json.loads(good.read_text())
    stmt = decode_statement(env)
    stmt["predicate"]["root"] = "elsewhere"
    import base64
    env["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    tampered.write_text(json.dumps(env))
    with pytest.raises(CompletionRefused, match="signature"):
        read_completion_report(tampered)

    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(stmt["predicate"] | {"root": good.name}))
    with pytest.raises(CompletionRefused, match="unsigned|signed"):
        read_completion_report(bare)

    (ssh,) = free_ports(1)
    down = run_completion_gate(resolve_target(None, host="127.0.0.1", ports=mac4.ports() | {"ssh": ssh}))
    red = tmp_path / "red.json"
    sign_completion_report(down, key, red)
    with pytest.raises(CompletionRefused, match="completion_ready|overall"):
        read_completion_report(red)


# ---------------------------------------------------------------------------- freshness (issue 13)
def _gate_run(mac4: Mac4, topology: Path, **kw: Any):
    return run_completion_gate(resolve_target(None, host="127.0.0.1", ports=mac4.ports(), topology=topology), **kw)


def _failed(run, check_id: str) -> list[Any]:
    c = next(c for c in run.checks if c.id == check_id)
    assert c.status == "fail", (check_id, [e.message for e in c.evidence])
    return [e for e in c.evidence if e.ok is False]


def test_a_six_month_old_proof_and_a_2020_state_are_not_ready(mac4: Mac4, topology: Path, tmp_path: Path) -> None:
    """The attack of issue 13: old evidence gave completion_ready=true."""
    mac4.bridge.docs["/mrt2-proof"] = example("mrt2_browser_proof.v1", 0, age_s=183 * 86400)
    state = example("mac4_live_output_state.v1")
    state["generated_at"] = "2020-01-01T00:00:00Z"
    mac4.bridge.docs["/state"] = state
    out = tmp_path / "gate.json"
    res = gate(["mac4-first", *mac4.args(), "--topology", str(topology), "-o", str(out)])
    assert res.exit_code == 1
    assert "stale: created_at" in res.output and "older than the 24.0 h limit" in res.output
    pred = report_of(out)
    assert pred["verdicts"]["completion_ready"] is False
    assert pred["verdicts"]["mac5_heavy_reconstruction_allowed"] is False
    (proof,) = [e for e in check(pred, "gate.mac4_first.mrt2_proof")["evidence"] if e["field"] == "created_at"]
    assert "183.0 d old" in proof["message"] and "mrt2_browser_proof.v1" in proof["message"]
    (state_e,) = [e for e in check(pred, "gate.mac4_first.live_output_state")["evidence"]
                  if e["field"] == "generated_at"]
    assert state_e["found"] == "2020-01-01T00:00:00Z" and "60 s limit" in state_e["message"]
    times = {t["evidence"]: t for t in pred["gate"]["evidence_times"]}
    assert not times["mrt2_proof"]["fresh"] and not times["mac4_live_state"]["fresh"]
    assert times["body_truth_frame"]["fresh"]
    assert any("mrt2_proof failed" in c or "gate.mac4_first.mrt2_proof failed" in c for c in pred["causes"])


def test_future_dated_evidence_is_not_ready(mac4: Mac4, topology: Path) -> None:
    mac4.bodytruth.docs["/body-truth"] = example("body_truth.v0", age_s=-3600)  # an hour ahead
    (bad,) = _failed(_gate_run(mac4, topology), "gate.mac4_first.body_truth")
    assert bad.field == "timestamp" and "dated in the future, 60 min ahead" in bad.message
    assert "5 min clock-skew allowance" in bad.message and "body_truth.v0" in bad.message


def test_a_stale_body_truth_frame_and_topology_are_not_ready(mac4: Mac4, topology: Path) -> None:
    mac4.bodytruth.docs["/body-truth"] = example("body_truth.v0", age_s=600)
    topology.write_text(json.dumps(example("device_topology_mac4_first.v1", age_s=3 * 86400)))
    run = _gate_run(mac4, topology)
    assert not run.completion_ready
    (frame,) = _failed(run, "gate.mac4_first.body_truth")
    assert "10 min old, older than the 10 s limit" in frame.message
    (topo,) = _failed(run, "gate.mac4_first.device_topology")
    assert topo.field == "created_at_unix" and "3.0 d old" in topo.message


def test_a_topology_without_a_time_cannot_be_judged_fresh(mac4: Mac4, topology: Path) -> None:
    doc = example("device_topology_mac4_first.v1")
    del doc["created_at_unix"]
    topology.write_text(json.dumps(doc))
    (topo,) = _failed(_gate_run(mac4, topology), "gate.mac4_first.device_topology")
    assert "created_at_unix is missing" in topo.message


def test_the_gate_judges_every_document_against_one_clock(mac4: Mac4, topology: Path) -> None:
    later = time.time() + 2 * 86400  # the same documents, judged two days later
    run = _gate_run(mac4, topology, now=later)
    assert not run.completion_ready
    assert {t["evidence"] for t in run.times if not t["fresh"]} == {
        "body_truth_frame", "mac4_live_state", "mrt2_proof", "device_topology"}


def test_a_stale_gate_report_is_refused_by_mac5_with_the_reason(mac4: Mac4, topology: Path, tmp_path: Path) -> None:
    from lume.runtime.completion import CompletionRefused, read_completion_report
    from lume.runtime.core._keys import load_or_create_key, trust

    key = load_or_create_key()
    trust(key.public_hex)
    good = tmp_path / "good.json"
    sign_completion_report(_gate_run(mac4, topology), key, good)
    assert read_completion_report(good).predicate["verdicts"]["completion_ready"] is True
    with pytest.raises(CompletionRefused, match=r"stale: generated_at .* older than the 24.0 h limit "
                                                r"\[readiness_report.v2; completion_gate_report"):
        read_completion_report(good, now=time.time() + 2 * 86400)
    with pytest.raises(CompletionRefused, match="dated in the future"):
        read_completion_report(good, now=time.time() - 3600)


def test_mac5_refuses_a_gate_report_of_another_take(mac4: Mac4, topology: Path, tmp_path: Path) -> None:
    ready = _gate_run(mac4, topology)
    report = sign_and_read(ready, tmp_path)
    assert binding_problem(report, topology.parents[2]) is None  # the take the gate audited
    other = tmp_path / "other" / "derived" / "mac4_first" / "device_topology.json"
    other.parent.mkdir(parents=True)
    doc = example("device_topology_mac4_first.v1", age_s=60)
    doc["bundle_id"] = "another-take"
    other.write_text(json.dumps(doc))
    problem = binding_problem(report, other.parents[2])
    assert problem and "audited another take" in problem
    assert binding_problem(report, tmp_path / "no-topology-here") is None


def _take_with_topology(root: Path) -> tuple[Path, str]:
    """A take folder holding the gate's topology sidecar, and the sidecar's sha256."""
    import hashlib

    from lume.runtime.completion import gate_parameters

    sidecar = root / gate_parameters()["topology_file"]
    sidecar.parent.mkdir(parents=True)
    sidecar.write_text(json.dumps(example("device_topology_mac4_first.v1")))
    return root, hashlib.sha256(sidecar.read_bytes()).hexdigest()


def test_mac5_refuses_a_gate_report_that_names_no_topology_of_a_take_that_holds_one(tmp_path: Path) -> None:
    take, digest = _take_with_topology(tmp_path / "take")
    live_only = CompletionReport({}, [{"name": "http://mac4.local:8787/state", "digest": {"sha256": digest}}])
    problem = binding_problem(live_only, take)
    assert problem and "names no derived/mac4_first/device_topology.json subject" in problem
    assert "SAFE-MAC5-GATE" in problem
    assert binding_problem(CompletionReport({}, []), take)


@pytest.mark.parametrize("name", ["/takes/t1/derived/mac4_first/xdevice_topology.json",
                                  "/takes/t1/xderived/mac4_first/device_topology.json",
                                  "/takes/t1/derived/mac4_first/device_topology.json.bak",
                                  "device_topology.json"])
def test_a_subject_names_the_topology_only_with_exactly_its_path_components(tmp_path: Path, name: str) -> None:
    take, digest = _take_with_topology(tmp_path / "take")
    problem = binding_problem(CompletionReport({}, [{"name": name, "digest": {"sha256": digest}}]), take)
    assert problem and "names no" in problem


@pytest.mark.parametrize("name", ["derived/mac4_first/device_topology.json",
                                  "/takes/t1/derived/mac4_first/device_topology.json",
                                  "C:\\takes\\t1\\derived\\mac4_first\\device_topology.json"])
def test_a_subject_naming_the_topology_by_any_path_binds_the_take(tmp_path: Path, name: str) -> None:
    take, digest = _take_with_topology(tmp_path / "take")
    assert binding_problem(CompletionReport({}, [{"name": name, "digest": {"sha256": digest}}]), take) is None


def sign_and_read(run, tmp_path: Path) -> CompletionReport:
    from lume.runtime.completion import read_completion_report
    from lume.runtime.core._keys import load_or_create_key, trust

    key = load_or_create_key()
    trust(key.public_hex)
    path = tmp_path / "gate-report.json"
    sign_completion_report(run, key, path)
    return read_completion_report(path)


def test_mac5_refuses_a_report_forged_with_an_identity_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18, critical: R = identity, S = 0 under the identity 'key' verified any payload."""
    import base64
    import hashlib

    from lume.runtime.completion import CompletionRefused, read_completion_report
    from lume.runtime.core._signing import PAYLOAD_TYPE

    identity = bytes([1]) + bytes(31)
    keyid = hashlib.sha256(identity).hexdigest()
    trust_file = tmp_path / "trust.json"
    trust_file.write_text(json.dumps([{"keyid": keyid, "scheme": "ed25519", "public": identity.hex()}]))
    monkeypatch.setenv("LUME_TRUST_FILE", str(trust_file))
    pred = example("readiness_report.v2", 1)
    pred["generated_at"] = rfc3339(time.time())
    stmt = {"_type": "https://in-toto.io/Statement/v1", "subject": [],
            "predicateType": get("readiness_report.v2").id,
            "predicate": pred}
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({"payloadType": PAYLOAD_TYPE,
                                  "payload": base64.b64encode(json.dumps(stmt).encode()).decode(),
                                  "signatures": [{"keyid": keyid, "sig": base64.b64encode(identity + bytes(32)).decode()}]}))
    with pytest.raises(CompletionRefused, match="small-order"):
        read_completion_report(forged)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need a POSIX system")
@pytest.mark.parametrize("option", ["--proof-file", "--topology"])
def test_a_fifo_as_a_gate_input_is_bad_input_not_a_hang(mac4: Mac4, topology: Path, tmp_path: Path,
                                                         option: str) -> None:
    from hostile_helpers import returns_promptly

    fifo = tmp_path / "input.fifo"
    os.mkfifo(fifo)
    given = {"--topology": str(topology), "--proof-file": None, option: str(fifo)}
    args = [x for k, v in given.items() if v is not None for x in (k, v)]
    out = tmp_path / "gate.json"
    res = returns_promptly(gate, ["mac4-first", *mac4.args(), *args, "--output", str(out)])
    assert res.exit_code == 2, res.output
    assert "not a regular file (a FIFO)" in res.output and "[input_limits.v1]" in res.output
    assert "Traceback" not in res.output and not out.exists()
