"""LUMF codec: golden vectors byte for byte, every refusal with its contract reason, round-trips."""
from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lume.generated import lumf_layout as L
from lume.runtime.core import get
from lume.runtime.lumf import _codec as codec
from lume.runtime.lumf._codec import PacketBuffer, PacketError, decode, encode
from lume.verifiers._strategies import lumf_features

GOLDEN = get("lumf_golden.v1").table_data()
LAYOUT = get("lumf_layout.v1").table_data()
VALID = {p["name"]: p for p in GOLDEN["packets"]}
INVALID = GOLDEN["invalid_packets"]
TYPICAL = bytes.fromhex(VALID["typical_music"]["hex"])
FIELD = {f["name"]: f for f in LAYOUT["fields"]}


def f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def same_f32(a, b) -> bool:
    """Equal as float32 bit patterns (field by field, arrays element by element)."""
    if isinstance(a, list):
        return len(a) == len(b) and all(same_f32(x, y) for x, y in zip(a, b))
    return f32_bits(a) == f32_bits(b)


def test_generated_constants_match_the_layout_contract():
    assert (L.SIZE, L.MAGIC, L.ENDIANNESS) == (LAYOUT["size"], LAYOUT["magic"], LAYOUT["endianness"])
    assert struct.calcsize(L.STRUCT_FORMAT) == L.SIZE
    assert L.REJECT_REASONS == tuple(r["reason"] for r in LAYOUT["receiver"]["reject"])
    assert codec.N_VALUES == sum(FIELD[n]["count"] for n in L.VALUE_FIELDS)
    assert L.ELEMENTS["mfcc"] == tuple(FIELD["mfcc"]["elements"])


@pytest.mark.parametrize("name", list(VALID))
def test_golden_packet_round_trips_byte_for_byte(name):
    packet = VALID[name]
    data = bytes.fromhex(packet["hex"])
    decoded = decode(data)
    assert list(decoded) == list(L.VALUE_FIELDS)
    for field, value in packet["fields"].items():
        assert same_f32(decoded[field], value), field
        assert decoded[field] == value, field  # the YAML holds the exact float32 values
    assert encode(packet["fields"]) == data
    assert encode(decoded) == data


@pytest.mark.parametrize("name", list(VALID))
def test_packet_buffer_writes_the_same_bytes_as_encode(name):
    packet = VALID[name]
    buf = PacketBuffer()
    out = buf.load(np.array(codec.flatten(packet["fields"])))
    assert bytes(out) == bytes.fromhex(packet["hex"])


@pytest.mark.parametrize("packet", INVALID, ids=[p["name"] for p in INVALID])
def test_every_invalid_golden_packet_is_refused_with_its_reason(packet):
    with pytest.raises(PacketError) as err:
        decode(bytes.fromhex(packet["hex"]))
    assert err.value.reason == packet["reason"]
    assert "lumf_layout.v1" in str(err.value) and packet["reason"] in str(err.value)


@pytest.mark.parametrize("size", [0, 1, 4, 63, 64, 83, 85, 128, 1500])
def test_short_and_long_datagrams_are_wrong_size(size):
    data = (TYPICAL * 20)[:size]
    with pytest.raises(PacketError) as err:
        decode(data)
    assert err.value.reason == "wrong_size" and str(size) in err.value.detail


def test_a_valid_packet_plus_one_zero_byte_is_still_refused():
    with pytest.raises(PacketError, match="wrong_size"):
        decode(TYPICAL + b"\x00")


@pytest.mark.parametrize("byte", range(4))
def test_any_change_to_the_magic_is_wrong_magic(byte):
    data = bytearray(TYPICAL)
    data[byte] ^= 0x20
    with pytest.raises(PacketError) as err:
        decode(bytes(data))
    assert (err.value.reason, err.value.field) == ("wrong_magic", "magic")


@pytest.mark.parametrize("offset", range(FIELD["reserved"]["offset"], L.SIZE))
def test_every_reserved_byte_must_be_zero(offset):
    data = bytearray(TYPICAL)
    data[offset] = 0x80
    with pytest.raises(PacketError) as err:
        decode(bytes(data))
    assert (err.value.reason, err.value.field) == ("reserved_nonzero", "reserved")
    assert str(offset) in err.value.detail


SLOT_OFFSETS = [(label, FIELD[field]["offset"] + 4 * el)
                for label, _i, field, el, _lo, _hi in codec.SLOTS]


@pytest.mark.parametrize(("label", "offset"), SLOT_OFFSETS, ids=[s[0] for s in SLOT_OFFSETS])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_values_are_refused_naming_the_field(label, offset, bad):
    data = bytearray(TYPICAL)
    struct.pack_into("<f", data, offset, bad)
    with pytest.raises(PacketError) as err:
        decode(bytes(data))
    assert (err.value.reason, err.value.field) == ("non_finite", label)


