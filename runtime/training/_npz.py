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
from typing import TYPE_CHECKING, BinaryIO, Mapping

from lume.generated.constants import INPUT_TRAINING_ARRAYS
from lume.runtime.core import InputError, input_limit, open_input, size_text, write_bytes

if TYPE_CHECKING:  # numpy is imported where arrays are made or read: `lume verify` imports this
    import numpy as np  # module, and a root without training data does not pay for numpy (0.1 s)

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
_NPY_MAGIC = b"\x93NUMPY"


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    import numpy as np
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


class _OverLimit(Exception):
    """More decompressed bytes than the member's budget: nothing past it was decompressed."""


class _Capped:
    """A member stream that hands out at most `cap` decompressed bytes, counted as they are
    decompressed (a member's declared size is never trusted alone)."""

    def __init__(self, member: BinaryIO, cap: int):
        self._member, self._cap, self.count = member, cap, 0

    def read(self, n: int = -1) -> bytes:
        want = self._cap + 1 - self.count if n is None or n < 0 else min(n, self._cap + 1 - self.count)
        data = self._member.read(max(want, 0))
        self.count += len(data)
        if self.count > self._cap:
            raise _OverLimit
        return data


def read_npz(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(arrays, {name: why it could not be read}) - object arrays are refused, never unpickled.

    The archive is a regular file within input_limits.v1 `training_arrays` `max_bytes`; each
    member is decompressed through a cap, so a member larger than `max_member_bytes`, or members
    adding up to more than `max_unpacked_bytes`, are refused (InputError naming the file, the
    limit and the contract) without decompressing past the limit, whatever their headers say."""
    import numpy as np
    limit = input_limit(INPUT_TRAINING_ARRAYS)
    with open_input(path, INPUT_TRAINING_ARRAYS) as fh:  # a regular file within its limit, or InputError
        try:
            zf = zipfile.ZipFile(fh)
        except Exception as exc:  # noqa: BLE001 - any failure to open it means it is no readable NPZ
            fh.seek(0)
            if fh.read(len(_NPY_MAGIC)) == _NPY_MAGIC:
                raise InputError(f"{path}: a single .npy array, not an NPZ archive") from None
            raise InputError(f"{path}: not an NPZ file: {exc or type(exc).__name__}") from exc
        arrays, refused, unpacked = {}, {}, 0
        with zf:
            for info in zf.infolist():
                name = info.filename.removesuffix(".npy")
                left = limit.max_unpacked_bytes - unpacked
                if info.file_size > limit.max_member_bytes or info.file_size > left:
                    raise _too_large(path, name, info.file_size, limit, left)
                capped = None
                try:
                    with zf.open(info) as member:
                        capped = _Capped(member, min(limit.max_member_bytes, left))
                        arrays[name] = np.lib.format.read_array(capped, allow_pickle=False)
                except _OverLimit:
                    raise _too_large(path, name, capped.count, limit, left) from None
                # a malformed member can fail anywhere in numpy's header parser (ValueError, SyntaxError,
                # tokenize errors, zlib errors, CRC errors, ...): the array is unreadable, not a crash
                except Exception as exc:  # noqa: BLE001
                    refused[name] = f"{type(exc).__name__}: {exc}"
                unpacked += capped.count if capped is not None else 0
    return arrays, refused


def _too_large(path: Path, name: str, size: int, limit, left: int) -> InputError:
    if size > limit.max_member_bytes:
        what = f"over the {size_text(limit.max_member_bytes)} limit for one member"
    else:
        what = (f"past the {size_text(limit.max_unpacked_bytes)} limit for all members together "
                f"({size_text(max(left, 0))} left)")
    return InputError(f"{path}: member {name!r} unpacks to {size_text(size)} or more, {what} of "
                      f"{INPUT_TRAINING_ARRAYS} inputs [input_limits.v1]; not decompressed further")
