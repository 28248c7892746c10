"""A SAN OSC receiver never dies or stalls on a datagram (issue 18): every hostile datagram is
one rejected result under one reason of san_osc.v1 `decoder` or san_receiver.v1
`reject_reasons`, the listener goes on to the next datagram, and --timeout still ends it.
Fuzzed with hypothesis (raw bytes and mutations of valid bundles) against a real loopback
listener, and end to end against the `lume san listen` process."""
from __future__ import annotations

import struct

import pytest
from hostile_helpers import attack_udp_process, mutated
from hypothesis import given
from hypothesis import strategies as st

from lume.generated.constants import SAN_RECEIVER_REASONS
from lume.runtime import san
from lume.runtime.san import Listener, decode_all, encode

REASONS = set(SAN_RECEIVER_REASONS) | set(san.spec()["decoder"])
LIMITS = san.receiver().limits
TIMETAG = b"\x00\x00\x00\x00\x00\x00\x00\x01"


def osc_string(raw: bytes) -> bytes:
    return raw + b"\x00" * (4 - len(raw) % 4)


def bundle(*elements: bytes) -> bytes:
    return b"#bundle\x00" + TIMETAG + b"".join(struct.pack(">i", len(e)) + e for e in elements)


def nest(depth: int, inner: bytes) -> bytes:
    for _ in range(depth):
        inner = bundle(inner)
    return inner


