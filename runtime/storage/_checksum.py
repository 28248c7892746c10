"""sha256 of files: 1 MiB reads (hashlib releases the GIL), several files on every core.

hashlib's OpenSSL sha256 releases the GIL while it hashes a buffer, so a thread pool keeps
both cores busy when several files are hashed (benches/README.md: ≥ 0.9× openssl, both cores busy).
Sidecars use the `sha256sum` format, `<hex>  <name>`.
"""
from __future__ import annotations

import hashlib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable

from lume.generated.constants import INPUT_CHECKSUM_SIDECAR, INPUT_HASHED_FILE
from lume.runtime.core import hash_input, input_limit

CHUNK = 1 << 20  # 1 MiB
_SIDECAR = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+?)\s*$")


def sha256_file(path: Path | str) -> str:
    """Lower-case hex sha256 of a file, read in 1 MiB chunks into one reused buffer: a
    `hashed_file` input (InputError for a FIFO, a device or a folder: never waited on)."""
    return hash_input(path, INPUT_HASHED_FILE)[0]


def sha256_stream(fh, limit: int | None = None) -> tuple[str, int]:
    """(sha256, byte count) of a binary stream, reading at most `limit` + 1 bytes."""
    h = hashlib.sha256()
    total = 0
    while chunk := fh.read(CHUNK):
        total += len(chunk)
        h.update(chunk)
        if limit is not None and total > limit:
            break
    return h.hexdigest(), total


def workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def sha256_files(paths: Iterable[Path | str], max_workers: int | None = None) -> dict[str, str]:
    """{str(path): sha256} for several files, hashed in parallel on every core."""
    items = [str(p) for p in paths]
    if len(items) <= 1:
        return {p: sha256_file(p) for p in items}
    with ThreadPoolExecutor(max_workers=max_workers or workers()) as pool:
        return dict(zip(items, pool.map(sha256_file, items)))


def sidecar_line(digest: str, name: str) -> str:
    """One `sha256sum` line: `<hex>  <name>`."""
    return f"{digest}  {name}\n"


def read_sidecar(path: Path, name: str) -> str:
    """The digest the `.sha256` sidecar at `path` gives for `name`: a regular file within
    input_limits.v1's `checksum_sidecar` row, UTF-8 (a BOM allowed) or UTF-16 (PowerShell).
    Raises ValueError naming what is wrong (never blocks on a FIFO, never reads past the limit)."""
    from ._inputs import InputRefused, decode_text, read_limited

    try:
        text = decode_text(read_limited(Path(path), INPUT_CHECKSUM_SIDECAR))
    except InputRefused as exc:
        raise ValueError(f"not a checksum file: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError("neither UTF-8 nor UTF-16 text") from exc
    return parse_sidecar(text, name)


def parse_sidecar(text: str, name: str) -> str:
    """The digest a `.sha256` sidecar gives for `name` (a bare digest is accepted too).

    Raises ValueError naming what is wrong.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ValueError("empty checksum file")
    longest = max(len(ln.encode("utf-8", "surrogatepass")) for ln in lines)
    cap = input_limit(INPUT_CHECKSUM_SIDECAR).max_line_bytes
    if longest > cap:
        raise ValueError(f"a line of {longest} bytes, over the {cap}-byte line limit for "
                         f"{INPUT_CHECKSUM_SIDECAR} inputs [input_limits.v1]")
    for ln in lines:
        m = _SIDECAR.match(ln.strip())
        if m and os.path.basename(m.group(2).replace("\\", "/")) == name:
            return m.group(1).lower()
    if len(lines) == 1 and re.fullmatch(r"[0-9a-fA-F]{64}", lines[0].strip()):
        return lines[0].strip().lower()
    if len(lines) == 1 and _SIDECAR.match(lines[0].strip()):
        raise ValueError(f"checksum file names {_SIDECAR.match(lines[0].strip()).group(2)!r}, not {name!r}")
    raise ValueError(f"not in sha256sum format (`<64 hex>  {name}`)")
