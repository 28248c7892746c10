"""lumf.codec.properties: the LUMF codec round-trips every valid packet and refuses every
invalid packet class with the contract's reason.

The real codec (`lume.runtime.lumf.encode` / `decode`, what the publisher sends and the
inspector and SAN read) runs over generated feature sets and datagrams; the expectations come
from lumf_layout.v1 itself (offsets, types, ranges and the receiver's reject list), not from
the codec's tables: any valid feature set encodes to exactly `size` bytes that decode to the
same float32 values and re-encode byte for byte; any datagram decodes to valid fields that
re-encode to it, or is refused with a listed reason; and a valid packet with one defect of
each class (wrong size, wrong magic, a non-zero reserved byte, a non-finite value, a value
outside its range) is refused with exactly that class's reason. A counterexample fails the
check with the shrunk packet as evidence.
"""
from __future__ import annotations

import math
import struct
from collections import Counter
from typing import Any, Iterator

from lume.runtime.core import rule_data

from ._context import Context
from ._framework import Evidence, verifier
from ._properties import budget, evidence, run_property

ID = "lumf.codec.properties"
LAYOUT = "lumf_layout.v1"


class Broken(AssertionError):
    pass


class Layout:
    """lumf_layout.v1 as the receiver reads it."""

    def __init__(self) -> None:
        t = rule_data(LAYOUT)
        self.size, self.magic = t["size"], t["magic"]
        self.fields = {f["name"]: f for f in t["fields"]}
        self.reasons = [r["reason"] for r in t["receiver"]["reject"]]
        self.f32 = struct.Struct("<f")
        # every f32 value slot: (label, byte offset, min, max)
        self.slots = [(f["name"] if f["count"] == 1 else f"{f['name']}[{i}]", f["offset"] + 4 * i, f["min"], f["max"])
                      for f in t["fields"] if f["type"] == "f32" for i in range(f["count"])]
        reserved = next(f for f in t["fields"] if f.get("must_be_zero"))
        self.reserved = range(reserved["offset"], reserved["offset"] + reserved["count"])
        magic = self.fields["magic"]
        self.magic_bytes = range(magic["offset"], magic["offset"] + 4)

    def f32_bits(self, x: float) -> bytes:
        return self.f32.pack(x)

    def outside(self, lo: float, hi: float) -> list[float]:
        """Finite float32 values just and far outside [lo, hi]."""
        out = []
        for v in (math.nextafter(hi, math.inf), hi + 1.0, math.nextafter(lo, -math.inf), lo - 1.0):
            try:
                back = self.f32.unpack(self.f32.pack(v))[0]
            except OverflowError:
                continue
            if math.isfinite(back) and not lo <= back <= hi:
                out.append(back)
        return out


def same_f32(layout: Layout, a: Any, b: Any) -> bool:
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same_f32(layout, x, y) for x, y in zip(a, b))
    return layout.f32_bits(a) == layout.f32_bits(b)


def defect(layout: Layout, packet: bytes, reason: str, pick: int, value: int) -> bytes:
    """`packet` with one defect of the reject class `reason` (`pick` and `value` choose where/what)."""
    data = bytearray(packet)
    if reason == "wrong_size":
        n = value % 1500
        n = n if n != layout.size else layout.size + 1
        return bytes((data * (n // layout.size + 1))[:n])
    if reason == "wrong_magic":
        data[layout.magic_bytes[pick % 4]] ^= (value % 255) + 1
    elif reason == "reserved_nonzero":
        data[layout.reserved[pick % len(layout.reserved)]] = (value % 255) + 1
    elif reason == "non_finite":
        _, offset, _, _ = layout.slots[pick % len(layout.slots)]
        data[offset:offset + 4] = layout.f32_bits((math.nan, math.inf, -math.inf)[value % 3])
    elif reason == "out_of_range":
        candidates = [(offset, v) for _, offset, lo, hi in layout.slots for v in layout.outside(lo, hi)]
        offset, bad = candidates[(pick * 7 + value) % len(candidates)]
        data[offset:offset + 4] = layout.f32_bits(bad)
    return bytes(data)


@verifier(ID, "The LUMF codec round-trips valid packets and refuses each invalid class with its reason (hypothesis)",
          domain="rig", proof=True)
def lumf_properties(ctx: Context) -> Iterator[Evidence]:
    from hypothesis import strategies as st

    from lume.runtime.lumf import PacketError, decode, encode

    from ._strategies import lumf_features

    b = budget(ID)
    layout = Layout()

    def round_trip(features: dict[str, Any], counts: Counter) -> None:
        data = encode(features)
        if len(data) != layout.size:
            raise Broken(f"encode wrote {len(data)} bytes, the layout says {layout.size}")
        back = decode(data)
        for name, value in features.items():
            if not same_f32(layout, back[name], value):
                raise Broken(f"{name}: encoded {value!r}, decoded {back[name]!r}")
        if encode(back) != data:
            raise Broken("decode then encode changed the bytes")
        counts["packets"] += 1

    def any_bytes(data: bytes, counts: Counter) -> None:
        try:
            fields = decode(data)
        except PacketError as exc:
            if exc.reason not in layout.reasons:
                raise Broken(f"refused with {exc.reason!r}, not a reason of {LAYOUT}") from None
            counts[f"refused {exc.reason}"] += 1
            return
        if encode(fields) != data:
            raise Broken(f"accepted {data.hex()} but it does not re-encode to the same bytes")
        counts["accepted"] += 1

    def one_defect(value: tuple[dict[str, Any], str, int, int], counts: Counter) -> None:
        features, reason, pick, n = value
        bad = defect(layout, encode(features), reason, pick, n)
        try:
            decode(bad)
        except PacketError as exc:
            if exc.reason != reason:
                raise Broken(f"a packet with one {reason} defect was refused as {exc.reason}") from None
            counts[f"refused {reason}"] += 1
            return
        raise Broken(f"a packet with a {reason} defect was accepted: {bad.hex()}")

    def show(value: Any) -> Any:
        if isinstance(value, (bytes, bytearray)):
            return {"hex": bytes(value).hex(), "bytes": len(value)}
        return value

    features = lumf_features()
    # explicit examples: the golden packets, and one defect of every class in a golden packet
    golden = [p["fields"] for p in rule_data("lumf_golden.v1")["packets"]]
    runs = [
        ("round_trip", features, round_trip, ("packets",), golden),
        ("arbitrary_datagrams", st.binary(min_size=layout.size, max_size=layout.size) | st.binary(max_size=200),
         any_bytes, ("refused wrong_size", "refused wrong_magic"), [b"", bytes(layout.size)]),
        ("each_invalid_class_refused", st.tuples(features, st.sampled_from(layout.reasons),
                                                 st.integers(0, 10_000), st.integers(0, 10_000)),
         one_defect, tuple(f"refused {r}" for r in layout.reasons), [(golden[0], r, 0, 1) for r in layout.reasons]),
    ]
    for name, strategy, prop, must_see, explicit in runs:
        yield evidence(run_property(name, (), strategy, prop, b, show=show, explicit=explicit), must_see=must_see)
