"""SAN OSC: encode/decode per contracts/san_osc.v1.yaml, loopback round-trip, refusals, CLI."""
from __future__ import annotations

import json
import math
import socket
import struct
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from lume.runtime import san
from lume.runtime.cli import main
from lume.runtime.core import get
from lume.runtime.san import SanError, SanSender, decode, decode_datagram, encode

SPEC = get("san_osc.v1").table_data()
ROWS = {m["address"]: m for m in SPEC["messages"]}


def build(address: str, *args: tuple) -> bytes:
    b = OscMessageBuilder(address=address)
    for value, tag in args:
        b.add_arg(value, tag)
    return b.build().dgram


def test_the_module_reads_the_contract_table():
    assert san.spec() == SPEC
    assert san.default_port() == SPEC["port"] == 9050
    assert set(ROWS) == {"/san/pattern_id", "/san/confidence", "/san/cluster"}


def test_wire_bytes_are_standard_osc_1_0():
    assert encode("/san/cluster", 2) == b"/san/cluster\x00\x00\x00\x00,i\x00\x00" + struct.pack(">i", 2)
    assert encode("/san/confidence", 0.5) == (b"/san/confidence\x00,f\x00\x00"
                                              + struct.pack(">f", 0.5))


@pytest.mark.parametrize(("address", "value", "name"), [
    ("/san/pattern_id", -2147483648, None), ("/san/pattern_id", 2147483647, None),
    ("/san/pattern_id", 123456, None), ("/san/confidence", 0.0, None),
    ("/san/confidence", 1.0, None), ("/san/confidence", 0.75, None),
    ("/san/cluster", 0, "groove"), ("/san/cluster", 1, "harmonic"), ("/san/cluster", 2, "minimal"),
])
def test_valid_values_round_trip(address, value, name):
    m = decode(encode(address, value))
    assert (m.address, m.value, m.name) == (address, value, name)
    assert m.extras_field == ROWS[address]["extras_field"]


@given(st.integers(-2**31, 2**31 - 1), st.floats(0, 1, width=32), st.sampled_from([0, 1, 2]))
def test_any_valid_triple_round_trips(pattern, confidence, cluster):
    for address, value in (("/san/pattern_id", pattern), ("/san/confidence", confidence),
                           ("/san/cluster", cluster)):
        assert decode(encode(address, value)).value == value


@pytest.mark.parametrize(("address", "value", "reason"), [
    ("/san/pattern_id", 2**31, "out_of_range"), ("/san/pattern_id", -2**31 - 1, "out_of_range"),
    ("/san/pattern_id", 1.5, "wrong_type_tag"), ("/san/pattern_id", True, "wrong_type_tag"),
    ("/san/confidence", 1.0000001, "out_of_range"), ("/san/confidence", -0.01, "out_of_range"),
    ("/san/confidence", math.nan, "non_finite"), ("/san/confidence", math.inf, "non_finite"),
    ("/san/confidence", "high", "wrong_type_tag"),
    ("/san/cluster", 3, "out_of_range"), ("/san/cluster", -1, "out_of_range"),
    ("/san/unknown", 1, "unknown_address"),
])
def test_encode_refuses_what_the_contract_refuses(address, value, reason):
    with pytest.raises(SanError) as err:
        encode(address, value)
    assert err.value.reason == reason and "san_osc.v1" in str(err.value)


@pytest.mark.parametrize(("dgram", "reason"), [
    (build("/san/cluster", (1.0, "f")), "wrong_type_tag"),
    (build("/san/confidence", (1, "i")), "wrong_type_tag"),
    (build("/san/pattern_id", (1, "h")), "wrong_type_tag"),
    (build("/san/cluster", (1, "i"), (2, "i")), "wrong_argument_count"),
    (build("/san/cluster"), "wrong_argument_count"),
    (build("/san/cluster", (5, "i")), "out_of_range"),
    (build("/san/confidence", (1.5, "f")), "out_of_range"),
    (build("/san/confidence", (math.nan, "f")), "non_finite"),
    (build("/san/confidence", (-math.inf, "f")), "non_finite"),
    (b"not osc at all", "malformed"),
    (b"/san/cluster\x00\x00\x00\x00,i\x00\x00\x00", "malformed"),  # truncated argument
])
def test_decode_refuses_what_the_contract_refuses(dgram, reason):
    assert SPEC["decoder"].get(reason, "reject") == "reject"
    with pytest.raises(SanError) as err:
        decode(dgram)
    assert err.value.reason == reason


