"""The SAN OSC side channel: /san/pattern_id ,i  /san/confidence ,f  /san/cluster ,i.

Built from contracts/san_osc.v1.yaml (addresses, type tags, ranges, cluster codes, decoder
rules) and san_receiver.v1 (datagram limits, reject reasons). SAN's sparse pattern decisions
ride this channel, never the LUMF packet.

Encoding uses python-osc's message builder. Decoding uses only python-osc's primitives (string,
int, float, time tag) under a parser of ours: python-osc's `OscBundle` recurses into nested
bundles without a bound (RecursionError) and loops forever on an element size that does not
advance (-4: a CPU spin that floods stderr), and `OscMessage` lets UnicodeDecodeError escape
and logs a warning per unknown type tag. Ours walks bundles with an explicit stack, refuses
element sizes that are not positive multiples of 4 inside the datagram, bounds depth and
message count (san_receiver.v1), and reads only what a SAN message can hold: an address, a
type tag string and one argument. Every failure is a SanError with one reason.
"""
from __future__ import annotations

import math
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml
from pythonosc.osc_message_builder import BuildError, OscMessageBuilder
from pythonosc.parsing import osc_types

from lume.generated.constants import (
    SAN_REJECT_INVALID_UTF8,
    SAN_REJECT_MALFORMED,
    SAN_REJECT_OVERSIZED,
    SAN_REJECT_TOO_DEEP,
    SAN_REJECT_TOO_MANY_MESSAGES,
)
from lume.generated.models.meta_san_receiver_v1 import SanReceiver

CONTRACT = "san_osc.v1"
RECEIVER_CONTRACT = "san_receiver.v1"
_BUNDLE_PREFIX = b"#bundle\x00"
_BUNDLE_HEADER = len(_BUNDLE_PREFIX) + 8  # prefix + 64-bit time tag
_ENVELOPE = frozenset({"$schema", "$id", "title", "description", "x-lume", "examples"})


class SanError(ValueError):
    """A SAN OSC message the contract refuses. `reason` is one of the contract's decoder rules
    (wrong_type_tag, wrong_argument_count, out_of_range, non_finite, unknown_address), or
    `malformed` for a datagram that is not OSC at all."""

    def __init__(self, reason: str, detail: str, address: str | None = None) -> None:
        self.reason, self.detail, self.address = reason, detail, address
        where = f" [{address}]" if address else ""
        super().__init__(f"SAN OSC refused: {reason}{where}: {detail} ({CONTRACT})")


@dataclass(frozen=True)
class SanMessage:
    address: str
    value: int | float
    extras_field: str          # where OSCService puts it in ParamMapper.Extras
    name: str | None = None    # the code's name for enumerated values (cluster)

    def as_dict(self) -> dict:
        return {"address": self.address, "value": self.value, "extras_field": self.extras_field,
                "name": self.name}


def _table_data(stem: str) -> dict:
    """A table's data straight from its one packaged YAML file: `lume san send` / `listen`
    should not pay for loading every contract (~3 s here); `lume contracts check` validates
    both tables against their meta-schemas."""
    text = resources.files("lume.contracts").joinpath(f"{stem}.yaml").read_text("utf-8")
    raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {k: v for k, v in raw.items() if k not in _ENVELOPE}


@lru_cache(maxsize=1)
def spec() -> dict:
    """The san_osc contract's table data (port, messages, decoder rules)."""
    return _table_data(CONTRACT)


@lru_cache(maxsize=1)
def receiver() -> SanReceiver:
    """The san_receiver contract (datagram limits, reject reasons), typed."""
    return SanReceiver.model_validate(_table_data(RECEIVER_CONTRACT))


def messages() -> dict[str, dict]:
    """address -> message row of the contract."""
    return {m["address"]: m for m in spec()["messages"]}


def default_port() -> int:
    return int(spec()["port"])


def _check_value(row: dict, value) -> int | float:
    """The value as the contract's type if it is valid for the row, else SanError."""
    address, kind = row["address"], row["value_type"]
    if kind == "int32":
        if isinstance(value, bool) or not isinstance(value, int):
            raise SanError("wrong_type_tag", f"{value!r} is not an int32", address)
    else:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SanError("wrong_type_tag", f"{value!r} is not a float32", address)
        value = float(value)
        if not math.isfinite(value):
            raise SanError("non_finite", f"{value!r}", address)
    if not row["min"] <= value <= row["max"]:
        raise SanError("out_of_range", f"{value!r} outside [{row['min']}, {row['max']}]", address)
    codes = row.get("values")
    if codes is not None and value not in {c["value"] for c in codes}:
        valid = ", ".join(f"{c['value']} {c['name']}" for c in codes)
        raise SanError("out_of_range", f"{value!r} is not one of {valid}", address)
    return value


def _row(address: str) -> dict:
    row = messages().get(address)
    if row is None:
        raise SanError("unknown_address", f"not one of {sorted(messages())}", address)
    return row


def code_for(address: str, value: str | int) -> int:
    """An enumerated value given by name ("groove") or code ("0") -> its code."""
    row = _row(address)
    for c in row.get("values") or ():
        if str(value) in (c["name"], str(c["value"])):
            return c["value"]
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except ValueError:
        names = ", ".join(c["name"] for c in row.get("values") or ())
        raise SanError("out_of_range", f"{value!r} is not a code or name ({names})", address) from None


def encode(address: str, value) -> bytes:
    """One OSC message for a SAN address; refuses out-of-range, non-finite or mistyped values."""
    row = _row(address)
    value = _check_value(row, value)
    builder = OscMessageBuilder(address=address)
    builder.add_arg(value, row["type_tag"])
    try:
        return builder.build().dgram
    except BuildError as exc:  # pragma: no cover - values were range-checked above
        raise SanError("out_of_range", str(exc), address) from exc


