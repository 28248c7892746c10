"""The sled constants as the `lume-config.scad` section OpenSCAD includes.

The section sits between the contract's begin and end marker lines, so `write_section` can put it
into an existing lume-config.scad (the master plan's other constants stay as they are) or refresh
it in place. Every relation becomes an OpenSCAD `assert`: a CAD file that includes the section
refuses to render when someone edits a constant out of line with the others.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lume.runtime.core import InputError, write_text

from ._constants import Constants, Relation, shipped
from ._expr import number

_GROUP_TITLES = {
    "boxes": "boxes: K11 (Ryzen 9 + 780M) and Mac mini M4",
    "pod": "pod: interior, wall and outer size",
    "sled": "universal sled deck (VESA-100)",
    "adapters": "adapter plates: VESA-100 -> VESA-75 (K11), VESA-100 -> 110 mm foot pitch (Mac mini)",
    "raceways": "rear-face raceways (USB topology, the dominant constraint)",
}


def _condition(rel: Relation, tol: float) -> str:
    left, right, t = rel.left.text, rel.right.text, number(tol) if tol >= 1e-4 else f"{tol:g}"
    if rel.op == "==":
        return f"abs(({left}) - ({right})) <= {t}"
    if rel.op == "<=":
        return f"({left}) <= ({right}) + {t}"
    if rel.op == ">=":
        return f"({left}) + {t} >= ({right})"
    return f"({left}) {rel.op} ({right})"


def section(constants: Constants | None = None) -> str:
    """The generated section, begin and end markers included, ending with a newline."""
    c = constants or shipped()
    lines = [c.scad["begin"],
             f"// From {c.source} ({c.contract_id}). Lengths in mm; the relations below are asserted.",
             "// Edit the contract and run `lume sled constants --scad FILE`, never this block."]
    group = None
    for row in c.rows:
        if row["group"] != group:
            group = row["group"]
            lines += ["", f"// {_GROUP_TITLES.get(group, group)}"]
        lines.append(f"{row['name']} = {number(row['value'])};  // {row['description']} ({row['source']})")
    lines += ["", "// relations (sled.constraints checks the same ones)"]
    for rel in c.relations:
        message = f"{rel.id}: {rel.description}".replace('"', "'")
        lines.append(f'assert({_condition(rel, c.tolerance)}, "{message}");')
    lines.append(c.scad["end"])
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Written:
    path: Path
    action: str  # created | replaced | appended | unchanged
    clashes: tuple[str, ...]  # names the rest of the file assigns too (OpenSCAD keeps the last)


def _assigned(text: str) -> set[str]:
    return set(re.findall(r"(?m)^\s*([A-Z][A-Z0-9_]*)\s*=", text))


def write_section(path: Path, constants: Constants | None = None) -> Written:
    """Put the section into `path`: create it, replace the marked block, or append the block."""
    c = constants or shipped()
    block = section(c)
    path = Path(path)
    try:
        # only a regular file is read (a FIFO or a device there is replaced, never waited on)
        old = path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    if old is None:
        new, action, rest = block, "created", ""
    else:
        begin, end = c.scad["begin"], c.scad["end"]
        b, e = old.find(begin), old.find(end)
        if b < 0 and e < 0:
            sep = "" if old.endswith("\n\n") or not old else ("\n" if old.endswith("\n") else "\n\n")
            new, action, rest = old + sep + block, "appended", old
        elif b < 0 or e < b:
            raise InputError(f"{path}: the {c.contract_id} section markers are unbalanced "
                             f"(begin at {b}, end at {e}); fix the file by hand")
        else:
            tail = old[e + len(end):]
            tail = tail[1:] if tail.startswith("\n") else tail
            new, rest = old[:b] + block + tail, old[:b] + tail
            action = "replaced"
    clashes = tuple(sorted(_assigned(rest) & {r["name"] for r in c.rows}))
    changed = write_text(path, new)
    return Written(path, action if changed or action == "created" else "unchanged", clashes)
