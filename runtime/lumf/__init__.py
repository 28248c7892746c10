"""LUMF audio packets (seed 004, Q1).

The 84-byte LUMF codec built on the generated layout, the feature extractor defined by
contracts/lumf_layout.v1.yaml, the SPSC sample ring, the 60 Hz UDP publisher with its atomic
heartbeat and the inspector. The SAN OSC side channel is its own package, `lume.runtime.san`.

Names are re-exported lazily, so `lume lumf inspect` does not pay for numpy and scipy.
"""
from __future__ import annotations

from lume.runtime.core import lazy_exports

_EXPORTS = {
    "_audio": ("AudioInputError", "DeviceSource", "FileSource", "read_audio"),
    "_codec": ("PacketBuffer", "PacketError", "decode", "decode_values", "encode", "encode_values"),
    "_endpoint": ("parse_endpoint",),
    "_features": ("FeatureExtractor", "NonFiniteInput", "window_samples"),
    "_inspector": ("Tally", "bind", "inspect_packet", "receive"),
    "_publisher": ("BadHeartbeat", "Heartbeat", "Publisher", "PublisherStats", "beat_text", "publish",
                   "read_heartbeat"),
    "_records": ("file_records",),
    "_ring": ("Ring",),
    "_targets": ("configured_target",),
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
