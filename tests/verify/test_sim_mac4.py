"""`lume sim mac4` (issue 16 item 4): a simulated Mac4 on loopback that the real completion gate
audits, scenario by scenario, and whose green gate report `lume mac5 process` accepts."""
from __future__ import annotations

import importlib.util
import json
import shutil
import sys

import pytest
from click.testing import CliRunner

from lume.fixtures import MAC4_SCENARIOS, Mac4Simulator, mac4_documents, route_smoke_root
from lume.runtime.completion import gate_parameters, resolve_target, run_completion_gate
from lume.runtime.core import get, problems

FAILS = {  # scenario -> the gate checks that must fail (all others pass)
    "healthy": set(),
    "no-proof": {"gate.mac4_first.mrt2_proof"},
    "endpoint-smoke": {"gate.mac4_first.mrt2_proof"},
    "stale": {"gate.mac4_first.body_truth", "gate.mac4_first.live_output_state", "gate.mac4_first.mrt2_proof",
              "gate.mac4_first.device_topology"},
    "authority-violation": {"gate.mac4_first.live_output_state", "gate.mac4_first.device_topology"},
}


def lume(*args):
    from lume.runtime.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_every_scenario_is_listed_and_contract_valid_where_it_should_be():
    assert set(FAILS) == set(MAC4_SCENARIOS)
    stems = {"body_truth": "body_truth.v0", "state": "mac4_live_output_state.v1",
             "proof": "mrt2_browser_proof.v1", "topology": "device_topology_mac4_first.v1"}
    for name, doc in mac4_documents("healthy").items():
        assert problems(doc, get(stems[name])) == [], name


@pytest.mark.parametrize("scenario", MAC4_SCENARIOS)
def test_the_gate_audits_the_simulator(scenario, tmp_path):
    with Mac4Simulator(scenario=scenario) as sim:
        sim.write_topology(tmp_path / "topology.json")
        target = resolve_target({"mac4": sim.machine_config()}, topology=tmp_path / "topology.json")
        run = run_completion_gate(target)
    assert run.full_audit_ran
    failed = {c.id for c in run.checks if c.status != "pass"}
    assert failed == FAILS[scenario], [(c.id, c.status) for c in run.checks]
    assert run.completion_ready is (scenario == "healthy")


def test_cli_serves_for_a_while_and_writes_a_machine_configuration(tmp_path):
    config = tmp_path / "mac5.json"
    r = lume("sim", "mac4", "--for", "0.3s", "--json", "--config-out", config, "--topology-out", tmp_path / "t.json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["scenario"] == "healthy" and set(out["ports"]) == {"ssh", "bodytruth", "output_bridge"}
    doc = json.loads(config.read_text())
    assert problems(doc, get("machine_config.v1")) == [] and doc["mac4"] == out["mac4"]
    assert doc["machine"] == "Mac5" and doc["can_command_rekordbox"] is False
    assert "--topology" in out["gate_command"]


def test_cli_refuses_a_taken_port():
    with Mac4Simulator() as sim:
        r = lume("sim", "mac4", "--port-base", sim.ports["ssh"], "--for", "0.1s")
    assert r.exit_code == 2 and "cannot listen" in r.output


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None,
                    reason="the sam3d worker needs MediaPipe (the `pose` extra), not installed here")
def test_end_to_end_gate_then_mac5(tmp_path):
    """The README's path: simulator -> signed gate report -> Mac5 heavy reconstruction."""
    root = shutil.copytree(route_smoke_root(), tmp_path / "root")
    worker = f"{sys.executable} -m lume.runtime.workers.sam3d"
    reports = {}
    # the gate audits the take's own topology sidecar, so its report is bound to that take (the
    # healthy scenario's sidecar is written last: it is the one the take holds)
    topology = root / "_processed" / "20260529-route-smoke-02" / gate_parameters()["topology_file"]
    for scenario in ("authority-violation", "healthy"):
        with Mac4Simulator(scenario=scenario) as sim:
            sim.write_topology(topology)
            reports[scenario] = tmp_path / f"{scenario}.json"
            r = lume("gate", "mac4-first", *sim.gate_args(), "--topology", topology, "-o", reports[scenario])
            assert r.exit_code == (0 if scenario == "healthy" else 1), r.output
    refused = lume("mac5", "process", root, "20260529-route-smoke-02", "--worker", worker,
                   "--gate-report", reports["authority-violation"])
    assert refused.exit_code == 1 and "refuses Mac5 heavy reconstruction" in refused.output
    done = lume("mac5", "process", root, "20260529-route-smoke-02", "--worker", worker,
                "--gate-report", reports["healthy"])
    assert done.exit_code == 0, done.output
    assert (root / "_processed" / "20260529-route-smoke-02" / "derived" / "sam3d" / "summary.json").is_file()


RIG_PROBES = ["rig.bodytruth", "rig.director", "rig.lumf_heartbeat", "rig.midi_port", "rig.completion_report"]


def test_verify_rig_against_the_simulated_rig(tmp_path, monkeypatch):
    """`lume sim mac4 --rig-out`: every rig probe passes against the simulator once the gate wrote
    its report; before that, only the completion report's probe fails (it names the missing file)."""
    import subprocess
    import time

    monkeypatch.chdir(tmp_path)
    rig = tmp_path / "reports" / "rig.json"
    sim = subprocess.Popen([sys.executable, "-m", "lume.runtime.cli", "sim", "mac4", "--for", "60s",
                            "--config-out", "reports/mac5.json", "--topology-out", "reports/topology.json",
                            "--rig-out", str(rig)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not rig.exists():
            assert sim.poll() is None and time.monotonic() < deadline, sim.communicate()
            time.sleep(0.1)
        doc = json.loads(rig.read_text())
        assert problems(doc, get("rig.v1")) == [] and doc["completion_report"] == "gate.json"
        only = ["--only", ",".join(RIG_PROBES)]
        before = lume("verify", "--rig", rig, *only, "-o", tmp_path / "before.json", "--json")
        checks = {c["id"]: c["status"] for c in json.loads(before.stdout)["checks"]}
        assert checks == {**dict.fromkeys(RIG_PROBES, "pass"), "rig.completion_report": "fail"}, before.output
        gate = lume("gate", "mac4-first", "--config", "reports/mac5.json", "--topology", "reports/topology.json",
                    "-o", "reports/gate.json")
        assert gate.exit_code == 0, gate.output
        after = lume("verify", "--rig", rig, *only, "-o", tmp_path / "after.json", "--json")
        checks = {c["id"]: c["status"] for c in json.loads(after.stdout)["checks"]}
        assert checks == dict.fromkeys(RIG_PROBES, "pass"), after.output
    finally:
        sim.terminate()
        sim.wait(10)
