"""LUMF audio packets and the SAN OSC side channel (seed 004, Q1).

The 84-byte LUMF codec built on the generated layout, the feature extractor defined by
contracts/lumf_layout.v1.yaml, the SPSC sample ring, the 60 Hz UDP publisher with its atomic
heartbeat, the inspector, and the SAN OSC encoder/decoder (contracts/san_osc.v1.yaml).
"""
from .audio import AudioInputError, DeviceSource, FileSource, read_audio
from .codec import PacketBuffer, PacketError, decode, decode_values, encode, encode_values
from .features import FeatureExtractor, NonFiniteInput, window_samples
from .inspector import Tally, inspect_packet, receive
from .publisher import Publisher, PublisherStats, publish
from .ring import Ring
from .san import SanError, SanMessage, SanSender

__all__ = [
    "AudioInputError", "DeviceSource", "FeatureExtractor", "FileSource", "NonFiniteInput",
    "PacketBuffer", "PacketError", "Publisher", "PublisherStats", "Ring", "SanError",
    "SanMessage", "SanSender", "Tally", "decode", "decode_values", "encode", "encode_values",
    "inspect_packet", "publish", "read_audio", "receive", "window_samples",
]
