"""Text that reaches a log line or a terminal: one line, no control characters.

A name or a value taken from an input (a member name, a JSON string quoted in an error) may
hold a newline, an ANSI escape or a Unicode line separator: printed raw it forges a log line,
moves the cursor or splits a one-line error in two. `printable` escapes every one of them.
"""
from __future__ import annotations

# C0 and C1 control characters, DEL, and the Unicode line and paragraph separators
_UNPRINTABLE = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_UNPRINTABLE.update({0x2028: "\\u2028", 0x2029: "\\u2029"})


def printable(text: str) -> str:
    """`text` with every control character escaped (`\\x1b`, `\\x0a`, …): one line, no escapes."""
    return text.translate(_UNPRINTABLE)
