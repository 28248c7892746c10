"""The LUMF codec: feature values <-> one 84-byte packet, built only on the generated layout.

Every offset, size, type, range, reject reason and the magic come from `lume.generated.lumf_layout`
(rendered from contracts/lumf_layout.v1.yaml); nothing here spells them. Features travel as a
dict keyed by the contract's field names (`rms`, `centroid`, ..., arrays as lists) or, on the hot
path, as one flat vector of the value fields in wire order ("slots").
"""
from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence

import numpy as np

from lume.generated import lumf_layout as L

CONTRACT = "lumf_layout.v1"
STRUCT = struct.Struct(L.STRUCT_FORMAT)
_BYTE_ORDER = {"little": "<", "big": ">"}[L.ENDIANNESS]

Features = dict[str, "float | list[float]"]


class PacketError(ValueError):
    """A packet (or feature set) the contract refuses; `reason` is one of its reject reasons."""

    def __init__(self, reason: str, detail: str, field: str | None = None) -> None:
        if reason not in L.REJECT_REASONS:  # a reason outside the contract is a bug, not input
            raise AssertionError(f"unknown LUMF reject reason {reason!r}")
        self.reason, self.field, self.detail = reason, field, detail
        where = f" [{field}]" if field else ""
        super().__init__(f"LUMF packet rejected: {reason}{where}: {detail} "
                         f"({CONTRACT} receiver.reject)")


def _layout() -> tuple[list[tuple], list[tuple[str, int, str, int, float, float]]]:
    """(unpacked fields, value slots) from the generated field table.

    Unpacked fields are (name, type, count, min, max, first index in STRUCT.unpack's tuple);
    padding (`bytes`) is not unpacked. A slot is one element of a value field: (label, index in
    the unpacked tuple, field, element, min, max).
    """
    fields, slots, index = [], [], 0
    for name, _offset, typ, count, _unit, lo, hi in L.FIELDS:
        if typ == "bytes":
            continue
        fields.append((name, typ, count, lo, hi, index))
        if name in L.VALUE_FIELDS:
            for i in range(count):
                label = name if count == 1 else f"{name}[{i}]"
                slots.append((label, index + i, name, i, lo, hi))
        index += count
    return fields, slots


_FIELDS, SLOTS = _layout()
N_VALUES = len(SLOTS)
SLOT_LABELS = tuple(s[0] for s in SLOTS)
# where each value field sits in the flat slot vector, e.g. SLICES["mfcc"] = slice(7, 15)
SLICES = {name: slice(min(i for i, s in enumerate(SLOTS) if s[2] == name),
                      max(i for i, s in enumerate(SLOTS) if s[2] == name) + 1)
          for name in L.VALUE_FIELDS}
_COUNTS = {f[0]: f[2] for f in _FIELDS}
_ZERO_SPANS = [(name, off, off + L.TYPE_SIZES[typ] * count)
               for name, off, typ, count, *_ in L.FIELDS if name in L.MUST_BE_ZERO]
_CONSTANTS = [(f[0], f[5], L.CONSTANT_FIELDS[f[0]]) for f in _FIELDS if f[0] in L.CONSTANT_FIELDS]
_F32 = [(s[0], s[1]) for s in SLOTS if next(f for f in _FIELDS if f[0] == s[2])[1] == "f32"]
_F32_INDEX = [index for _label, index in _F32]
_RANGES = [(label, index, lo, hi) for label, index, _f, _e, lo, hi in SLOTS]


# --- the receiver's checks, one per reject reason (run in the contract's order) -------------

def _wrong_size(data, values):
    if (len(data) != L.SIZE) if L.EXACT_SIZE else (len(data) < L.SIZE):
        raise PacketError("wrong_size", f"{len(data)} bytes, expected exactly {L.SIZE}")


def _wrong_magic(data, values):
    for name, index, expected in _CONSTANTS:
        if values[index] != expected:
            raise PacketError("wrong_magic", f"0x{values[index]:08X}, expected 0x{expected:08X}",
                              name)


def _reserved_nonzero(data, values):
    for name, start, end in _ZERO_SPANS:
        span = bytes(data[start:end])
        if span.count(0) != len(span):
            first = next(i for i, b in enumerate(span) if b)
            raise PacketError("reserved_nonzero", f"byte {start + first} is 0x{span[first]:02x}",
                              name)


def _non_finite(data, values):
    # Fast path: float32 values cannot overflow a float64 sum, so the sum is finite iff all are.
    if math.isfinite(sum([values[i] for i in _F32_INDEX])):
        return
    for label, index in _F32:
        if not math.isfinite(values[index]):
            raise PacketError("non_finite", f"{values[index]!r}", label)


def _out_of_range(data, values):
    for label, index, lo, hi in _RANGES:
        if not lo <= values[index] <= hi:
            raise PacketError("out_of_range", f"{values[index]!r} outside [{lo}, {hi}]", label)


_CHECKS = {"wrong_size": _wrong_size, "wrong_magic": _wrong_magic,
           "reserved_nonzero": _reserved_nonzero, "non_finite": _non_finite,
           "out_of_range": _out_of_range}
# Size comes first whatever the order: no field can be read from a datagram of the wrong size.
_ORDER = [_CHECKS[r] for r in L.REJECT_REASONS if r != "wrong_size"]
if set(_CHECKS) != set(L.REJECT_REASONS):  # the contract grew a reason this codec cannot check
    raise ImportError(f"{CONTRACT} reject reasons {L.REJECT_REASONS} != implemented {tuple(_CHECKS)}")


