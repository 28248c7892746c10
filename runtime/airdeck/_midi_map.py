"""The command-to-MIDI rows of airdeck_midi_map.v1 as the exact bytes the gate sends.

Pure data, no MIDI library: the gate plans the bytes of a dispatch (and the dry-run report
lists them) without opening any port; `lume.runtime.airdeck.midi` turns the same bytes into
mido messages when a live port exists.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# MIDI 1.0 status nibbles of the two message types the map uses (the MIDI standard, not a rule).
_STATUS = {"note_on": 0x90, "control_change": 0xB0}


@dataclass(frozen=True)
class MidiRow:
    label: str
    deck: int | None
    action: str
    message: str
    channel: int
    note: int | None
    control: int | None
    value: int
    release_after_ms: int | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "MidiRow":
        return cls(row["label"], row["deck"], row["action"], row["message"], row["channel"],
                   row["note"], row["control"], row["value"], row["release_after_ms"])


def planned_messages(row: MidiRow) -> tuple[tuple[int, bytes], ...]:
    """(after_ms, raw bytes) of one dispatch: the press, then the release for note_on rows."""
    status = _STATUS[row.message] | row.channel
    if row.message == "note_on":
        press = bytes([status, row.note, row.value])
        release = bytes([status, row.note, 0])  # note_on velocity 0 = release, as a controller does
        return ((0, press), (int(row.release_after_ms), release))
    return ((0, bytes([status, row.control, row.value])),)


def hex_bytes(data: bytes) -> str:
    """`90 0B 7F`: how decision logs and reports show a MIDI message."""
    return " ".join(f"{b:02X}" for b in data)


def as_records(messages: tuple[tuple[int, bytes], ...]) -> list[dict[str, Any]]:
    return [{"bytes": hex_bytes(data), "after_ms": after} for after, data in messages]
