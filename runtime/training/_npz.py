"""NPZ files read without pickle and written byte-for-byte reproducibly.

numpy's own savez stamps each member with the current time, so the same arrays give different
bytes (and digests) on every run; digests are how model records name their datasets, so LUME
writes NPZ members itself: stored (uncompressed), sorted, with a fixed timestamp, each member the
`.npy` bytes numpy.lib.format writes. np.load reads the result like any NPZ.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

from lume.generated.constants import INPUT_TRAINING_ARRAYS
from lume.runtime.core import InputError, open_input, write_bytes

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
    return out.getvalue()


def write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> bytes:
    """Write `arrays` to `path` atomically; returns the bytes written."""
    data = npz_bytes(arrays)
    write_bytes(Path(path), data)
    return data


def array_names(path: Path) -> list[str]:
    """The array names of an NPZ without reading the arrays (InputError when it is no NPZ)."""
    try:
        with open_input(path, INPUT_TRAINING_ARRAYS) as fh, zipfile.ZipFile(fh) as zf:
            return sorted(n[:-4] for n in zf.namelist() if n.endswith(".npy"))
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to list it means it is no readable NPZ
        raise InputError(f"{path}: not an NPZ file: {exc or type(exc).__name__}") from exc


def read_npz(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(arrays, {name: why it could not be read}) - object arrays are refused, never unpickled."""
    fh = open_input(path, INPUT_TRAINING_ARRAYS)  # a regular file within its limit, or InputError
    try:
        handle = np.load(fh, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - a single .npy header can fail like a member (see below)
        fh.close()
        raise InputError(f"{path}: not an NPZ file: {exc or type(exc).__name__}") from exc
    if not isinstance(handle, np.lib.npyio.NpzFile):
        fh.close()
        raise InputError(f"{path}: a single .npy array, not an NPZ archive")
    arrays, refused = {}, {}
    with fh, handle:
        for name in handle.files:
            try:
                arrays[name] = handle[name]
            # a malformed member can fail anywhere in numpy's header parser (ValueError, SyntaxError,
            # tokenize errors, zlib errors, ...): whatever it raises, the array is unreadable, not a crash
            except Exception as exc:  # noqa: BLE001
                refused[name] = f"{type(exc).__name__}: {exc}"
    return arrays, refused
