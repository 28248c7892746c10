"""A shipped contract looked up by key is read only when its content is used: `lume validate`
on a JSONL file needs the contract's generated schema and the generated index, never a YAML
parser; the content, when it is read, is the same as before (from the bundle or the YAML)."""
from __future__ import annotations

import subprocess
import sys

import orjson

from lume.runtime.core import _contracts, get, load_all


def test_a_contract_got_by_key_reads_its_file_when_its_content_is_used():
    _contracts._one.cache_clear()
    try:
        c = get("mac4_label_record.v1")
        assert c._raw is None  # stem, id, kind and producer come from the generated index
        assert (c.id, c.kind, c.producer) == ("lume:contract:mac4_label_record:v1", "record", "external")
        assert c._raw is None
        assert c.raw["$id"] == c.id and c._raw is not None
        assert c == next(x for x in load_all() if x.stem == c.stem)
    finally:
        _contracts._one.cache_clear()


def test_the_index_agrees_with_every_contract_file():
    for c in load_all():
        if c.is_meta or c.stem not in _contracts.REGISTRY:
            continue
        entry = _contracts.REGISTRY[c.stem]
        assert (entry["id"], entry["kind"], entry["producer"]) == (
            c.raw["$id"], c.x["kind"], c.x.get("producer", "lume")), c.stem


def test_validating_jsonl_imports_no_yaml_parser(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in get("mac4_label_record.v1").examples) + b"\n")
    code = ("import sys\nfrom click.testing import CliRunner\nfrom lume.runtime.cli import main\n"
            f"r = CliRunner().invoke(main, ['validate', {str(path)!r}, '--contract', 'mac4_label_record.v1'])\n"
            "assert r.exit_code == 0, r.output\nprint('yaml' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
