"""Does a readiness report vouch for THIS root? (`lume report verify REPORT --root ROOT`)

A signed report names the root it verified and the digest of every file (its subjects). A
report for another root must not pass for this one: the root must be the same folder, and
every subject reachable under ROOT must still have the digest the report signed. Subjects
that are no longer there are counted, not failed; none reachable at all fails (an empty or
unrelated folder is not the root the report speaks about).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lume.generated.constants import INPUT_HASHED_FILE
from lume.runtime.core import InputError, hash_input


@dataclass
class Binding:
    root: str
    report_root: str
    subjects: int = 0
    checked: int = 0
    unreachable: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (f"bound to {self.root}: {self.checked} of {self.subjects} subject digest(s) match"
                + (f", {self.unreachable} not present" if self.unreachable else ""))


def _same_folder(a: str, b: Path) -> bool:
    if a == str(b):
        return True
    try:
        return Path(a).resolve() == b.resolve()
    except (OSError, RuntimeError, ValueError):
        return False


def bind(statement: dict[str, Any], root: Path) -> Binding:
    """Check that a verified report's in-toto Statement speaks about `root`: its predicate's
    root, and the digests of its subjects (`verify_report` has held a v1 predicate's own
    `subjects` equal to them)."""
    root = Path(root)
    predicate, subjects = statement["predicate"], statement["subject"]
    b = Binding(str(root), predicate["root"], subjects=len(subjects))
    if not _same_folder(predicate["root"], root):
        b.problems.append(f"the report vouches for root {predicate['root']!r}, not {str(root)!r}")
    for s in subjects:
        path = root / s["name"]
        if not os.path.lexists(path):
            b.unreachable += 1
            continue
        try:  # streamed; a FIFO, device or folder in a subject's place is a problem, never read
            found, _ = hash_input(path, INPUT_HASHED_FILE)
        except InputError as exc:
            b.problems.append(f"{s['name']}: {exc}")
            continue
        if found != s["digest"]["sha256"]:
            b.problems.append(f"{s['name']}: sha256 {found} under {root}, the report signed "
                              f"{s['digest']['sha256']}")
        else:
            b.checked += 1
    if b.subjects and not b.checked and not b.problems:
        b.problems.append(f"none of the report's {b.subjects} subject(s) is under {root}")
    return b
