"""Fuzz of the file inputs not fuzzed elsewhere (issue 18): the rig.v1 file of `lume verify
--rig`, the machine configuration, the trust file, a promoted manifest envelope and the
`lume airdeck run --events` JSONL stream.

Each is generated as bytes: a valid seed with structured mutations (bytes flipped, cut or
inserted; a value replaced by a hostile one: deep nesting, a huge string, a wrong type, a
duplicate key) or arbitrary bytes. Whatever comes in, the command ends with exit 0 (the input
happened to be acceptable) or exit 2 with one line naming the file, never a traceback.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hostile_helpers import mutated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lume.runtime.airdeck import sign_manifest
from lume.runtime.cli import main
from lume.runtime.core import InputError, SigningKey, get
from lume.verifiers import load_rig

FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
HOSTILE_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
    st.just("x" * 100_000), st.just(json.loads("[" * 100 + "]" * 100)),
    st.just({"": {}}), st.just(-(2**70)), st.just("\x1b[2J\n\u2028forged"),
)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


@st.composite
def json_mutation(draw, seed):
    """`seed` with one value replaced (or a key duplicated in the text): bytes of a document
    that looks right but is not."""
    doc = copy.deepcopy(seed)
    paths = [p for p in _paths(doc) if p]
    if not paths:
        return json.dumps(draw(HOSTILE_VALUES)).encode()
    path = draw(st.sampled_from(paths))
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if draw(st.booleans()) and isinstance(parent, dict):
        text = json.dumps(doc)
        key = json.dumps(path[-1])
        return text.replace("{", "{" + key + ": 0, ", 1).encode()  # a duplicate key
    parent[path[-1]] = draw(HOSTILE_VALUES)
    return json.dumps(doc).encode()


def inputs(seed) -> st.SearchStrategy[bytes]:
    raw = json.dumps(seed).encode()
    return st.one_of(json_mutation(seed), mutated(st.just(raw), st.binary(min_size=4, max_size=4)),
                     st.binary(max_size=200))


def invoke(args) -> object:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output, result.output
    return result


def assert_one_line_refusal(result, path: Path) -> None:
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        lines = [ln for ln in result.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and path.name in lines[0], result.output


def dry_run_with(option: str, path: Path, data: bytes) -> None:
    """`lume airdeck run OPTION PATH` over an empty stream, PATH holding `data`."""
    path.write_bytes(data)
    events = path.with_name("none.jsonl")
    events.write_bytes(b"")
    log = path.with_name("log.jsonl")
    result = invoke(["airdeck", "run", option, path, "--events", events, "--log", log])
    assert_one_line_refusal(result, path)


@FUZZ
@given(data=inputs(get("rig.v1").examples[0]))
def test_a_rig_file_is_a_rig_or_one_line_exit_2(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("rig") / "rig.json"
    path.write_bytes(data)
    try:
        load_rig(path)
    except InputError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
    else:
        return  # a valid rig: probing it is the rig probes' tests' business
    result = invoke(["verify", "--rig", path, "-o", path.with_name("report.json")])
    assert result.exit_code == 2
    assert_one_line_refusal(result, path)
    assert not path.with_name("report.json").exists()


@pytest.mark.parametrize("port", ["\x1fport", "\x1c"])
def test_a_port_name_valid_under_the_contracts_pattern_loads(tmp_path, port):
    """rig.v1's port pattern is ECMA-262 (`\\S`: these are no ECMA white space), as jsonschema-rs
    checks it; the generated model's Python-`re` fallback would refuse them (found by the fuzz
    test above: a pydantic ValidationError escaped load_rig)."""
    doc = dict(get("rig.v1").examples[0], midi={"machine": "K11", "output_port": port})
    path = tmp_path / "rig.json"
    path.write_bytes(orjson.dumps(doc))
    assert load_rig(path).doc["midi"]["output_port"] == port


@FUZZ
@given(data=inputs(get("machine_config.v1").examples[0]))
def test_a_machine_configuration_is_one_or_one_line_exit_2(tmp_path_factory, data):
    dry_run_with("--config", tmp_path_factory.mktemp("config") / "machine.json", data)


def _trust_seed() -> list[dict]:
    return [SigningKey.generate().trust_entry("rehearsal laptop")]


@FUZZ
@given(data=inputs(_trust_seed()))
def test_a_trust_file_is_one_or_one_line_exit_2(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("trust") / "trusted_keys.json"
    path.write_bytes(data)
    result = invoke(["keys", "list", "--trust-file", path])
    assert_one_line_refusal(result, path)
    assert path.read_bytes() == data  # read, never rewritten


def _manifest_seed() -> dict:
    doc = copy.deepcopy(get("airdeck_promoted_gestures.v1").examples[0])
    evidence = [{"name": "derived/airdeck/dry_run.json", "digest": {"sha256": "0" * 64}}]
    return sign_manifest(doc, evidence, SigningKey.generate())


@FUZZ
@given(data=inputs(_manifest_seed()))
def test_a_promoted_manifest_envelope_is_one_or_one_line_exit_2(tmp_path_factory, data):
    dry_run_with("--promoted", tmp_path_factory.mktemp("manifest") / "promoted_gestures.json", data)


def _event_lines() -> list[dict]:
    return [*get("gesture_event.v1").examples[:2], *get("body_truth.v0").examples[:1]]


@st.composite
def event_streams(draw):
    lines = [json.dumps(r).encode() for r in _event_lines()]
    picked = draw(st.lists(st.one_of(st.sampled_from(lines), inputs(_event_lines()[0])), max_size=6))
    return b"\n".join(picked) + draw(st.sampled_from([b"", b"\n", b"\r\n"]))


@FUZZ
@given(data=event_streams())
def test_an_events_stream_is_decided_or_its_bad_lines_reported(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("events")
    path = folder / "events.jsonl"
    path.write_bytes(data)
    result = invoke(["airdeck", "run", "--events", path, "--log", folder / "log.jsonl"])
    assert result.exit_code in (0, 2), result.output
    bad = [ln for ln in result.output.splitlines() if ln.startswith("bad input, skipped:")]
    assert (result.exit_code == 2) == bool(bad), result.output
    for line in bad:  # one line each, naming the file and the line
        assert f"{path}:" in line


def test_an_envelope_whose_signatures_are_not_a_list_is_bad_input(tmp_path):
    """Found by the fuzz above: it was taken for a signature that fails, then crashed."""
    envelope = {**_manifest_seed(), "signatures": 1.5}
    path = tmp_path / "promoted_gestures.json"
    path.write_text(json.dumps(envelope))
    result = invoke(["airdeck", "run", "--promoted", path, "--events", "-", "--log", tmp_path / "log.jsonl"])
    assert result.exit_code == 2 and "$.signatures: 1.5 is not of type" in result.output
