"""The V6 conditioning layout (generated module) and the V6 training rules (table), read once.

Offsets, widths, value names and the hot / cold values come from `lume.generated.v6_conditioning`
(rendered from lume:contract:v6_conditioning:v1); the capture protocol and the pair format from
lume:contract:v6_training:v1; the vector producers from lume:contract:san_dynamics128_record:v1.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from lume.generated import v6_conditioning as L
from lume.runtime.core import get

from ._io import table_data

if TYPE_CHECKING:  # numpy is imported where arrays are made or read: `lume verify` imports this
    import numpy as np  # module, and a root without training data does not pay for numpy (0.1 s)

LAYOUT = "v6_conditioning.v1"
RULES = "v6_training.v1"
SAN_RECORD = "san_dynamics128_record.v1"
TRACK_EVENTS = "track_event_record.v1"
MANIFEST = "capture_manifest.v1"


@dataclass(frozen=True)
class Block:
    name: str
    offset: int
    width: int
    encoding: str
    values: tuple[str, ...] = ()
    reserved: tuple[int, ...] = ()

    @property
    def stop(self) -> int:
        return self.offset + self.width

    @property
    def active(self) -> tuple[int, ...]:
        """Indices within the block that may be hot (the value slots, reserved ones excluded)."""
        return tuple(i for i in range(self.width) if i not in self.reserved)

    def span(self) -> str:
        return f"[{self.offset}:{self.stop}]"


@functools.cache
def blocks() -> dict[str, Block]:
    return {name: Block(name, offset, width, enc, tuple(L.VALUES.get(name, ())), tuple(L.RESERVED.get(name,
                                                                                                      ())))
            for name, offset, width, enc in L.BLOCKS}


def width() -> int:
    return int(L.WIDTH)


def one_hot_blocks() -> list[Block]:
    return [b for b in blocks().values() if b.encoding == "one_hot"]


def dynamics_block() -> Block:
    return next(b for b in blocks().values() if b.encoding == "continuous")


def index_of(block: str, value: str) -> int:
    values = blocks()[block].values
    if value not in values:
        raise KeyError(f"{value!r} is not a value of {block} ({', '.join(values)})")
    return values.index(value)


def encode(dynamics: Sequence[float], mode: str, emotion: str) -> np.ndarray:
    """One conditioning vector: dynamics ⊕ one-hot mode ⊕ one-hot emotion, as float32."""
    import numpy as np
    rules = rules_data()
    row_block, col_block = rules["capture"]["matrix"]["rows"], rules["capture"]["matrix"]["columns"]
    out = np.full(width(), L.COLD, dtype=np.float32)
    dyn = dynamics_block()
    values = np.asarray(dynamics, dtype=np.float32)
    if values.shape != (dyn.width,):
        raise ValueError(f"{dyn.name} needs {dyn.width} values, got {values.shape}")
    out[dyn.offset:dyn.stop] = values
    for block, value in ((row_block, mode), (col_block, emotion)):
        b = blocks()[block]
        out[b.offset + index_of(block, value)] = L.HOT
    return out


def rules_data() -> dict[str, Any]:
    """lume:contract:v6_training:v1 as validated plain data."""
    return table_data(RULES)


def array_specs(section: str) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in rules_data()[section]["arrays"]}


@functools.cache
def producers() -> tuple[str, ...]:
    """The vector producers a frame may name (the record contract's enum)."""
    return tuple(get(SAN_RECORD).raw["$defs"]["VectorProducer"]["enum"])


HOT, COLD = float(L.HOT), float(L.COLD)