def test_unknown_addresses_are_ignored_as_the_contract_says():
    assert SPEC["decoder"]["unknown_address"] == "ignore"
    assert decode(build("/lume/energy", (0.5, "f"))) is None


def test_messages_inside_a_bundle_are_decoded():
    b = OscBundleBuilder(IMMEDIATELY)
    b.add_content(_msg("/san/pattern_id", 42, "i"))
    b.add_content(_msg("/san/cluster", 1, "i"))
    b.add_content(_msg("/other", 1, "i"))
    got = decode_datagram(b.build().dgram)
    assert [(m.address, m.value) for m in got] == [("/san/pattern_id", 42), ("/san/cluster", 1)]


def _msg(address, value, tag):
    m = OscMessageBuilder(address=address)
    m.add_arg(value, tag)
    return m.build()


def test_round_trip_over_loopback_udp():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(10)
    sent = [("/san/pattern_id", -77), ("/san/confidence", 0.25), ("/san/cluster", 0)]
    with SanSender("127.0.0.1", rx.getsockname()[1]) as tx:
        for address, value in sent:
            tx.send(address, value)
    got = [decode(rx.recv(4096)) for _ in sent]
    rx.close()
    assert [(m.address, m.value) for m in got] == sent
    assert got[2].name == "groove" and got[1].extras_field == "sanConfidence"


# --- CLI ------------------------------------------------------------------------------------
def run(*args):
    return CliRunner().invoke(main, list(args))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_bound(port: int) -> None:
    table = Path("/proc/net/udp")
    if not table.exists():
        pytest.skip("needs /proc/net/udp to see when the listener is up")
    wanted = f"0100007F:{port:04X}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if any(line.split()[1] == wanted for line in table.read_text().splitlines()[1:]):
            return
        time.sleep(0.01)
    raise AssertionError(f"nothing bound udp port {port}")


def test_cli_send_emits_one_message_per_value():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(10)
    r = run("san", "send", "--address", f"127.0.0.1:{rx.getsockname()[1]}", "--pattern-id", "9",
            "--confidence", "0.5", "--cluster", "minimal", "--json")
    assert r.exit_code == 0, r.output
    got = [decode(rx.recv(4096)) for _ in range(3)]
    rx.close()
    assert sorted((m.address, m.value) for m in got) == [
        ("/san/cluster", 2), ("/san/confidence", 0.5), ("/san/pattern_id", 9)]
    assert {m["address"] for m in json.loads(r.output)["sent"]} == {m.address for m in got}


def test_cli_listen_decodes_and_counts_refusals():
    # Only one CliRunner at a time: it swaps sys.stdout for the whole process.
    port = free_port()
    holder = {}
    t = threading.Thread(target=lambda: holder.update(r=run(
        "san", "listen", "--listen", f"127.0.0.1:{port}", "--count", "4", "--timeout", "10s",
        "--json")))
    t.start()
    wait_until_bound(port)
    with SanSender("127.0.0.1", port) as tx:
        tx.send("/san/pattern_id", 9)
        tx.send("/san/confidence", 0.5)
        tx.send("/san/cluster", 2)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(build("/san/cluster", (9, "i")), ("127.0.0.1", port))
    t.join()
    out = holder["r"]
    assert out.exit_code == 1, out.output  # one refused message
    lines = [json.loads(x) for x in out.output.splitlines()]
    assert [(x.get("address"), x.get("value")) for x in lines[:3]] == [
        ("/san/pattern_id", 9), ("/san/confidence", 0.5), ("/san/cluster", 2)]
    assert lines[2]["name"] == "minimal" and lines[2]["extras_field"] == "sanCluster"
    assert lines[3] == {"valid": False, "reason": "out_of_range", "address": "/san/cluster",
                        "detail": lines[3]["detail"]}
    assert lines[4]["summary"]["rejected_by_reason"] == {"out_of_range": 1}


def test_cli_send_refuses_out_of_range_values_before_sending_anything():
    r = run("san", "send", "--to", "127.0.0.1:9", "--confidence", "0.5", "--cluster", "loud")
    assert r.exit_code == 2 and "groove" in r.output
    r = run("san", "send", "--confidence", "1.5")
    assert r.exit_code == 2 and "out_of_range" in r.output
    assert run("san", "send").exit_code == 2
