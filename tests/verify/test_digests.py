"""Hashing ahead of the checks (DigestCache.prefetch) gives the digests hashing on demand gives."""
from __future__ import annotations

import hashlib

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
    import os

    from lume.verifiers import _digests

    root, folder = tmp_path / "root", tmp_path / "cache"
    rels = tree(root)
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
