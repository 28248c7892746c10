"""The LUMF inspector never dies on a datagram, and LUMF audio inputs are bounded files (issue 18).

Every datagram is valid or rejected under one of lumf_layout.v1's reject reasons, fuzzed with
hypothesis (raw bytes and mutations of golden packets) against a real loopback socket and end
to end against the `lume lumf inspect` process; an audio input that is a FIFO or a device is
refused at once (exit 2), never read.
"""
from __future__ import annotations

import os
import struct

import pytest
from click.testing import CliRunner
from hostile_helpers import attack_udp_process, mutated, returns_promptly
from hypothesis import given
from hypothesis import strategies as st

from lume.generated import lumf_layout as L
from lume.runtime.cli import main
from lume.runtime.core import get
from lume.runtime.lumf import Tally, bind, inspect_packet, receive

GOLDEN = [bytes.fromhex(p["hex"]) for p in get("lumf_golden.v1").table_data()["packets"]]
NAN = struct.pack("<f", float("nan"))
HOSTILE = {
    "empty": (b"", "wrong_size"),
    "one byte short": (GOLDEN[0][:-1], "wrong_size"),
    "the largest UDP payload": (bytes(65_507), "wrong_size"),
    "wrong magic": (b"LUMG" + GOLDEN[0][4:], "wrong_magic"),
    "reserved bytes set": (GOLDEN[0][:-1] + b"\x01", "reserved_nonzero"),
    "a NaN feature": (GOLDEN[0][:4] + NAN + GOLDEN[0][8:], "non_finite"),
}


def _check(result: dict) -> None:
    assert result["valid"] is True or result["reason"] in L.REJECT_REASONS, result


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_each_hostile_packet_is_one_rejection_with_its_reason(name):
    data, reason = HOSTILE[name]
    assert inspect_packet(data)["reason"] == reason


@given(st.binary(max_size=200))
def test_any_bytes_are_valid_or_rejected_by_a_contract_reason(data):
    _check(inspect_packet(data))


def mutated_packets():
    """A golden packet with bytes flipped, cut, inserted, or a float32 feature rewritten."""
    floats = st.floats(allow_nan=True, allow_infinity=True, width=32).map(lambda x: struct.pack("<f", x))
    return mutated(st.sampled_from(GOLDEN), floats)


@given(mutated_packets())
def test_mutated_golden_packets_are_valid_or_rejected_by_a_contract_reason(data):
    _check(inspect_packet(data))


@pytest.fixture(scope="module")
def inspector():
    sock = bind("127.0.0.1", 0)
    yield sock
    sock.close()


@given(st.one_of(st.binary(max_size=256), mutated_packets(), st.sampled_from([d for d, _ in HOSTILE.values()])))
def test_a_loopback_inspector_counts_every_datagram_and_stays_up(inspector, udp_sender, data):
    tally = Tally()
    port = inspector.getsockname()[1]
    udp_sender.sendto(data, ("127.0.0.1", port))
    udp_sender.sendto(GOLDEN[0], ("127.0.0.1", port))
    results = [r for r, _ in receive(inspector, count=2, timeout=10, tally=tally)]
    assert tally.packets == 2 and results[-1]["valid"] is True
    _check(results[0])
    assert tally.as_dict()["rejected"] == (0 if results[0]["valid"] else 1)


def test_lume_lumf_inspect_survives_every_attack_and_counts_them_by_reason():
    attacks = [d for d, _ in HOSTILE.values()]
    code, lines, err = attack_udp_process(["lumf", "inspect"], attacks + [GOLDEN[0]],
                                          extra=("--count", str(len(attacks) + 1), "--timeout", "30s"))
    assert code == 1 and b"Traceback" not in err, err
    summary = lines[-1]["summary"]
    expected = {r: 0 for r in L.REJECT_REASONS}
    for _, reason in HOSTILE.values():
        expected[reason] += 1
    assert summary["valid"] == 1 and summary["rejected_by_reason"] == expected


# ------------------------------------------------------------------------------ audio inputs
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need a POSIX system")
@pytest.mark.parametrize("verb", [["features"], ["publish", "--address", "127.0.0.1:9", "--duration", "1s"]])
def test_an_audio_fifo_is_refused_at_once(tmp_path, verb):
    fifo = tmp_path / "take.wav"
    os.mkfifo(fifo)
    result = returns_promptly(CliRunner().invoke, main, ["lumf", verb[0], str(fifo), *verb[1:]])
    assert result.exit_code == 2, result.output
    assert "not a regular file (a FIFO)" in result.output


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_dev_zero_as_audio_is_refused():
    result = returns_promptly(CliRunner().invoke, main, ["lumf", "features", "/dev/zero"])
    assert result.exit_code == 2 and "a character device" in result.output, result.output


# --------------------------------------------------------------------------- the heartbeat file
# The rig probe reads the publisher's heartbeat through the LUMF package's own reader, bounded by
# input_limits.v1's `lumf_heartbeat` row: whatever the file holds, a time or one reason.


def test_the_heartbeat_reader_reads_what_the_publisher_writes(tmp_path) -> None:
    from lume.runtime.lumf import beat_text, read_heartbeat

    path = tmp_path / "heartbeat"
    path.write_text(beat_text(1_780_000_000.25))
    assert read_heartbeat(path) == 1_780_000_000.25


@given(st.binary(max_size=80))
def test_any_heartbeat_bytes_give_a_time_or_one_reason(tmp_path_factory, data: bytes) -> None:
    from lume.runtime.core import InputError, input_limit
    from lume.runtime.lumf import BadHeartbeat, read_heartbeat

    path = tmp_path_factory.mktemp("beat") / "heartbeat"
    path.write_bytes(data)
    try:
        beat = read_heartbeat(path)
    except BadHeartbeat as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    except InputError as exc:  # only a file over the row's limit
        assert len(data) > input_limit("lumf_heartbeat").max_bytes
        assert "lumf_heartbeat inputs [input_limits.v1]" in str(exc)
        return
    assert beat == beat and abs(beat) != float("inf")


@pytest.mark.skipif(os.name != "posix", reason="FIFOs are POSIX")
def test_a_heartbeat_fifo_or_folder_is_refused_never_waited_on(tmp_path) -> None:
    from lume.runtime.core import InputError
    from lume.runtime.lumf import read_heartbeat

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="a FIFO"):
        returns_promptly(read_heartbeat, fifo)
    with pytest.raises(InputError, match="a directory"):
        read_heartbeat(tmp_path)
