"""`write_below`: a file written into a folder others may write (a shared cache folder) never
lands anywhere else. A folder under it swapped for a symbolic link is refused, not followed; a
link in the file's own place is replaced, never written through."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lume.runtime.core import write_below
from lume.runtime.core._atomic import _RELATIVE

pytestmark = pytest.mark.skipif(not _RELATIVE,
                                reason="opening relative to a folder needs POSIX (dir_fd, O_NOFOLLOW)")


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_it_writes_creates_the_folders_and_leaves_an_unchanged_file_alone(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert write_below(cache, "proofs/a.json", b"one") is True
    assert (cache / "proofs" / "a.json").read_bytes() == b"one"
    stamp = (cache / "proofs" / "a.json").stat().st_ino
    assert write_below(cache, "proofs/a.json", b"one") is False
    assert (cache / "proofs" / "a.json").stat().st_ino == stamp
    assert write_below(cache, "proofs/a.json", b"two") is True
    assert files(cache) == {"proofs/a.json": b"two"}  # no temp file left
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert stat.S_IMODE((cache / "proofs" / "a.json").stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_a_folder_swapped_for_a_link_is_refused_and_nothing_lands_where_it_points(tmp_path: Path) -> None:
    cache, elsewhere = tmp_path / "cache", tmp_path / "elsewhere"
    cache.mkdir()
    elsewhere.mkdir()
    (cache / "proofs").symlink_to(elsewhere)
    with pytest.raises(OSError):
        write_below(cache, "proofs/a.json", b"ours")
    with pytest.raises(OSError):
        write_below(cache, "proofs/deeper/a.json", b"ours")
    assert files(elsewhere) == {}
    # the control: the same write through a real folder lands
    (cache / "proofs").unlink()
    assert write_below(cache, "proofs/a.json", b"ours") and files(cache) == {"proofs/a.json": b"ours"}


def test_a_link_in_the_files_place_is_replaced_not_written_through(tmp_path: Path) -> None:
    cache, victim = tmp_path / "cache", tmp_path / "victim.txt"
    (cache / "store").mkdir(parents=True)
    victim.write_bytes(b"precious")
    (cache / "store" / "f").symlink_to(victim)
    assert write_below(cache, "store/f", b"precious") is True  # equal bytes behind a link do not count
    assert victim.read_bytes() == b"precious"
    assert not (cache / "store" / "f").is_symlink() and (cache / "store" / "f").read_bytes() == b"precious"


def test_a_fifo_in_the_files_place_is_replaced_without_being_read(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    os.mkfifo(tmp_path / "store" / "f")
    assert write_below(tmp_path, "store/f", b"x") and (tmp_path / "store" / "f").read_bytes() == b"x"


@pytest.mark.parametrize("rel", ["", "/etc/passwd", "../out", "a/../../out", "a/.."])
def test_a_path_that_leaves_the_folder_is_refused(tmp_path: Path, rel: str) -> None:
    with pytest.raises(ValueError, match="not a path inside"):
        write_below(tmp_path / "cache", rel, b"x")
    assert not (tmp_path / "out").exists()


def test_a_failed_rename_leaves_the_old_file_and_no_temp_file(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    write_below(tmp_path, "s/f", b"old")

    def refuse(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk gone"):
        write_below(tmp_path, "s/f", b"new")
    assert files(tmp_path) == {"s/f": b"old"}


names = st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=20).filter(
    lambda n: n not in (".", ".."))


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(names, min_size=1, max_size=3), data=st.binary(max_size=300))
def test_whatever_the_name_the_bytes_land_at_that_name_under_the_folder(tmp_path_factory, parts, data):
    top = tmp_path_factory.mktemp("w")
    root = top / "cache"
    try:
        write_below(root, "/".join(parts), data)
    except OSError:  # a name too long for this file system: refused, nothing written
        assert files(top) == {}
        return
    assert files(top) == {"cache/" + "/".join(parts): data}
