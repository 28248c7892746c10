"""The SAN OSC side channel (seed 004 Q1, S3): `/san/pattern_id ,i`, `/san/confidence ,f`,
`/san/cluster ,i`, encoded and decoded against contracts/san_osc.v1.yaml; `send_values` and
`Listener` are what `lume san send` / `lume san listen` run."""
from ._endpoints import Listener, decode_all, send_values
from ._osc import (
    CONTRACT,
    RECEIVER_CONTRACT,
    SanError,
    SanMessage,
    SanSender,
    code_for,
    decode,
    decode_datagram,
    default_port,
    encode,
    iter_messages,
    messages,
    receiver,
    spec,
)

__all__ = [
    "CONTRACT", "RECEIVER_CONTRACT", "Listener", "SanError", "SanMessage", "SanSender", "code_for",
    "decode", "decode_all", "decode_datagram", "default_port", "encode", "iter_messages",
    "messages", "receiver", "send_values", "spec",
]
