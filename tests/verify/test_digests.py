"""Hashing ahead of the checks (DigestCache.prefetch) gives the digests hashing on demand gives."""
from __future__ import annotations

import hashlib
import os
import time

from verify_roots import settle

from lume.runtime.core import settle_ns
from lume.verifiers import _digests
from lume.verifiers._digests import DigestCache


def tree(root, n=40):
    for i in range(n):
        (root / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (root / f"d{i % 3}" / f"f{i}.bin").write_bytes(bytes([i]) * (i * 9973))
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.bin"))


def test_prefetched_digests_are_the_digests(tmp_path):
    root = tmp_path / "root"
    rels = tree(root)
    cache = DigestCache(root, quick=False, folder=tmp_path / "cache")
    cache.prefetch(rels)
    last = rels[-1]  # asked for first: hashed at once or taken from its worker
    assert cache.digest(last) == hashlib.sha256((root / last).read_bytes()).hexdigest()
    cache.digest_many(rels)
    cache.close()
    cache.close()
    assert cache.hashed == len(rels)
    for rel in rels:
        assert cache.entries[rel][4] == hashlib.sha256((root / rel).read_bytes()).hexdigest()


def test_closing_early_leaves_nothing_half_known(tmp_path):
    root = tmp_path / "root"
    rels = tree(root)
    cache = DigestCache(root, quick=False, folder=tmp_path / "cache")
    cache.prefetch(rels)
    cache.close()
    cache.digest_many(rels)  # whatever the workers had not done is hashed now
    assert sorted(cache.entries) == rels
    assert all(cache.entries[r][4] == hashlib.sha256((root / r).read_bytes()).hexdigest() for r in rels)


def test_a_quick_prefetch_trusts_unchanged_files_at_once_and_hashes_the_changed_ones(tmp_path, monkeypatch):
    root, folder = tmp_path / "root", tmp_path / "cache"
    rels = tree(root)
    settle(root)
    full = DigestCache(root, quick=False, folder=folder)
    full.digest_many(rels)
    full.save(files=frozenset(rels))
    changed, gone = rels[5], rels[7]
    data = b"\xff" * len((root / changed).read_bytes())
    (root / changed).write_bytes(data)  # same size, other bytes: the ctime differs
    os.utime(root / changed, ns=(0, os.stat(root / rels[0]).st_mtime_ns))  # even with an old mtime
    (root / gone).unlink()
    hashed = []
    monkeypatch.setattr(_digests, "sha256_file", lambda path: hashed.append(path) or
                        hashlib.sha256(path.read_bytes()).hexdigest())
    quick = DigestCache(root, quick=True, folder=folder)
    quick.prefetch(rels)
    quick.digest_many(rels)
    quick.close()
    assert hashed == [root / changed]  # and the missing file is not made up
    assert quick.trusted == len(rels) - 2 and quick.hashed == 1 and gone not in quick.entries
    assert quick.entries[changed][4] == hashlib.sha256(data).hexdigest() != full.entries[changed][4]
    assert all(quick.entries[r][4] == full.entries[r][4] for r in rels if r not in (changed, gone))


def counting(monkeypatch) -> list:
    hashed: list = []
    monkeypatch.setattr(_digests, "sha256_file", lambda path: hashed.append(path.name) or
                        hashlib.sha256(path.read_bytes()).hexdigest())
    return hashed


def test_a_file_read_just_after_it_changed_is_read_again_by_the_next_quick_run(tmp_path, monkeypatch):
    """input_limits.v1 `unchanged_files`: a change within the file system's timestamp
    granularity of a read can leave the stamp as it was (FAT, HFS+, Linux before 6.13), so
    what was read of a file changed less than settle_ms before is never trusted on its stamp."""
    root, folder = tmp_path / "root", tmp_path / "cache"
    rels = tree(root, n=6)
    settle(root)
    fresh = rels[2]
    (root / fresh).write_bytes((root / fresh).read_bytes())  # same bytes, changed just now
    full = DigestCache(root, quick=False, folder=folder)
    full.digest_many(rels)
    full.save(files=frozenset(rels))
    assert full.entries[fresh][1] is None  # remembered unsettled
    assert all(full.entries[r][1] == os.stat(root / r).st_mtime_ns for r in rels if r != fresh)
    hashed = counting(monkeypatch)
    quick = DigestCache(root, quick=True, folder=folder)
    quick.prefetch(rels)
    quick.digest_many(rels)
    quick.close()
    assert hashed == [fresh.rsplit("/", 1)[1]]  # its stamp is unchanged, and it is read again
    assert quick.trusted == len(rels) - 1


def test_a_file_dated_after_the_read_is_never_trusted_on_its_stamp(tmp_path, monkeypatch):
    root, folder = tmp_path / "root", tmp_path / "cache"
    rels = tree(root, n=3)
    ahead = time.time_ns() + 3600 * 10**9  # written by a machine whose clock is an hour ahead
    os.utime(root / rels[0], ns=(ahead, ahead))
    time.sleep(settle_ns() / 1e9 + 0.05)  # every change time has settled; that mtime is still ahead
    cache = DigestCache(root, quick=False, folder=folder)
    cache.digest_many(rels)
    cache.save(files=frozenset(rels))
    hashed = counting(monkeypatch)
    for _ in range(2):
        cache = DigestCache(root, quick=True, folder=folder)
        cache.digest_many(rels)
        cache.save(files=frozenset(rels))
    assert hashed == [rels[0].rsplit("/", 1)[1]] * 2


def test_a_check_result_of_a_file_read_just_after_it_changed_is_computed_again(tmp_path):
    root, folder = tmp_path / "root", tmp_path / "cache"
    rels = tree(root, n=2)
    settle(root)
    old, fresh = rels
    (root / fresh).write_bytes((root / fresh).read_bytes())
    first = DigestCache(root, quick=False, folder=folder)
    assert [first.memo("a.check", r, lambda r=r: f"verdict on {r}") for r in rels] == \
        [f"verdict on {r}" for r in rels]
    first.save()
    computed = []
    quick = DigestCache(root, quick=True, folder=folder)
    for r in rels:
        quick.memo("a.check", r, lambda r=r: computed.append(r) or f"verdict on {r}")
    assert computed == [fresh]
