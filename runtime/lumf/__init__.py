"""LUMF audio packets and the SAN OSC side channel (seed 004, Q1).

The 84-byte LUMF codec built on the generated layout, the feature extractor defined by
contracts/lumf_layout.v1.yaml, the SPSC sample ring, the 60 Hz UDP publisher with its atomic
heartbeat, the inspector, and the SAN OSC encoder/decoder (contracts/san_osc.v1.yaml).

Names are re-exported lazily, so `lume san` does not pay for numpy and scipy.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "audio": ("AudioInputError", "DeviceSource", "FileSource", "read_audio"),
    "codec": ("PacketBuffer", "PacketError", "decode", "decode_values", "encode", "encode_values"),
    "features": ("FeatureExtractor", "NonFiniteInput", "window_samples"),
    "inspector": ("Tally", "inspect_packet", "receive"),
    "publisher": ("Publisher", "PublisherStats", "publish"),
    "ring": ("Ring",),
    "san": ("SanError", "SanMessage", "SanSender"),
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
