"""The atomic writer gives files the mode the umask says (issue 15); only secrets stay 0600."""
from __future__ import annotations

import os
import stat
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
