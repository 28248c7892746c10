"""`lume verify`, `lume report verify` and `lume keys` end to end (exit codes 0 / 1 / 2)."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from verify_roots import build_root

from lume.runtime.cli import main
from lume.runtime.cli._options import parse_duration


def lume(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return build_root(tmp_path / "root")


def test_verify_writes_a_green_signed_report_that_verifies(root, tmp_path, isolated_keys):
    report = tmp_path / "reports" / "readiness.json"
    r = lume("verify", root, "--report", report)
    assert r.exit_code == 0, r.output
    assert "created a signing key" in r.output and "trusted it on first use" in r.output
    assert "GREEN" in r.output
    assert report.is_file() and report.with_suffix(".md").is_file() and report.with_suffix(".html").is_file()
    ok = lume("report", "verify", report)
    assert ok.exit_code == 0, ok.output
    assert "AUTHENTIC" in ok.output and "GREEN" in ok.output
    # a second run reuses the key and says nothing about creating one
    again = lume("verify", root, "--report", report, "--quick")
    assert again.exit_code == 0 and "created" not in again.output
    predicate = json.loads(base64.b64decode(json.loads(report.read_text())["payload"]))["predicate"]
    assert predicate["tool"]["name"] == "lume" and predicate["root"] == str(root)
    assert {c["id"] for c in predicate["checks"]} == {  # no training data, no gesture sessions, no --rig: n/a
        "schema.conformance", "storage.integrity", "bundle.layout", "authority.k11_only.static", "labels.table", "sled.constraints",
        "safety.airdeck.properties", "safety.bodytruth.properties", "director.ownership.properties",
        "lumf.codec.properties"}
    assert len(predicate["contracts"]) > 30
    assert predicate["contracts_commit"] is None or len(predicate["contracts_commit"]) == 40


def test_verify_json_and_red_exit_code(root, tmp_path):
    (root / "_processed" / "orphan").mkdir()
    r = lume("verify", root, "--report", tmp_path / "r.json", "--json")
    assert r.exit_code == 1
    out = json.loads(r.output[r.output.index("{"):])
    assert out["overall"] == "red"
    storage = next(c for c in out["checks"] if c["id"] == "storage.integrity")
    assert storage["status"] == "fail"
    # a red report is still authentic; --require-green turns it into exit 1
    assert lume("report", "verify", tmp_path / "r.json").exit_code == 0
    assert lume("report", "verify", tmp_path / "r.json", "--require-green").exit_code == 1


def test_verify_only_one_check(root, tmp_path):
    r = lume("verify", root, "--report", tmp_path / "r.json", "--only", "labels.table", "--json")
    out = json.loads(r.output[r.output.index("{"):])
    assert [c["id"] for c in out["checks"]] == ["labels.table"]
    assert r.exit_code == 1  # a partial run is never green


@pytest.mark.parametrize("args", [("verify", "/nonexistent/root"), ("verify", "--only", "no.such.check")])
def test_verify_bad_input_exits_2(args, tmp_path):
    assert lume(*args, "--report", tmp_path / "r.json").exit_code == 2


def test_report_verify_rejects_tampered_untrusted_and_old_reports(root, tmp_path, isolated_keys):
    report = tmp_path / "readiness.json"
    assert lume("verify", root, "--report", report).exit_code == 0
    env = json.loads(report.read_text())
    # one byte of the payload changed
    raw = bytearray(base64.b64decode(env["payload"]))
    raw[raw.index(b'"green"') + 1] ^= 0x20
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(dict(env, payload=base64.b64encode(bytes(raw)).decode())))
    r = lume("report", "verify", tampered)
    assert r.exit_code == 1 and "bad signature" in r.output
    # an empty trust file: the signer is untrusted
    empty = tmp_path / "trust.json"
    empty.write_text("[]")
    r = lume("report", "verify", report, "--trust", empty)
    assert r.exit_code == 1 and "untrusted" in r.output
    # older than --max-age
    r = lume("report", "verify", report, "--max-age", "0s")
    assert r.exit_code == 1 and "stale" in r.output
    # unsigned
    unsigned = tmp_path / "unsigned.json"
    unsigned.write_text(json.dumps(dict(env, signatures=[])))
    assert lume("report", "verify", unsigned).exit_code == 1


def test_report_verify_bad_input_exits_2(tmp_path):
    assert lume("report", "verify", tmp_path / "missing.json").exit_code == 2
    (tmp_path / "r.json").write_text("{}")
    assert lume("report", "verify", tmp_path / "r.json", "--max-age", "soon").exit_code == 2
    assert lume("report", "verify", tmp_path / "r.json").exit_code == 2  # JSON, not an envelope


def test_parse_duration():
    assert parse_duration("24h") == 86400
    assert parse_duration("1h30m") == 5400
    assert parse_duration("500ms") == 0.5
    with pytest.raises(ValueError, match="no unit"):
        parse_duration("90")  # seconds or hours? a bare number is refused
    with pytest.raises(ValueError):
        parse_duration("tomorrow")


def test_keys_init_trust_list(tmp_path, isolated_keys):
    r = lume("keys", "init", "--json")
    assert r.exit_code == 0
    info = json.loads(r.output)
    assert info["created"] and info["trusted_now"] and len(info["public"]) == 64
    assert json.loads(lume("keys", "init", "--json").output)["created"] is False
    other = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
    assert "trusted" in lume("keys", "trust", other, "--name", "mac5").output
    assert "already trusted" in lume("keys", "trust", other).output
    listed = json.loads(lume("keys", "list", "--json").output)
    assert listed["local_keyid"] == info["keyid"]
    assert {e["public"] for e in listed["trusted"]} == {info["public"], other}
    assert lume("keys", "trust", "nothex").exit_code == 2


def test_keys_refuse_a_folder_in_the_repository(repo):
    assert lume("keys", "init", "--key-dir", repo / "keys").exit_code == 2
    assert not (repo / "keys").exists()
