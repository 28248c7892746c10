"""Core reads a shipped contract from codegen's JSON bundle only while the YAML file still has
the bundled digest: the same document as the YAML, and an edited file is read as edited."""
from __future__ import annotations

import orjson
import yaml

from lume.runtime.core import _contracts, load_all


def _entry(c):
    rel = c.path.relative_to(_contracts.contracts_dir()).as_posix()
    return _contracts._generated() / _contracts.bundle_path(rel)


def test_every_shipped_contract_is_bundled_exactly_as_its_yaml_reads():
    for c in load_all():
        assert _entry(c).is_file(), f"{c.path.name} is not bundled in generated/bundle/ (run nox -s codegen)"
        assert orjson.loads(_entry(c).read_bytes())["raw"] == yaml.safe_load(c.path.read_text("utf-8"))
        assert _contracts._bundled(c.path, c.path.read_bytes()) == yaml.safe_load(c.path.read_text("utf-8"))


def test_a_file_whose_bytes_changed_since_codegen_is_parsed_from_its_yaml(monkeypatch, tmp_path):
    c = load_all()[0]
    rel = c.path.relative_to(_contracts.contracts_dir()).as_posix()
    stale = tmp_path / _contracts.bundle_path(rel)
    stale.parent.mkdir(parents=True)
    stale.write_bytes(orjson.dumps({"sha256": "0" * 64, "raw": {"$id": "lume:contract:stale:v1"}}))
    monkeypatch.setattr(_contracts, "_generated", lambda: tmp_path)
    assert _contracts._bundled(c.path, c.path.read_bytes()) is None
    assert _contracts._read(c.path, is_meta=c.is_meta).raw == yaml.safe_load(c.path.read_text("utf-8"))


def test_a_missing_or_broken_bundle_file_means_the_yaml_is_parsed(monkeypatch, tmp_path):
    c = load_all()[0]
    monkeypatch.setattr(_contracts, "_generated", lambda: tmp_path)
    assert _contracts._bundled(c.path, c.path.read_bytes()) is None  # not there
    broken = tmp_path / _contracts.bundle_path(c.path.relative_to(_contracts.contracts_dir()).as_posix())
    broken.parent.mkdir(parents=True)
    for junk in (b"{", b"[]", b'"text"', b"null"):
        broken.write_bytes(junk)
        assert _contracts._bundled(c.path, c.path.read_bytes()) is None, junk


def test_a_file_outside_the_shipped_contracts_is_never_taken_from_the_bundle(tmp_path):
    c = load_all()[0]
    copy = tmp_path / c.path.name
    copy.write_bytes(c.path.read_bytes())  # the same bytes, but not a shipped contract
    assert _contracts._bundled(copy, copy.read_bytes()) is None
