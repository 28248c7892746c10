"""Core reads a shipped contract from codegen's JSON bundle only while the YAML file still has
the bundled digest: the same document as the YAML, and an edited file is read as edited."""
from __future__ import annotations

import yaml

from lume.runtime.core import _contracts, load_all


def test_every_shipped_contract_is_bundled_exactly_as_its_yaml_reads():
    bundle = _contracts._bundle()
    for c in load_all():
        rel = c.path.relative_to(_contracts.contracts_dir()).as_posix()
        assert rel in bundle, f"{rel} is not in generated/contracts.json (run nox -s codegen)"
        assert bundle[rel]["raw"] == yaml.safe_load(c.path.read_text("utf-8")), rel


def test_a_file_whose_bytes_changed_since_codegen_is_parsed_from_its_yaml(monkeypatch):
    c = load_all()[0]
    rel = c.path.relative_to(_contracts.contracts_dir()).as_posix()
    stale = {rel: {"sha256": "0" * 64, "raw": {"$id": "lume:contract:stale:v1"}}}
    monkeypatch.setattr(_contracts, "_bundle", lambda: stale)
    assert _contracts._read(c.path, is_meta=c.is_meta).raw == yaml.safe_load(c.path.read_text("utf-8"))


def test_a_file_outside_the_shipped_contracts_is_never_taken_from_the_bundle(tmp_path):
    c = load_all()[0]
    copy = tmp_path / c.path.name
    copy.write_bytes(c.path.read_bytes())  # the same bytes, but not a shipped contract
    assert _contracts._bundled(copy, copy.read_bytes()) is None