def check(data: bytes | bytearray | memoryview) -> tuple:
    """Validate a datagram; return STRUCT.unpack's tuple or raise the first PacketError."""
    _wrong_size(data, None)
    values = STRUCT.unpack(data[:L.SIZE] if not L.EXACT_SIZE else data)
    for rule in _ORDER:
        rule(data, values)
    return values


def decode_values(data: bytes | bytearray | memoryview) -> tuple[float, ...]:
    """The value slots of a valid packet, flat in wire order (raises PacketError)."""
    values = check(data)
    return tuple(values[s[1]] for s in SLOTS)


def unflatten(flat: Sequence[float]) -> Features:
    """Flat slot values -> {field: value or list} with the contract's field names."""
    return {name: (float(flat[sl.start]) if _COUNTS[name] == 1 else [float(v) for v in flat[sl]])
            for name, sl in SLICES.items()}


def flatten(features: Mapping[str, object]) -> list[float]:
    """{field: value or list} -> flat slot values; refuses missing, unknown or mis-sized fields."""
    unknown = set(features) - set(SLICES)
    if unknown:
        raise ValueError(f"unknown LUMF field(s) {sorted(unknown)}; {CONTRACT} value fields are "
                         f"{list(L.VALUE_FIELDS)}")
    flat: list[float] = []
    for name in L.VALUE_FIELDS:
        if name not in features:
            raise ValueError(f"LUMF field {name!r} is missing ({CONTRACT})")
        value, count = features[name], _COUNTS[name]
        items = [value] if count == 1 and not isinstance(value, (list, tuple, np.ndarray)) else value
        try:
            items = [float(v) for v in items]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"LUMF field {name!r}: not numbers: {value!r}") from exc
        if len(items) != count:
            raise ValueError(f"LUMF field {name!r} has {len(items)} values, {CONTRACT} says {count}")
        flat += items
    return flat


def decode(data: bytes | bytearray | memoryview) -> Features:
    """A valid 84-byte packet -> {field: value}; raises PacketError naming reason and field."""
    return unflatten(decode_values(data))


def _template() -> list:
    """STRUCT.pack's arguments with the constants in place and every value 0."""
    values = [0.0] * sum(f[2] for f in _FIELDS)
    for _name, index, expected in _CONSTANTS:
        values[index] = expected
    return values


def encode_values(flat: Sequence[float]) -> bytes:
    """Flat slot values -> packet bytes. Refuses (PacketError) what a receiver would refuse."""
    values = _template()
    if len(flat) != N_VALUES:
        raise ValueError(f"{len(flat)} values, {CONTRACT} has {N_VALUES} value slots")
    for (label, index, *_), v in zip(SLOTS, flat):
        values[index] = v
    try:
        data = STRUCT.pack(*values)
    except OverflowError:  # beyond float32: cannot be represented, hence out of any f32 range
        largest = float(np.finfo(np.float32).max)  # a Python float: numpy 2 would cast v to f32
        bad = next(s for s, v in zip(SLOTS, flat) if abs(v) > largest)
        raise PacketError("out_of_range", f"{flat[SLOTS.index(bad)]!r} is beyond float32",
                          bad[0]) from None
    check(data)  # validate what actually goes on the wire (the float32-rounded values)
    return data


def encode(features: Mapping[str, object]) -> bytes:
    """{field: value} -> the 84-byte packet, little-endian, reserved bytes zero."""
    return encode_values(flatten(features))


class PacketBuffer:
    """One pre-allocated packet for the hot path: magic and reserved zeros are written once,
    the value slots are rewritten in place through a float32 view, and validation uses
    pre-allocated flags, so `load` allocates no array per window."""

    def __init__(self) -> None:
        self.buffer = bytearray(STRUCT.pack(*_template()))
        offsets = [o for name, o, *_ in L.FIELDS if name in L.VALUE_FIELDS]
        types = {t for name, _o, t, *_ in L.FIELDS if name in L.VALUE_FIELDS}
        end = max(o + L.TYPE_SIZES[t] * c for name, o, t, c, *_ in L.FIELDS if name in L.VALUE_FIELDS)
        if types != {"f32"} or end - min(offsets) != L.TYPE_SIZES["f32"] * N_VALUES:
            raise NotImplementedError(f"{CONTRACT}: value fields are not one contiguous f32 run")
        self.values = np.frombuffer(self.buffer, dtype=np.dtype(f"{_BYTE_ORDER}f4"),
                                    count=N_VALUES, offset=min(offsets))
        self._lo = np.array([s[4] for s in SLOTS], dtype=np.float64)
        self._hi = np.array([s[5] for s in SLOTS], dtype=np.float64)
        self._flags = np.zeros(N_VALUES, dtype=bool)

    def load(self, flat: np.ndarray) -> bytearray:
        """Write `flat` (N_VALUES floats) into the packet and check it; returns the buffer."""
        np.copyto(self.values, flat, casting="same_kind")
        v, flags = self.values, self._flags
        if not np.isfinite(v, out=flags).all():
            i = int(np.argmin(flags))
            raise PacketError("non_finite", f"{float(v[i])!r}", SLOT_LABELS[i])
        if np.less(v, self._lo, out=flags).any() or np.greater(v, self._hi, out=flags).any():
            i = int(np.argmax(flags))
            raise PacketError("out_of_range",
                              f"{float(v[i])!r} outside [{self._lo[i]}, {self._hi[i]}]",
                              SLOT_LABELS[i])
        return self.buffer
