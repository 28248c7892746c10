"""The shared option types: durations with units, addresses, and old spellings as hidden aliases."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from lume.runtime.cli import main
from lume.runtime.cli._options import (
    Address,
    AddressType,
    Duration,
    LazyChoice,
    address_option,
    out_option,
    parse_address,
    parse_duration,
)


# ---------------------------------------------------------------------------- durations
@pytest.mark.parametrize(("text", "seconds"), [
    ("24h", 86400), ("90s", 90), ("500ms", 0.5), ("1h30m", 5400), ("2d", 172800), ("1w", 604800),
    ("1.5s", 1.5), ("0", 0), ("0s", 0), (" 10 s ", 10),
])
def test_durations_with_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["24", "0.3", "90"])
def test_a_bare_number_is_refused_with_the_fix(text: str) -> None:
    with pytest.raises(ValueError, match="no unit") as err:
        parse_duration(text)
    assert f"{text}s" in str(err.value) and f"{text}h" in str(err.value)


@pytest.mark.parametrize("text", ["", "soon", "5x", "h", "1h-5m", "ms5"])
def test_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@given(st.integers(0, 10**6), st.sampled_from(["ms", "s", "m", "h", "d", "w"]))
def test_any_count_of_any_unit(n: int, unit: str) -> None:
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert parse_duration(f"{n}{unit}") == pytest.approx(n * factor)


def test_duration_type_refuses_zero_when_positive() -> None:
    with pytest.raises(click.BadParameter):
        Duration(positive=True).convert("0s", None, None)
    assert Duration().convert(5.0, None, None) == 5.0  # defaults written in code are seconds


# ---------------------------------------------------------------------------- addresses
@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:9701", Address("127.0.0.1", 9701)),
    ("localhost", Address("localhost", 9050)),
    ("[::1]:9000", Address("::1", 9000)),
    ("mac4.local:0", Address("mac4.local", 0)),
])
def test_host_port(text: str, expected: Address) -> None:
    assert parse_address(text, default_port=9050) == expected


@pytest.mark.parametrize("text", ["127.0.0.1:99999", "127.0.0.1:notaport", ":9000",
                                  "tcp://127.0.0.1:9000", "127.0.0.1:9000/path", "user@host:1"])
def test_bad_host_port(text: str) -> None:
    with pytest.raises(ValueError, match=text.split("/")[0][:8]):
        parse_address(text, default_port=9050)


def test_urls_where_the_scheme_matters() -> None:
    bus = AddressType(default_port=9610, schemes=("ws",), default_scheme="ws", allow_path=True)
    assert bus.convert("127.0.0.1", None, None).url == "ws://127.0.0.1:9610"
    assert bus.convert("ws://mac4:1/director", None, None).url == "ws://mac4:1/director"
    with pytest.raises(click.BadParameter, match="http:// not accepted"):
        bus.convert("http://mac4:1", None, None)
    midi = AddressType(schemes=("tcp",), port_names=True)
    assert midi.convert("loopMIDI Port 1", None, None) == "loopMIDI Port 1"
    assert midi.convert("tcp://127.0.0.1:5004", None, None).url == "tcp://127.0.0.1:5004"
    with pytest.raises(click.BadParameter, match="no port"):
        midi.convert("tcp://127.0.0.1", None, None)


def test_the_default_port_is_read_only_when_needed() -> None:
    calls = []
    kind = AddressType(default_port=lambda: calls.append(1) or 7)
    assert calls == []
    assert kind.convert("h", None, None) == Address("h", 7) and calls == [1]


def test_lazy_choice_loads_on_first_use() -> None:
    calls = []
    choice = LazyChoice(lambda: calls.append(1) or ["a", "b"])
    assert calls == []
    assert choice.convert("a", None, None) == "a" and calls == [1]
    with pytest.raises(click.BadParameter):
        choice.convert("c", None, None)


# ---------------------------------------------------------------------------- hidden aliases
@click.command()
@out_option("Where.", old=("--report", "--output"))
@address_option(help="Where to.", type=AddressType(default_port=5), default="127.0.0.1",
                old=("--to",), host_port=True)
def probe(out: Path | None, address: Address) -> None:
    click.echo(json.dumps({"out": str(out), "address": address.url}))


@pytest.mark.parametrize(("args", "out", "address"), [
    (["-o", "a"], "a", "127.0.0.1:5"),
    (["--out", "a", "--address", "h:1"], "a", "h:1"),
    (["--report", "b", "--to", "h:2"], "b", "h:2"),
    (["--output", "c", "--host", "0.0.0.0"], "c", "0.0.0.0:5"),
    (["--port", "9"], "None", "127.0.0.1:9"),
    (["--address", "h:1", "--port", "3"], "None", "h:3"),
])
def test_old_spellings_still_parse(args: list[str], out: str, address: str) -> None:
    result = CliRunner().invoke(probe, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"out": out, "address": address}


def test_old_spellings_are_not_shown() -> None:
    text = CliRunner().invoke(probe, ["--help"]).output
    assert "-o, --out PATH" in text and "--address HOST:PORT" in text
    for old in ("--report", "--output", "--to", "--host", "--port"):
        assert old not in text


def test_a_missing_required_out_names_only_the_new_spelling(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["airdeck", "recognize", str(tmp_path / "obs.jsonl")])
    assert result.exit_code == 2 and "'-o' / '--out'" in result.output


# ------------------------------------------------------------ old spellings on real verbs
def test_verify_report_and_out_write_the_same_report(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LUME_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("LUME_TRUST_FILE", raising=False)
    monkeypatch.delenv("LUME_CONFIG", raising=False)
    for flag, name in (("-o", "new.json"), ("--report", "old.json")):
        result = CliRunner().invoke(main, ["verify", "--only", "labels.table", flag, str(tmp_path / name)])
        assert result.exit_code == 1, result.output  # a partial run is never green
        assert (tmp_path / name).is_file()
    old = CliRunner().invoke(main, ["report", "verify", str(tmp_path / "old.json"), "--trust",
                                    str(tmp_path / "keys" / "trusted_keys.json"), "--max-age", "1h"])
    assert old.exit_code == 0, old.output  # --trust is the old spelling of --trust-file


def test_lumf_inspect_listens_on_address_or_old_listen() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for flag in ("--address", "--listen"):
        result = CliRunner().invoke(main, ["lumf", "inspect", flag, f"127.0.0.1:{port}",
                                           "--timeout", "100ms", "--json"])
        assert result.exit_code == 1, result.output  # nothing arrived: the check fails
        assert json.loads(result.output.splitlines()[-1])["summary"]["packets"] == 0
