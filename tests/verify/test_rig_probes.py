"""`lume verify --rig`: live probes against real loopback services (the BodyTruth service, the
director bus, a LUMF heartbeat, a mido socket MIDI port, a signed completion-gate report); each
one stopped or stale fails its probe, and without --rig the probes are not run."""
from __future__ import annotations

import contextlib
import copy
import json
import socket
import time
from pathlib import Path
from typing import Any, Iterator

import mido.sockets
import pytest
from click.testing import CliRunner

from lume.runtime.bodytruth import create_app, serving
from lume.runtime.cli import main
from lume.runtime.core import SigningKey, get, load_or_create_key, now_iso, sign_report, trust
from lume.runtime.director._server import BusServer, ServerThread
from lume.runtime.lumf._publisher import Heartbeat, PublisherStats
from lume.verifiers import load_rig, run
from lume.verifiers._runner import default_root

pytestmark = pytest.mark.network
PROBES = ["rig.bodytruth", "rig.director", "rig.lumf_heartbeat", "rig.midi_port", "rig.completion_report"]


def completion_report(path: Path, key: SigningKey, *, generated_at: str | None = None,
                      green: bool = True) -> Path:
    predicate = copy.deepcopy(get("readiness_report.v2").examples[1])  # the example carries a gate block
    predicate["generated_at"] = generated_at or now_iso()
    if green:  # the example is an unreachable Mac4 (red); a report that lets Mac5 start is green
        for check in predicate["checks"]:
            check["status"] = "pass"
            for e in check["evidence"]:
                e.pop("outcome", None)
        predicate["verdicts"] = {k: True for k in predicate["verdicts"]} | {"overall": "green"}
        predicate["gate"]["full_audit_ran"] = True
        for port in predicate["gate"]["preflight"]["ports"]:
            port.update(reachable=True, latency_ms=1.0)
    path.write_text(json.dumps(sign_report(predicate, [], key)))
    return path


class Rig:
    """The services a rig file names, all real and on loopback."""

    def __init__(self, folder: Path, stack: contextlib.ExitStack) -> None:
        self.folder = folder
        bodytruth = stack.enter_context(serving(create_app(ticker=False)))
        self.director = stack.enter_context(ServerThread(BusServer(folder / "director")))
        self.heartbeat = Heartbeat(folder / "lumf.heartbeat", lambda: True, PublisherStats(), interval=0.2)
        self.heartbeat.start()
        stack.callback(self.heartbeat.stop)
        self.midi = mido.sockets.PortServer("127.0.0.1", 0)
        stack.callback(self.midi.close)
        key = load_or_create_key()
        trust(key.public_hex)
        (folder / "reports").mkdir()
        completion_report(folder / "reports" / "mac4_first.json", key)
        host, port = bodytruth.removeprefix("http://").split(":")
        self.doc: dict[str, Any] = {
            "schema": "lume.rig.v1", "name": "loopback rig",
            "bodytruth": {"host": host, "port": int(port)},
            "director": {"host": self.director.host, "port": self.director.port},
            "lumf": {"heartbeat_file": "lumf.heartbeat"},
            "midi": {"machine": "K11", "output_port": f"tcp://127.0.0.1:{self.midi._socket.getsockname()[1]}"},
            "completion_report": "reports/mac4_first.json",
            "limits": {"connect_timeout_ms": 1000},
        }
        self.write()

    def write(self, **changes: Any) -> Path:
        self.path = self.folder / "rig.json"
        self.path.write_text(json.dumps({**self.doc, **changes}))
        return self.path


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with contextlib.ExitStack() as stack:
        yield Rig(tmp_path, stack)


def probe(rig: Rig, tmp_path: Path, *ids: str) -> dict[str, Any]:
    result = run(default_root(), only=list(ids or PROBES), rig=load_rig(rig.path), cache_folder=tmp_path / "cache")
    return {c.id: c for c in result.checks}


def messages(check) -> list[str]:
    return [e.message for e in check.evidence]


def test_every_probe_passes_against_the_running_rig(rig, tmp_path):
    checks = probe(rig, tmp_path)
    assert {i: c.status for i, c in checks.items()} == dict.fromkeys(PROBES, "pass"), \
        {i: messages(c) for i, c in checks.items()}
    assert checks["rig.director"].evidence[0].found["version"] == get("director_ownership.v2").table_data()["rules"]["schema_version"]
    assert checks["rig.bodytruth"].evidence[0].found["mode"] == "absent"


def test_the_cli_probes_the_rig_and_signs_a_report(rig, tmp_path):
    checks = [*PROBES, "schema.conformance"]
    out = CliRunner().invoke(main, ["verify", "--rig", str(rig.path), "--only", ",".join(checks),
                                    "-o", str(tmp_path / "r.json"), "--json"])
    doc = json.loads(out.output[out.output.index("{"):])
    assert doc["rig"] == str(rig.path) and {c["id"] for c in doc["checks"]} == set(checks)
    assert {c["status"] for c in doc["checks"]} == {"pass"}, out.output
    # every probe passed, but --only left the other checks out: partial, never green (exit 1)
    assert out.exit_code == 1 and doc["overall"] == "partial"
    assert set(doc["verdicts"]["rests_on"]["rig_safe"]) == set(PROBES)