GOOD = encode("/san/cluster", 1)
HOSTILE = {  # the attacks and their neighbours -> the one reason each is counted under
    "invalid UTF-8 in the address": (osc_string(b"/san/\xff\xfe") + b",i\x00\x00" + bytes(4), "invalid_utf8"),
    "invalid UTF-8 in the type tags": (osc_string(b"/san/cluster") + osc_string(b",\xc3") + bytes(4),
                                       "invalid_utf8"),
    "a deep bundle nest": (nest(LIMITS.max_bundle_depth + 1, GOOD), "too_deep"),
    "a short bundle": (b"#bundle\x00\x00\x00", "malformed"),
    "a bundle element of length -4": (b"#bundle\x00" + TIMETAG + struct.pack(">i", -4) + GOOD, "malformed"),
    "a bundle element of length 0": (b"#bundle\x00" + TIMETAG + struct.pack(">i", 0), "malformed"),
    "an element size past the end": (b"#bundle\x00" + TIMETAG + struct.pack(">i", 4096) + GOOD, "malformed"),
    "an unaligned element size": (b"#bundle\x00" + TIMETAG + struct.pack(">i", 5) + GOOD + b"\x00",
                                  "malformed"),
    "an element size cut short": (b"#bundle\x00" + TIMETAG + b"\x00\x00", "malformed"),
    "too many messages": (bundle(*[GOOD] * (LIMITS.max_messages_per_datagram + 1)), "too_many_messages"),
    "an oversized datagram": (GOOD + bytes(LIMITS.max_datagram_bytes), "oversized"),
    "an address without its NUL": (b"/san/cluster", "malformed"),
    "not an address": (b"hello world\x00", "malformed"),
    "an empty datagram": (b"", "malformed"),
    "a thousand unknown type tags": (osc_string(b"/san/cluster") + osc_string(b"," + b"X" * 1000),
                                     "wrong_argument_count"),
    "unbalanced array tags": (osc_string(b"/san/cluster") + osc_string(b",]]]]i") + bytes(4),
                              "wrong_type_tag"),
    "a missing argument": (osc_string(b"/san/cluster") + b",i\x00\x00", "malformed"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_each_hostile_datagram_is_one_rejection_with_its_reason(name):
    data, reason = HOSTILE[name]
    results = list(decode_all(data))
    assert len(results) == 1 and results[0]["valid"] is False, results
    assert results[0]["reason"] == reason, results[0]


def test_a_bundle_at_the_depth_limit_is_decoded_in_order():
    two = bundle(encode("/san/pattern_id", 7), bundle(encode("/san/confidence", 0.5)), GOOD)
    assert [r["address"] for r in decode_all(nest(LIMITS.max_bundle_depth - 2, two))] == [
        "/san/pattern_id", "/san/confidence", "/san/cluster"]


def test_a_nest_far_deeper_than_python_recursion_is_refused_not_a_crash(monkeypatch):
    deep = nest(5000, GOOD)  # python-osc's OscBundle raised RecursionError here
    monkeypatch.setattr(LIMITS, "max_datagram_bytes", len(deep))
    assert [r["reason"] for r in decode_all(deep)] == ["too_deep"]


def test_unknown_type_tags_log_nothing(capfd):
    list(decode_all(HOSTILE["a thousand unknown type tags"][0]))
    assert capfd.readouterr().err == ""  # python-osc warned once per tag


# ----------------------------------------------------------------------------- fuzz, decoder
def _check(results: list) -> None:
    for r in results:
        assert r is None or r["valid"] is True or r["reason"] in REASONS, r


@given(st.binary(max_size=256))
def test_any_bytes_decode_to_results_never_an_exception(data):
    _check(list(decode_all(data)))


@given(st.binary(max_size=64))
def test_any_bytes_behind_a_bundle_header_never_raise(tail):
    _check(list(decode_all(b"#bundle\x00" + TIMETAG + tail)))


VALID = [encode("/san/pattern_id", 3), encode("/san/confidence", 0.25), GOOD]


def mutated_bundles():
    """A valid (possibly nested) SAN bundle with bytes flipped, cut, inserted, or an element
    size rewritten."""
    seeds = st.builds(lambda parts, depth: nest(depth, bundle(*parts)),
                      st.lists(st.sampled_from(VALID), min_size=1, max_size=4), st.integers(0, 3))
    sizes = st.sampled_from([-4, -1, 0, 1, 3, 2**31 - 1]).map(lambda n: struct.pack(">i", n))
    return mutated(seeds, sizes)


@given(mutated_bundles())
def test_mutated_bundles_decode_to_results_never_an_exception(data):
    _check(list(decode_all(data)))


# ------------------------------------------------------------------- fuzz, a loopback listener
@pytest.fixture(scope="module")
def listener():
    sock = Listener.bind("127.0.0.1", 0)
    yield sock
    sock.close()


@given(st.one_of(st.binary(max_size=512), mutated_bundles(), st.sampled_from([d for d, _ in HOSTILE.values()])))
def test_a_loopback_listener_counts_every_datagram_and_stays_up(listener, udp_sender, data):
    before = dict(listener.counts), sum(listener.by_reason.values())
    udp_sender.sendto(data, ("127.0.0.1", listener.port))
    udp_sender.sendto(GOOD, ("127.0.0.1", listener.port))
    results = list(listener.results(count=before[0]["datagrams"] + 2, timeout=10))
    assert listener.counts["datagrams"] == before[0]["datagrams"] + 2
    _check(results)
    assert results[-1] == {"valid": True, **san.decode(GOOD).as_dict()}  # still decoding
    rejected = listener.counts["rejected"] - before[0]["rejected"]
    assert sum(listener.by_reason.values()) - before[1] == rejected


# -------------------------------------------------------------------------- the real process
def test_lume_san_listen_survives_every_attack_and_counts_them_by_reason():
    attacks = [d for d, _ in HOSTILE.values()]
    code, lines, err = attack_udp_process(["san", "listen"], attacks + [GOOD],
                                          extra=("--count", str(len(attacks) + 1), "--timeout", "30s"))
    assert code == 1, err  # something was refused
    assert b"Traceback" not in err and err.strip() == b"", err
    summary = lines[-1]["summary"]
    assert summary["datagrams"] == len(attacks) + 1 and summary["valid"] == 1
    expected: dict[str, int] = {}
    for _, reason in HOSTILE.values():
        expected[reason] = expected.get(reason, 0) + 1
    assert summary["rejected_by_reason"] == expected
    assert lines[-2]["valid"] is True  # the last datagram, after every attack, was decoded


def test_lume_san_listen_ends_on_its_timeout_after_a_hostile_datagram():
    _, lines, err = attack_udp_process(["san", "listen"], [HOSTILE["a bundle element of length -4"][0]],
                                       extra=("--timeout", "1s"))
    assert lines[-1]["summary"]["rejected_by_reason"] == {"malformed": 1} and len(err) < 1000
