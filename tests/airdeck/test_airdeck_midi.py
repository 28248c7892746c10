"""MIDI dispatch: the map as exact bytes, and the whole path into a real mido socket port.

These machines have no ALSA sequencer, so the rtmidi path is tested only where /dev/snd
exists; the socket path (mido.sockets.PortServer on loopback) runs everywhere.
"""
from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import mido
import mido.sockets
import pytest
from airdeck_helpers import T0, frames_for, gate, held

from lume.runtime.airdeck import MidiDispatcher, MidiOpenError, open_output, parse_tcp_spec, replay
from lume.runtime.airdeck._midi_map import MidiRow, planned_messages
from lume.runtime.core import get

ROWS = get("airdeck_midi_map.v1").table_data()["rows"]


@pytest.fixture
def server():
    """A real mido socket port server on a free loopback port."""
    srv = mido.sockets.PortServer("127.0.0.1", 0)
    srv.port = srv._socket.getsockname()[1]  # bound to port 0: the kernel picked a free one
    yield srv
    srv.close()


def received_bytes(srv, timeout=5.0) -> bytes:
    """Everything the (closed) client sent, read raw from the accepted connection."""
    conn = srv.accept()
    sock = conn._socket
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    conn.close()
    return data


def test_every_map_row_plans_its_exact_bytes():
    for row in ROWS:
        msgs = planned_messages(MidiRow.from_row(row))
        if row["message"] == "note_on":
            assert msgs == ((0, bytes([0x90 | row["channel"], row["note"], row["value"]])),
                            (row["release_after_ms"], bytes([0x90 | row["channel"], row["note"], 0])))
        else:
            assert msgs == ((0, bytes([0xB0 | row["channel"], row["control"], row["value"]])),)
        for _, data in msgs:  # and mido reads them as the message type the row names
            assert mido.Message.from_bytes(data).type == row["message"]


def test_play_pause_bytes_match_the_ddj_flx4_layout():
    by = {(r["label"], r["deck"]): MidiRow.from_row(r) for r in ROWS}
    assert planned_messages(by[("d1_play_pause", 1)])[0][1] == b"\x90\x0b\x7f"
    assert planned_messages(by[("d2_play_pause", 2)])[0][1] == b"\x91\x0b\x7f"


def test_port_specs():
    assert parse_tcp_spec("tcp://127.0.0.1:9788") == ("127.0.0.1", 9788)
    assert parse_tcp_spec("LUME AirDeck") is None
    for bad in ("tcp://127.0.0.1", "tcp://host:99999", "tcp://:80", "tcp://a b:1"):
        with pytest.raises(ValueError):
            parse_tcp_spec(bad)


def test_unreachable_socket_port_is_a_clear_error():
    with socket.socket() as s:  # a port that was free a moment ago: nobody listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(MidiOpenError, match=f"tcp://127.0.0.1:{port}"):
        open_output(f"tcp://127.0.0.1:{port}")


def test_gate_to_socket_port_sends_exactly_one_play_pause(server):
    events = held("left_hand_raise", T0, 2000) + held("right_hand_raise", T0 + 3000, 800)
    decisions = replay(gate(), events, frames_for(events))
    sleeps = []
    out = MidiDispatcher(open_output(f"tcp://127.0.0.1:{server.port}"), sleep=sleeps.append)
    for d in decisions:
        if d.dispatched:
            out.send(d.midi)
    out.close()
    assert received_bytes(server) == b"\x90\x0b\x7f\x90\x0b\x00\x91\x0b\x7f\x91\x0b\x00"
    assert sleeps == [0.03, 0.03]  # release_after_ms of the map, between press and release


def test_messages_arrive_as_mido_messages(server):
    out = open_output(f"tcp://127.0.0.1:{server.port}")
    conn = server.accept()
    dispatcher = MidiDispatcher(out, sleep=lambda s: None)
    dispatcher.send(((0, b"\xb1\x22\x41"),))
    dispatcher.close()
    msgs, deadline = [], time.monotonic() + 5
    while not msgs and time.monotonic() < deadline:
        msgs += list(conn.iter_pending())
        time.sleep(0.005)
    conn.close()
    assert [m.bytes() for m in msgs] == [[0xB1, 0x22, 0x41]]
    assert msgs[0].type == "control_change" and msgs[0].channel == 1


def _alsa_missing() -> bool:
    return sys.platform.startswith("linux") and not Path("/dev/snd").exists()


@pytest.mark.skipif(_alsa_missing(), reason="no ALSA sequencer on this machine (/dev/snd is absent): "
                    "python-rtmidi can neither open nor create a MIDI port")
def test_rtmidi_named_port():
    backend = mido.Backend("mido.backends.rtmidi", load=True)
    try:
        virtual = backend.open_input("LUME AirDeck test", virtual=True)
    except Exception as exc:  # a MIDI subsystem without virtual ports (e.g. Windows without loopMIDI)
        pytest.skip(f"cannot create a virtual MIDI port here: {exc}")
    try:
        out = MidiDispatcher(open_output("LUME AirDeck test"), sleep=lambda s: None)
        out.send(((0, b"\x90\x0b\x7f"),))
        out.close()
        msg = virtual.receive(block=True)
        assert msg.bytes() == [0x90, 0x0B, 0x7F]
    finally:
        virtual.close()


def test_rtmidi_without_a_port_is_a_clear_error():
    with pytest.raises(MidiOpenError, match="python-rtmidi"):
        open_output("LUME no such port 7f3a")