def test_a_stopped_bodytruth_service_fails_its_probe(rig, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rig.write(bodytruth={"host": "127.0.0.1", "port": port})
    check = probe(rig, tmp_path, "rig.bodytruth")["rig.bodytruth"]
    assert check.status == "fail" and "does not answer" in messages(check)[0]


def test_a_stopped_director_bus_fails_its_probe(rig, tmp_path):
    rig.director.stop()
    check = probe(rig, tmp_path, "rig.director")["rig.director"]
    assert check.status == "fail" and "does not answer" in messages(check)[0]


def test_a_stale_heartbeat_fails_its_probe(rig, tmp_path):
    rig.heartbeat.stop()  # the publisher stopped: the file keeps its last beat
    (rig.folder / "lumf.heartbeat").write_text(f"{time.time() - 60:.3f}\n")
    check = probe(rig, tmp_path, "rig.lumf_heartbeat")["rig.lumf_heartbeat"]
    assert check.status == "fail" and "stopped or stuck" in messages(check)[0]
    (rig.folder / "lumf.heartbeat").unlink()
    assert probe(rig, tmp_path, "rig.lumf_heartbeat")["rig.lumf_heartbeat"].status == "fail"
    (rig.folder / "lumf.heartbeat").mkdir()  # not a regular file
    check = probe(rig, tmp_path, "rig.lumf_heartbeat")["rig.lumf_heartbeat"]
    assert check.status == "fail"


def test_an_oversized_heartbeat_fails_its_probe_by_the_lumf_readers_limit(rig, tmp_path):
    """The probe reads the heartbeat with the LUMF package's reader and its input_limits.v1 row
    (`lumf_heartbeat`), not a limit of its own: the rig file's deprecated `heartbeat_max_bytes`
    is ignored."""
    from lume.runtime.core import input_limit

    rig.heartbeat.stop()
    row = input_limit("lumf_heartbeat")
    padded = f"{time.time():.3f}".ljust(row.max_bytes + 1) + "\n"
    (rig.folder / "lumf.heartbeat").write_text(padded)
    check = probe(rig, tmp_path, "rig.lumf_heartbeat")["rig.lumf_heartbeat"]
    assert check.status == "fail" and "lumf_heartbeat inputs [input_limits.v1]" in messages(check)[0]
    (rig.folder / "lumf.heartbeat").write_text(f"{time.time():.3f}".ljust(row.max_bytes - 1) + "\n")
    assert probe(rig, tmp_path, "rig.lumf_heartbeat")["rig.lumf_heartbeat"].status == "pass"


def test_a_closed_midi_port_fails_its_probe(rig, tmp_path):
    rig.midi.close()
    check = probe(rig, tmp_path, "rig.midi_port")["rig.midi_port"]
    assert check.status == "fail" and "does not accept" in messages(check)[0]


def test_a_midi_port_name_is_skipped_with_a_reason_without_a_midi_backend(rig, tmp_path):
    from lume.runtime.airdeck import MidiOpenError, output_names

    try:
        output_names()
        pytest.skip("this machine has a MIDI backend")
    except MidiOpenError:
        pass
    rig.write(midi={"machine": "K11", "output_port": "LUME AirDeck"})
    check = probe(rig, tmp_path, "rig.midi_port")["rig.midi_port"]
    assert check.status == "inconclusive" and "no MIDI backend" in messages(check)[0]


def test_a_stale_or_untrusted_completion_report_fails_its_probe(rig, tmp_path):
    report = rig.folder / "reports" / "mac4_first.json"
    completion_report(report, load_or_create_key(), generated_at="2020-01-01T00:00:00Z")
    check = probe(rig, tmp_path, "rig.completion_report")["rig.completion_report"]
    assert check.status == "fail" and "limit" in messages(check)[0] and "evidence_freshness.v1" in messages(check)[0]
    completion_report(report, SigningKey.generate())
    check = probe(rig, tmp_path, "rig.completion_report")["rig.completion_report"]
    assert check.status == "fail" and "untrusted key" in messages(check)[0]
    completion_report(report, load_or_create_key(), green=False)  # signed and fresh, but red
    check = probe(rig, tmp_path, "rig.completion_report")["rig.completion_report"]
    assert check.status == "fail" and "'red'" in check.evidence[0].message
    report.unlink()
    assert probe(rig, tmp_path, "rig.completion_report")["rig.completion_report"].status == "fail"


def test_without_a_rig_the_probes_are_not_run(tmp_path):
    result = run(default_root(), cache_folder=tmp_path / "cache")
    not_run = {n.id: n for n in result.not_run if n.id in PROBES}
    assert set(not_run) == set(PROBES) and {n.kind for n in not_run.values()} == {"no_rig"}
    [asked] = run(default_root(), only=["rig.bodytruth"], cache_folder=tmp_path / "cache").checks
    assert asked.status == "inconclusive"  # asked for by id: never a pass on nothing


def test_a_bad_rig_file_is_bad_input_naming_the_file_and_contract(tmp_path):
    bad = tmp_path / "rig.json"
    bad.write_text(json.dumps({"schema": "lume.rig.v1", "bodytruth": {"host": "x"}}))
    out = CliRunner().invoke(main, ["verify", "--rig", str(bad), "--only", "rig.bodytruth", "-o", str(tmp_path / "r.json")])
    assert out.exit_code == 2
    assert "rig.json" in out.output and "rig.v1" in out.output and "Traceback" not in out.output
