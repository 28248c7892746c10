"""Every input file is read one bounded way: regular files only, within input_limits.v1.

A FIFO, /dev/zero, a directory or a socket is refused at once (never blocks, never read whole);
a file over its kind's `max_bytes` is refused before it is read; a line over `max_line_bytes`
and JSON nested deeper than `max_depth` are refused with the line named. Each refusal is one
InputError naming the file and the contract, and through the CLI one line with exit 2.
"""
from __future__ import annotations

import json
import os
import socket

import pytest
from click.testing import CliRunner
from hostile_helpers import returns_promptly
from hypothesis import given
from hypothesis import strategies as st

from lume.generated.constants import (
    INPUT_JSON_DOCUMENT,
    INPUT_JSONL_STREAM,
    INPUT_KINDS,
    INPUT_MACHINE_CONFIG,
    INPUT_SAFE_STOP_LOCK,
)
from lume.runtime.cli import main
from lume.runtime.core import (
    InputError,
    NotRegularFile,
    input_limit,
    iter_jsonl,
    load_machine_config,
    read_input,
    read_json,
)

posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need a POSIX system")


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "stream.jsonl"
    os.mkfifo(path)
    return path


def test_every_kind_the_contract_declares_has_a_limit():
    for kind in INPUT_KINDS:
        assert input_limit(kind).max_bytes >= 1
    with pytest.raises(KeyError, match="input_limits.v1"):
        input_limit("no_such_kind")


def test_how_long_a_file_must_be_left_unchanged_to_be_trusted_comes_from_the_contract(monkeypatch):
    from lume.runtime.core import ContractError, _files, get, settle_ns

    assert settle_ns() == get("input_limits.v1").table_data()["unchanged_files"]["settle_ms"] * 1_000_000
    without = {k: v for k, v in get("input_limits.v1").table_data().items() if k != "unchanged_files"}
    monkeypatch.setattr(_files, "_table", lambda: without)  # a table that leaves the rule out
    with pytest.raises(ContractError, match=r"unchanged_files.*\[input_limits.v1\]"):
        settle_ns()


@posix_only
@pytest.mark.parametrize("reader", [read_json, lambda p: list(iter_jsonl(p)),
                                    lambda p: read_input(p, INPUT_JSON_DOCUMENT)])
def test_a_fifo_is_refused_without_blocking(fifo, reader):
    with pytest.raises(NotRegularFile, match=r"not a regular file \(a FIFO\).*\[input_limits.v1\]"):
        returns_promptly(reader, fifo)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
@pytest.mark.parametrize("reader", [read_json, lambda p: list(iter_jsonl(p))])
def test_dev_zero_is_refused_not_read(reader):
    with pytest.raises(NotRegularFile, match="a character device"):
        returns_promptly(reader, "/dev/zero")


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(InputError, match="a directory|cannot read"):
        read_json(tmp_path)


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no unix sockets here")
def test_a_socket_is_refused(tmp_path):
    path = tmp_path / "s.json"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        with pytest.raises(NotRegularFile, match="a socket"):
            read_json(path)


def test_a_missing_file_names_the_file(tmp_path):
    with pytest.raises(InputError, match="missing.json: cannot read"):
        read_json(tmp_path / "missing.json")


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path):
    limit = input_limit(INPUT_JSON_DOCUMENT).max_bytes
    big = tmp_path / "sparse.json"
    with big.open("wb") as fh:
        fh.truncate(limit + 1)  # sparse: costs no disk, and must cost no memory either
    with pytest.raises(InputError, match=r"over the 64 MiB limit for json_document inputs \[input_limits.v1\]"):
        read_json(big)


def test_each_kind_has_its_own_size_limit(tmp_path):
    lock = tmp_path / "lock.json"
    lock.write_bytes(b" " * (input_limit(INPUT_SAFE_STOP_LOCK).max_bytes + 1) + b"{}")
    with pytest.raises(InputError, match="safe_stop_lock"):
        read_json(lock, INPUT_SAFE_STOP_LOCK)
    assert read_json(lock) == {}  # a plain document may be that large


def test_a_line_over_the_line_limit_is_refused_with_its_number(tmp_path):
    max_line = input_limit(INPUT_JSONL_STREAM).max_line_bytes
    path = tmp_path / "long.jsonl"
    path.write_bytes(b'{"a": 1}\n' + b'"' + b"x" * max_line + b'"\n')
    lines = iter_jsonl(path)
    assert next(lines) == (1, {"a": 1})
    with pytest.raises(InputError, match=r"long.jsonl:2: a line over 1 MiB, the line limit for jsonl_stream inputs"):
        next(lines)


def test_a_line_at_the_limit_is_read(tmp_path):
    max_line = input_limit(INPUT_JSONL_STREAM).max_line_bytes
    path = tmp_path / "edge.jsonl"
    path.write_bytes(b'"' + b"x" * (max_line - 2) + b'"\r\n' + b"[1]")
    assert [n for n, _ in iter_jsonl(path)] == [1, 2]


@pytest.mark.parametrize("depth", [65, 2000, 50_000])
def test_deep_json_is_refused_as_input_not_a_crash(tmp_path, depth):
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * depth + b"]" * depth)
    with pytest.raises(InputError, match="deep.json: (JSON nested deeper than 64|not valid JSON)"):
        read_json(path)
    lines = tmp_path / "deep.jsonl"
    lines.write_bytes(b"{}\n" + b'{"a":' * depth + b"1" + b"}" * depth + b"\n")
    with pytest.raises(InputError, match="deep.jsonl:2: "):
        list(iter_jsonl(lines))