@pytest.mark.parametrize(("label", "offset"), SLOT_OFFSETS, ids=[s[0] for s in SLOT_OFFSETS])
def test_values_just_outside_the_range_are_refused_naming_the_field(label, offset):
    slot = next(s for s in codec.SLOTS if s[0] == label)
    lo, hi = slot[4], slot[5]
    for bad in (np.nextafter(np.float32(hi), np.float32(np.inf)),
                np.nextafter(np.float32(lo), np.float32(-np.inf))):
        data = bytearray(TYPICAL)
        struct.pack_into("<f", data, offset, float(bad))
        with pytest.raises(PacketError) as err:
            decode(bytes(data))
        assert (err.value.reason, err.value.field) == ("out_of_range", label)


def test_the_first_failing_reason_wins_in_contract_order():
    data = bytearray(TYPICAL)
    data[0] ^= 1                                   # wrong magic
    data[-1] = 1                                   # reserved non-zero
    struct.pack_into("<f", data, 4, math.nan)      # rms NaN
    struct.pack_into("<f", data, 8, -5.0)          # centroid out of range
    repairs = {"wrong_magic": lambda: data.__setitem__(0, data[0] ^ 1),
               "reserved_nonzero": lambda: data.__setitem__(-1, 0),
               "non_finite": lambda: struct.pack_into("<f", data, 4, 0.5),
               "out_of_range": lambda: struct.pack_into("<f", data, 8, 100.0)}
    for reason in L.REJECT_REASONS[1:]:  # wrong_size cannot be combined with the others
        with pytest.raises(PacketError) as err:
            decode(bytes(data))
        assert err.value.reason == reason
        repairs[reason]()
    assert decode(bytes(data))["rms"] == 0.5


def test_encode_refuses_what_a_receiver_would_refuse():
    fields = dict(VALID["typical_music"]["fields"])
    with pytest.raises(PacketError) as err:
        encode(fields | {"onset": 1.5})
    assert (err.value.reason, err.value.field) == ("out_of_range", "onset")
    with pytest.raises(PacketError) as err:
        encode(fields | {"mfcc": [0.0] * 7 + [math.nan]})
    assert (err.value.reason, err.value.field) == ("non_finite", "mfcc[7]")
    with pytest.raises(PacketError) as err:
        encode(fields | {"centroid": 1e39})  # beyond float32 altogether
    assert (err.value.reason, err.value.field) == ("out_of_range", "centroid")


def test_encode_refuses_missing_unknown_and_mis_sized_fields():
    fields = dict(VALID["typical_music"]["fields"])
    with pytest.raises(ValueError, match="'mfcc' is missing"):
        encode({k: v for k, v in fields.items() if k != "mfcc"})
    with pytest.raises(ValueError, match="unknown LUMF field"):
        encode(fields | {"bpm": 120.0})
    with pytest.raises(ValueError, match="eq_bands.*3 values"):
        encode(fields | {"eq_bands": [0.0, 0.0, 0.0]})
    with pytest.raises(ValueError, match="not numbers"):
        encode(fields | {"rms": "loud"})


def test_packet_buffer_refuses_bad_values_and_keeps_the_constants():
    buf = PacketBuffer()
    flat = np.array(codec.flatten(VALID["typical_music"]["fields"]))
    flat[codec.SLICES["eq_bands"].start + 2] = 2.0
    with pytest.raises(PacketError) as err:
        buf.load(flat)
    assert (err.value.reason, err.value.field) == ("out_of_range", "eq_bands[2]")
    flat[codec.SLICES["eq_bands"].start + 2] = np.inf
    with pytest.raises(PacketError) as err:
        buf.load(flat)
    assert (err.value.reason, err.value.field) == ("non_finite", "eq_bands[2]")
    assert bytes(buf.buffer[:4]) == struct.pack("<I", L.MAGIC)
    assert bytes(buf.buffer[FIELD["reserved"]["offset"]:]) == bytes(FIELD["reserved"]["count"])


def features_strategy():
    """Any valid feature set (the strategy the lumf.codec.properties verifier draws from)."""
    return lumf_features()


@given(features_strategy())
def test_any_valid_features_round_trip_exactly(features):
    data = encode(features)
    assert len(data) == L.SIZE
    back = decode(data)
    for name, value in features.items():
        assert same_f32(back[name], value), name
    assert encode(back) == data


@given(st.binary(min_size=L.SIZE, max_size=L.SIZE))
def test_decode_of_arbitrary_bytes_either_returns_valid_fields_or_a_contract_reason(data):
    try:
        fields = decode(data)
    except PacketError as exc:
        assert exc.reason in L.REJECT_REASONS
    else:
        assert encode(fields) == data
