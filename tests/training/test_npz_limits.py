"""An NPZ is a zip archive from another machine: its members are decompressed through a cap
(input_limits.v1 `training_arrays`: `max_member_bytes`, `max_unpacked_bytes`), so a zip bomb is
refused as bad input without being decompressed past the limit, whatever its headers declare."""
from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from lume.runtime.cli import main
from lume.runtime.core import InputError, input_limit
from lume.runtime.training import _npz, npz_bytes, read_npz

MIB = 1 << 20


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The training_arrays row with a 1 MiB member and 3 MiB total cap (the shipped ones are GiB)."""
    row = SimpleNamespace(**{**vars(input_limit("training_arrays")),
                             "max_member_bytes": MIB, "max_unpacked_bytes": 3 * MIB})
    real = _npz.input_limit
    monkeypatch.setattr(_npz, "input_limit", lambda kind: row if kind == "training_arrays" else real(kind))
    return row


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def deflated(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_the_shipped_limits_bound_members_and_their_sum() -> None:
    row = input_limit("training_arrays")
    assert 0 < row.max_member_bytes <= row.max_unpacked_bytes


def test_a_member_that_unpacks_past_the_member_limit_is_refused(tmp_path: Path, small_limits) -> None:
    bomb = deflated(tmp_path / "bomb.npz", {"x.npy": npy(np.zeros(4 * MIB, np.uint8))})
    assert bomb.stat().st_size < 64 * 1024  # 4 MiB of zeros compress to a few KiB
    with pytest.raises(InputError, match=r"member 'x' unpacks to .* over the 1 MiB limit for one member "
                                         r"of training_arrays inputs \[input_limits.v1\]"):
        read_npz(bomb)


def test_members_that_add_up_past_the_total_limit_are_refused(tmp_path: Path, small_limits) -> None:
    members = {f"a{i}.npy": npy(np.zeros(MIB - 1024, np.uint8)) for i in range(4)}
    with pytest.raises(InputError, match=r"past the 3 MiB limit for all members together"):
        read_npz(deflated(tmp_path / "many.npz", members))
    three = dict(list(members.items())[:3])
    arrays, refused = read_npz(deflated(tmp_path / "three.npz", three))
    assert sorted(arrays) == ["a0", "a1", "a2"] and refused == {}


def _lie_about_size(data: bytes, member: str, declared: int) -> bytes:
    """The archive with `member`'s uncompressed size set to `declared` in both headers."""
    out = bytearray(data)
    name = member.encode()
    for sig, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = out.find(sig + b"")
        while at != -1:
            name_len_at = 26 if sig == b"PK\x03\x04" else 28
            (name_len,) = struct.unpack_from("<H", out, at + name_len_at)
            start = at + (30 if sig == b"PK\x03\x04" else 46)
            if bytes(out[start:start + name_len]) == name:
                struct.pack_into("<I", out, at + size_at, declared)
            at = out.find(sig, at + 4)
    return bytes(out)


def test_a_member_whose_header_understates_its_size_is_never_trusted(tmp_path: Path, small_limits) -> None:
    """The header says 100 bytes; the stream holds 4 MiB: the reader stops at the cap or at the
    declared size (then the CRC fails), never holding more than the limit."""
    honest = deflated(tmp_path / "honest.npz", {"x.npy": npy(np.zeros(4 * MIB, np.uint8))}).read_bytes()
    liar = tmp_path / "liar.npz"
    liar.write_bytes(_lie_about_size(honest, "x.npy", 100))
    try:
        arrays, refused = read_npz(liar)
    except InputError as exc:
        assert "input_limits.v1" in str(exc)
    else:
        assert "x" not in arrays and "x" in refused


def test_a_zip_bomb_is_bad_input_for_the_cli(tmp_path: Path, small_limits) -> None:
    bomb = deflated(tmp_path / "bomb.npz", {"conditioning.npy": npy(np.zeros(4 * MIB, np.uint8))})
    r = CliRunner().invoke(main, ["training", "check", str(bomb)])
    assert r.exit_code == 2 and "input_limits.v1" in r.output and "Traceback" not in r.output
    assert len([ln for ln in r.output.splitlines() if "bomb.npz" in ln]) == 1


def test_arrays_within_the_limits_read_back_exactly(tmp_path: Path, small_limits) -> None:
    arrays = {"a": np.arange(1000, dtype=np.float32), "b": np.ones((3, 4), np.uint8)}
    path = tmp_path / "ok.npz"
    path.write_bytes(npz_bytes(arrays))
    got, refused = read_npz(path)
    assert refused == {} and all(np.array_equal(got[k], arrays[k]) for k in arrays)


@given(st.binary(max_size=2048), st.integers(min_value=0, max_value=2048))
def test_any_archive_bytes_give_arrays_refusals_or_one_input_error(tmp_path_factory, noise: bytes, at: int) -> None:
    """Bytes spliced into a valid NPZ: arrays, per-member refusals or an InputError, nothing else."""
    good = npz_bytes({"a": np.arange(64, dtype=np.int32), "b": np.zeros(16)})
    at = min(at, len(good))
    path = tmp_path_factory.mktemp("npz") / "x.npz"
    path.write_bytes(good[:at] + noise + good[at + len(noise):])
    try:
        arrays, refused = read_npz(path)
    except InputError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc).strip()
        return
    assert set(arrays).isdisjoint(refused)