def iter_messages(dgram: bytes) -> Iterator[bytes]:
    """The OSC messages of a datagram in order, bundles flattened (to san_receiver.v1's depth
    and count limits); SanError on the first thing wrong with the datagram."""
    limits = receiver().limits
    if len(dgram) > limits.max_datagram_bytes:
        raise SanError(SAN_REJECT_OVERSIZED, f"{len(dgram)} bytes, over {limits.max_datagram_bytes} "
                       f"({RECEIVER_CONTRACT})")
    dgram = bytes(dgram)
    if not dgram.startswith(_BUNDLE_PREFIX):
        yield dgram
        return
    _bundle_header(dgram)
    sent = 0
    frames = [(dgram, _BUNDLE_HEADER, 1)]  # (bundle, next element offset, depth): no recursion
    while frames:
        bundle, index, depth = frames.pop()
        if index == len(bundle):
            continue
        if len(bundle) - index < 4:
            raise SanError(SAN_REJECT_MALFORMED, f"bundle element size cut short at byte {index}")
        size = struct.unpack_from(">i", bundle, index)[0]
        start = index + 4
        if size <= 0 or size % 4 or start + size > len(bundle):
            raise SanError(SAN_REJECT_MALFORMED, f"bundle element size {size} at byte {index} (a "
                           f"positive multiple of 4 within the {len(bundle) - start} bytes left)")
        element = bundle[start:start + size]
        frames.append((bundle, start + size, depth))  # the rest of this bundle, after the element
        if element.startswith(_BUNDLE_PREFIX):
            if depth >= limits.max_bundle_depth:
                raise SanError(SAN_REJECT_TOO_DEEP, f"bundles nested deeper than "
                               f"{limits.max_bundle_depth} ({RECEIVER_CONTRACT})")
            _bundle_header(element)
            frames.append((element, _BUNDLE_HEADER, depth + 1))
            continue
        sent += 1
        if sent > limits.max_messages_per_datagram:
            raise SanError(SAN_REJECT_TOO_MANY_MESSAGES, f"more than "
                           f"{limits.max_messages_per_datagram} messages ({RECEIVER_CONTRACT})")
        yield element


def _bundle_header(bundle: bytes) -> None:
    if len(bundle) < _BUNDLE_HEADER:
        raise SanError(SAN_REJECT_MALFORMED, f"a bundle of {len(bundle)} bytes, shorter than its "
                       f"{_BUNDLE_HEADER}-byte header")


def _string(dgram: bytes, index: int, what: str) -> tuple[str, int]:
    """python-osc's OSC-string primitive, its failures turned into one reason each."""
    try:
        return osc_types.get_string(dgram, index)
    except UnicodeDecodeError as exc:
        raise SanError(SAN_REJECT_INVALID_UTF8, f"{what} is not UTF-8 ({exc.reason} at byte "
                       f"{index + exc.start})") from None
    except osc_types.ParseError as exc:
        raise SanError(SAN_REJECT_MALFORMED, f"not an OSC message: {what}: {exc}") from None


def _arguments(tags: str) -> int:
    """How many arguments a type tag string declares (an array counts as one)."""
    count = depth = 0
    for tag in tags[1:]:
        if tag == "[":
            count += depth == 0
            depth += 1
        elif tag == "]":
            depth = max(0, depth - 1)
        elif depth == 0:
            count += 1
    return count


def decode(dgram: bytes) -> SanMessage | None:
    """One OSC message -> SanMessage; None for an address the contract says to ignore."""
    rules = spec()["decoder"]
    dgram = bytes(dgram)
    if not dgram.startswith(b"/"):
        raise SanError(SAN_REJECT_MALFORMED, "not an OSC message: the address does not start with '/'")
    address, index = _string(dgram, 0, "the address")
    tags = ","
    if dgram[index:]:
        tags, index = _string(dgram, index, "the type tag string")
        if not tags.startswith(","):
            raise SanError(SAN_REJECT_MALFORMED, "not an OSC message: the type tag string does "
                           "not start with ','", address)
    row = messages().get(address)
    try:
        if row is None:
            raise SanError("unknown_address", f"not one of {sorted(messages())}", address)
        count = _arguments(tags)
        if count != 1:
            raise SanError("wrong_argument_count", f"{count} arguments, expected 1", address)
        if tags != "," + row["type_tag"]:
            raise SanError("wrong_type_tag", f"type tag {tags!r}, expected ',{row['type_tag']}'",
                           address)
        read = osc_types.get_int if row["type_tag"] == "i" else osc_types.get_float
        try:
            raw, _ = read(dgram, index)
        except osc_types.ParseError as exc:
            raise SanError(SAN_REJECT_MALFORMED, f"the argument is cut short: {exc}", address) from None
        value = _check_value(row, raw)
    except SanError as exc:
        if rules.get(exc.reason) == "ignore":  # the contract drops such messages silently
            return None
        raise
    name = next((c["name"] for c in row.get("values") or () if c["value"] == value), None)
    return SanMessage(address, value, row["extras_field"], name)


def decode_datagram(dgram: bytes) -> list[SanMessage]:
    """Every SAN message of a datagram (message or bundle); raises SanError on the first refusal."""
    return [m for raw in iter_messages(dgram) if (m := decode(raw)) is not None]


class SanSender:
    """Sends SAN messages to host:port over UDP."""

    def __init__(self, host: str, port: int) -> None:
        family, _t, _p, _n, self.addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self._sock = socket.socket(family, socket.SOCK_DGRAM)

    def send(self, address: str, value) -> bytes:
        data = encode(address, value)
        self._sock.sendto(data, self.addr)
        return data

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> SanSender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
