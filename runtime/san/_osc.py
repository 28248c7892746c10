"""The SAN OSC side channel: /san/pattern_id ,i  /san/confidence ,f  /san/cluster ,i.

Built from contracts/san_osc.v1.yaml (addresses, type tags, ranges, cluster codes, decoder
rules) with python-osc for the wire format. SAN's sparse pattern decisions ride this channel,
never the LUMF packet.
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
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage, ParseError
from pythonosc.osc_message_builder import BuildError, OscMessageBuilder
from pythonosc.parsing import osc_types

CONTRACT = "san_osc.v1"
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


@lru_cache(maxsize=1)
def spec() -> dict:
    """The san_osc contract's table data (port, messages, decoder rules).

    Read straight from the one packaged YAML file: `lume san send` should not pay for loading
    every contract and pydantic (~3 s here); `lume contracts check` validates the table.
    """
    text = resources.files("lume.contracts").joinpath(f"{CONTRACT}.yaml").read_text("utf-8")
    raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {k: v for k, v in raw.items() if k not in _ENVELOPE}


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
    """The OSC messages of a datagram (a bundle is flattened, recursively)."""
    try:
        if OscBundle.dgram_is_bundle(dgram):
            for item in OscBundle(dgram):
                yield from iter_messages(item.dgram)
            return
    except ParseError as exc:
        raise SanError("malformed", f"not an OSC bundle: {exc}") from exc
    yield dgram


def decode(dgram: bytes) -> SanMessage | None:
    """One OSC message -> SanMessage; None for an address the contract says to ignore."""
    rules = spec()["decoder"]
    try:
        message = OscMessage(dgram)
        _address, index = osc_types.get_string(dgram, 0)
        tags = osc_types.get_string(dgram, index)[0] if dgram[index:] else ","
    except (ParseError, osc_types.ParseError, struct.error, IndexError) as exc:
        raise SanError("malformed", f"not an OSC message: {exc}") from exc
    address = message.address
    row = messages().get(address)
    try:
        if row is None:
            raise SanError("unknown_address", f"not one of {sorted(messages())}", address)
        params = message.params
        if len(params) != 1:
            raise SanError("wrong_argument_count", f"{len(params)} arguments, expected 1", address)
        if tags != "," + row["type_tag"]:
            raise SanError("wrong_type_tag", f"type tag {tags!r}, expected ',{row['type_tag']}'",
                           address)
        value = _check_value(row, params[0])
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
