"""Per-window feature records for `lume lumf features` (contracts/lumf_features_record.v1.yaml)."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._codec import PacketBuffer, unflatten
from ._features import FeatureExtractor, NonFiniteInput, frames

RECORD_CONTRACT = "lumf_features_record.v1"


def shortest_float32(values: np.ndarray) -> list[float]:
    """Each value as the shortest decimal that round-trips its float32 (what goes on the wire)."""
    return [float(str(v)) for v in values.astype(np.float32)]


def file_records(samples: np.ndarray, sample_rate_hz: int, *, on_window=None) -> Iterator[dict]:
    """One record per consecutive W-sample window (W = sample_rate / cadence).

    Every window's values pass the packet checks first, so a record holds exactly what a LUMF
    packet would carry. NaN samples raise NonFiniteInput naming the window and its time.
    """
    extractor = FeatureExtractor(sample_rate_hz)
    packet = PacketBuffer()
    w = extractor.window_samples
    for index, (start, window) in enumerate(frames(samples, w)):
        try:
            packet.load(extractor.compute(window))  # the float32 values a packet would carry
        except NonFiniteInput as exc:
            raise NonFiniteInput(f"window {index} (t = {start / sample_rate_hz:.3f} s, samples "
                                 f"{start}..{start + w - 1}): {exc}") from None
        if on_window is not None:
            on_window()
        yield {"index": index, "start_sample": start, "t_s": start / sample_rate_hz,
               "sample_rate_hz": sample_rate_hz, **unflatten(shortest_float32(packet.values))}
