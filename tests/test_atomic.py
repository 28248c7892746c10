"""The atomic writer gives files the mode the umask says (issue 15); only secrets stay 0600. An
unchanged file is left alone, and whatever else sits at the path is replaced, never read."""
from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from lume.runtime.core import publish_once, write_bytes, write_json
from lume.runtime.core._atomic import SECRET, _umask

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file mode bits are POSIX")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_written_files_honour_the_umask(tmp_path: Path, mask: int, monkeypatch: pytest.MonkeyPatch) -> None:
    old = os.umask(mask)
    _umask.cache_clear()
    try:
        write_bytes(tmp_path / "a.bin", b"x")
        write_json(tmp_path / "b.json", {"x": 1})
        publish_once(tmp_path / "c.bin", b"y")
        plain = tmp_path / "plain.txt"
        plain.write_text("z")  # what an ordinary open() gives, for comparison
    finally:
        os.umask(old)
        _umask.cache_clear()
    for name in ("a.bin", "b.json", "c.bin"):
        assert mode(tmp_path / name) == mode(plain) == 0o666 & ~mask, name


def test_secrets_stay_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o002)
    _umask.cache_clear()
    try:
        assert publish_once(tmp_path / "private.pem", b"secret", mode=SECRET)
    finally:
        os.umask(old)
        _umask.cache_clear()
    assert mode(tmp_path / "private.pem") == 0o600


def test_a_replaced_file_takes_the_new_mode_and_no_temp_file_is_left(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    target.write_text("old")
    target.chmod(0o600)
    assert write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and mode(target) == 0o666 & ~_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]


def test_an_unchanged_file_is_not_rewritten_and_a_changed_one_of_the_same_size_is(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    assert write_bytes(path, b"x" * 3_000_000)
    inode = path.stat().st_ino
    assert not write_bytes(path, b"x" * 3_000_000)  # compared a piece at a time: the same
    assert path.stat().st_ino == inode
    assert write_bytes(path, b"x" * 2_999_999 + b"y")  # same size, last byte differs
    assert path.read_bytes()[-1:] == b"y" and path.stat().st_ino != inode


@pytest.mark.parametrize("kind", ["fifo", "folder-less link", "empty"])
def test_a_fifo_or_anything_odd_at_the_path_is_replaced_without_being_read(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "report.json"
    if kind == "fifo":
        os.mkfifo(path)  # opening it to compare would block without a writer
    elif kind == "folder-less link":
        path.symlink_to(tmp_path / "nowhere" / "x")
    else:
        path.write_bytes(b"")
    done = threading.Thread(target=write_bytes, args=(path, b"{}"), daemon=True)
    done.start()
    done.join(timeout=10)
    assert not done.is_alive(), "write_bytes blocked on what was at the path"
    assert path.is_file() and not path.is_symlink() and path.read_bytes() == b"{}"
