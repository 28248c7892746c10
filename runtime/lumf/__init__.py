"""LUMF audio packets (seed 004, Q1).

The 84-byte LUMF codec built on the generated layout, the feature extractor defined by
contracts/lumf_layout.v1.yaml, the SPSC sample ring, the 60 Hz UDP publisher with its atomic
heartbeat and the inspector. The SAN OSC side channel is its own package, `lume.runtime.san`.

Names are re-exported lazily, so `lume lumf inspect` does not pay for numpy and scipy.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "_audio": ("AudioInputError", "DeviceSource", "FileSource", "read_audio"),
    "_codec": ("PacketBuffer", "PacketError", "decode", "decode_values", "encode", "encode_values"),
    "_endpoint": ("parse_endpoint",),
    "_features": ("FeatureExtractor", "NonFiniteInput", "window_samples"),
    "_inspector": ("Tally", "bind", "inspect_packet", "receive"),
    "_publisher": ("Heartbeat", "Publisher", "PublisherStats", "publish"),
    "_records": ("file_records",),
    "_ring": ("Ring",),
    "_targets": ("configured_target",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