def test_nesting_at_the_limit_is_read(tmp_path):
    path = tmp_path / "ok.json"
    path.write_text("[" * 64 + "]" * 64)
    assert read_json(path) is not None
    brackets_in_strings = tmp_path / "strings.json"
    brackets_in_strings.write_text(json.dumps({"k": "[" * 500}))
    assert read_json(brackets_in_strings) == {"k": "[" * 500}


@given(st.binary(max_size=512))
def test_any_bytes_are_a_value_or_one_input_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "doc.json"
    path.write_bytes(data)
    try:
        read_json(path)
    except InputError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
    lines = path.with_suffix(".jsonl")
    lines.write_bytes(data)
    try:
        list(iter_jsonl(lines))
    except InputError as exc:
        assert str(lines) in str(exc)


@posix_only
def test_the_machine_configuration_is_a_bounded_input(fifo, monkeypatch):
    monkeypatch.setenv("LUME_CONFIG", str(fifo))
    with pytest.raises(NotRegularFile):
        returns_promptly(load_machine_config)
    assert input_limit(INPUT_MACHINE_CONFIG).max_bytes < input_limit(INPUT_JSON_DOCUMENT).max_bytes


# ------------------------------------------------------------------------------ through the CLI
@posix_only
def test_validate_refuses_a_fifo_with_one_line_and_exit_2(fifo):
    result = returns_promptly(CliRunner().invoke, main, ["validate", str(fifo)])
    assert result.exit_code == 2, result.output
    assert "not a regular file (a FIFO)" in result.output and "Traceback" not in result.output


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_validate_refuses_dev_zero(tmp_path):
    result = returns_promptly(CliRunner().invoke, main, ["validate", "--json", "/dev/zero"])
    assert result.exit_code == 2, result.output
    assert "a character device" in json.loads(result.output)["unreadable"][0]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_rearm_refuses_dev_zero_and_removes_nothing():
    result = returns_promptly(CliRunner().invoke, main,
                              ["airdeck", "rearm", "--lock-file", "/dev/zero"])
    assert result.exit_code == 2, result.output
    assert "not a regular file" in result.output and os.path.exists("/dev/zero")


@posix_only
def test_rearm_refuses_a_fifo_and_keeps_it(fifo):
    result = returns_promptly(CliRunner().invoke, main, ["airdeck", "rearm", "--lock-file", str(fifo)])
    assert result.exit_code == 2, result.output
    assert fifo.exists()


def test_rearm_removes_a_corrupt_regular_lock(tmp_path):
    lock = tmp_path / "lock.json"
    lock.write_bytes(b"\x00garbage")
    result = CliRunner().invoke(main, ["airdeck", "rearm", "--lock-file", str(lock), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rearmed"] is True and not lock.exists()


# ------------------------------------------------------------------------------ YAML inputs
def test_yaml_inputs_are_bounded_files_parsed_safely(tmp_path):
    from lume.runtime.core import read_yaml

    ok = tmp_path / "zones.yaml"
    ok.write_text("\ufeffa: [1, 2]\n", encoding="utf-8")
    assert read_yaml(ok) == {"a": [1, 2]}
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match="deep.yaml: (not valid YAML|YAML nested too deep)"):
        read_yaml(deep)
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("!!python/object/apply:os.system ['true']\n")
    with pytest.raises(InputError, match="not valid YAML"):
        read_yaml(unsafe)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"a: \xe9\n")
    with pytest.raises(InputError, match="not UTF-8"):
        read_yaml(latin)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
@pytest.mark.parametrize("args", [["sled", "constants", "--check", "/dev/zero"],
                                  ["claims", "check", "/dev/zero"]])
def test_yaml_commands_refuse_dev_zero(args):
    result = returns_promptly(CliRunner().invoke, main, args)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output


@posix_only
def test_sled_refuses_a_fifo(fifo):
    result = returns_promptly(CliRunner().invoke, main, ["sled", "constants", "--check", str(fifo)])
    assert result.exit_code == 2 and "not a regular file (a FIFO)" in result.output, result.output


@posix_only
def test_a_kind_that_refuses_symlinks_never_follows_a_final_link(tmp_path) -> None:
    """input_limits.v1 `refuse_symlink` (sidecars, transport manifests): the file must be the one
    named; other kinds follow a link as any reader does."""
    from lume.runtime.core import input_limit, read_input

    real = tmp_path / "real.sha256"
    real.write_text("ab" * 32 + "\n")
    link = tmp_path / "link.sha256"
    link.symlink_to(real)
    refusing = [k for k in ("checksum_sidecar", "transport_manifest") if input_limit(k).refuse_symlink]
    assert refusing == ["checksum_sidecar", "transport_manifest"]
    for kind in refusing:
        with pytest.raises(InputError, match=rf"not a regular file \(a symbolic link\); every {kind} input"):
            read_input(link, kind)
        assert read_input(real, kind) == real.read_bytes()
    assert read_input(link, "json_document") == real.read_bytes()
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "absent")
    with pytest.raises(InputError, match="symbolic link"):
        read_input(dangling, "checksum_sidecar")
