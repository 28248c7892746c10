"""Hypothesis reads its files only from a private folder, seeded with what a run sealed.

Hypothesis draws examples from the tables it keeps (its Unicode categories, the constants of
local code): whoever rewrote them in a shared cache folder would choose what a property run
tries, and so what a signed proof rests on (verifiers/_hypothesis_home.py).
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
import time
import unicodedata

import pytest
from hypothesis import configuration

from lume.runtime.core import SigningKey, input_limit, load_or_create_key
from lume.verifiers import _hypothesis_home as home
from lume.verifiers._digests import cache_dir, seal, unseal

TABLE = f"unicode_data/{unicodedata.unidata_version}/charmap.json.gz"


@functools.cache
def forged_table() -> bytes:
    """Hypothesis's category table with upper-case letters narrowed to "A": text strategies would
    never draw another one."""
    table, last, start = {}, unicodedata.category(chr(0)), 0
    for i in range(1, sys.maxunicode + 1):
        if (cat := unicodedata.category(chr(i))) != last:
            table.setdefault(last, []).append([start, i - 1])
            last, start = cat, i
    table.setdefault(last, []).append([start, sys.maxunicode])
    table["Lu"] = [[65, 65]]
    return gzip.compress(json.dumps(sorted(table.items())).encode())


@pytest.fixture
def secret() -> bytes:
    return SigningKey.generate().derive(home.SECRET_PURPOSE)


def another_secret() -> bytes:
    return SigningKey.generate().derive(home.SECRET_PURPOSE)


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """Each test starts as a process that has used no home yet."""
    before = dict(home._homes), home._current[0]
    yield
    home._homes.clear()
    home._homes.update(before[0])
    home._current[0] = before[1]


def manifest(folder, secret: bytes):
    return folder / home.manifest_name(secret)


def plant(folder, files: dict[str, bytes], secret: bytes | None, *, manifest_of: bytes | None = None,
          listed: dict[str, str] | None = None) -> None:
    """Files in a cache folder's store, and a manifest listing them sealed under `secret` (None:
    unsealed), named for `manifest_of` (the key whose manifest it stands in for; default `secret`)."""
    (folder / home.STORE).mkdir(parents=True, exist_ok=True)
    for data in files.values():
        (folder / home.STORE / hashlib.sha256(data).hexdigest()).write_bytes(data)
    listed = listed if listed is not None else {r: hashlib.sha256(d).hexdigest() for r, d in files.items()}
    body = json.dumps({"version": home.VERSION, "files": listed}).encode()
    manifest(folder, manifest_of or secret).write_bytes(seal(body, secret))


def blob(folder, data: bytes):
    return folder / home.STORE / hashlib.sha256(data).hexdigest()


def seeded(folder, secret) -> dict[str, bytes]:
    """What a new process's private home holds before Hypothesis runs there."""
    path = home._Home(folder, secret).ready()
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def test_hypothesis_works_in_a_private_folder_not_the_cache_folder(tmp_path, secret):
    home.use(tmp_path / "cache", secret)
    with home.private_home() as private:
        assert configuration.storage_directory("x").home_directory == private
        assert not private.is_relative_to(tmp_path)
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert configuration.storage_directory("x").home_directory != private


def test_what_hypothesis_wrote_is_sealed_for_the_next_process(tmp_path, secret):
    folder = tmp_path / "cache"
    home.use(folder, secret)
    with home.private_home() as private:
        (private / TABLE).parent.mkdir(parents=True)
        (private / TABLE).write_bytes(b"the table")
        (private / "tmp").mkdir()
        (private / "tmp" / "scratch").write_bytes(b"half written")
    assert [p.name for p in (folder / home.STORE).iterdir()] == [hashlib.sha256(b"the table").hexdigest()]
    assert seeded(folder, secret) == {TABLE: b"the table"}  # and not Hypothesis's scratch files


def test_two_runs_sealing_at_once_keep_each_others_files(tmp_path, secret):
    folder = tmp_path / "cache"
    first, second = home._Home(folder, secret), home._Home(folder, secret)
    (first.path / "constants").mkdir()
    (first.path / "constants" / "a").write_bytes(b"a")
    (second.path / "constants").mkdir()
    (second.path / "constants" / "b").write_bytes(b"b")
    first.keep()
    second.keep()
    assert seeded(folder, secret) == {"constants/a": b"a", "constants/b": b"b"}


RACER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from lume.verifiers import _hypothesis_home as home

    folder, secret, me, start = Path(sys.argv[1]), bytes.fromhex(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    ours = home._Home(folder, secret)
    (ours.path / "constants").mkdir()
    for i in range(20):
        (ours.path / "constants" / f"{me}-{i}").write_bytes(f"{me} {i}".encode())
    time.sleep(max(0.0, start - time.time()))
    for _ in range(5):  # each keep after the first finds nothing new: the race is on the first
        ours.keep()
""")


def test_runs_sealing_at_once_leave_a_sealed_manifest_of_sound_files(tmp_path, secret):
    """Four processes keep their files into one cache folder at the same instant: whichever
    manifest wins, it is sealed, and every file it lists holds the bytes it was sealed with (a
    lost entry only means Hypothesis computes that file again)."""
    folder, start = tmp_path / "cache", time.time() + 3
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(folder), secret.hex(), name, str(start)])
              for name in "abcd"]
    assert [r.wait(timeout=120) for r in racers] == [0, 0, 0, 0]
    body = unseal(manifest(folder, secret).read_bytes(), secret)
    assert body is not None, "the manifest is not sealed"
    listed = json.loads(body)["files"]
    assert listed
    for rel, sha in listed.items():
        me, i = rel.removeprefix("constants/").split("-")
        assert blob(folder, f"{me} {i}".encode()).name == sha and blob(folder, f"{me} {i}".encode()).exists()
    assert seeded(folder, secret) == {rel: "{} {}".format(*rel[10:].split("-")).encode() for rel in listed}


def test_keys_sharing_a_cache_folder_keep_their_own_files(tmp_path, secret):
    folder, other = tmp_path / "cache", another_secret()
    for key, data in ((secret, b"one"), (other, b"two")):  # the same path, different bytes
        ours = home._Home(folder, key)
        (ours.path / "constants").mkdir()
        (ours.path / "constants" / "a").write_bytes(data)
        ours.keep()
    assert seeded(folder, secret) == {"constants/a": b"one"}
    assert seeded(folder, other) == {"constants/a": b"two"}


def test_a_store_swapped_for_a_link_is_not_written_through(tmp_path, secret):
    """Whoever can write a shared cache folder must not steer where this run's files land."""
    folder, elsewhere = tmp_path / "cache", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (folder / home.STORE).symlink_to(elsewhere)
    ours = home._Home(folder, secret)
    (ours.path / "constants").mkdir()
    (ours.path / "constants" / "a").write_bytes(b"one")
    ours.keep()
    assert list(elsewhere.iterdir()) == [] and seeded(folder, secret) == {}  # computed again next time
    (folder / home.STORE).unlink()  # the control: a real folder keeps the file
    ours = home._Home(folder, secret)
    (ours.path / "constants").mkdir()
    (ours.path / "constants" / "a").write_bytes(b"one")
    ours.keep()
    assert seeded(folder, secret) == {"constants/a": b"one"}


def reseal(folder, secret: bytes, body: str) -> None:
    manifest(folder, secret).write_bytes(seal(body.encode(), secret))


REAL = b"the real table"
HOSTILE = {
    "no manifest": lambda folder, secret: manifest(folder, secret).unlink(),
    "a manifest sealed without a key": lambda folder, secret: plant(
        folder, {TABLE: forged_table()}, None, manifest_of=secret),
    "a manifest sealed under another key": lambda folder, secret: plant(
        folder, {TABLE: forged_table()}, another_secret(), manifest_of=secret),
    "a manifest sealed for the verify cache, not for these files": lambda folder, secret: plant(
        folder, {TABLE: forged_table()}, SigningKey.generate().derive("verify cache"), manifest_of=secret),
    "a sealed manifest edited": lambda folder, secret: manifest(folder, secret).write_bytes(
        manifest(folder, secret).read_bytes() + b" "),
    "the manifest swapped for a FIFO": lambda folder, secret: (
        manifest(folder, secret).unlink(), os.mkfifo(manifest(folder, secret))),
    "the manifest grown past its limit": lambda folder, secret: os.truncate(
        manifest(folder, secret), input_limit("json_document").max_bytes + 1),
    "a manifest of another version, sealed by the key": lambda folder, secret: reseal(
        folder, secret, json.dumps({"version": home.VERSION + 1, "files": {TABLE: blob(folder, REAL).name}})),
    "a manifest that is not JSON, sealed by the key": lambda folder, secret: reseal(
        folder, secret, '{"version": 1, "files": {'),
    "the file rewritten after it was sealed": lambda folder, secret: blob(folder, REAL).write_bytes(
        forged_table()),
    "the file swapped for a FIFO": lambda folder, secret: (
        blob(folder, REAL).unlink(), os.mkfifo(blob(folder, REAL))),
    "the file grown past its limit": lambda folder, secret: blob(folder, REAL).write_bytes(
        b"\0" * (input_limit("hypothesis_file").max_bytes + 1)),
}


@pytest.mark.parametrize("attack", HOSTILE, ids=list(HOSTILE))
def test_nothing_the_key_did_not_seal_reaches_hypothesis(tmp_path, secret, attack):
    folder = tmp_path / "cache"
    plant(folder, {TABLE: REAL}, secret)
    assert seeded(folder, secret) == {TABLE: REAL}  # the control: sealed, it is used
    HOSTILE[attack](folder, secret)
    assert seeded(folder, secret) == {}


def test_a_sealed_path_never_leads_outside_the_private_folder(tmp_path, secret):
    folder = tmp_path / "cache"
    x = hashlib.sha256(b"x").hexdigest()
    plant(folder, {"constants/x": b"x"}, secret,
          listed={"../../escaped": x, "/etc/escaped": x, "tmp/scratch": x, "constants/y": "../" + x[3:],
                  "constants/z": x.upper()})
    assert seeded(folder, secret) == {}


def test_a_run_without_a_key_reads_and_keeps_nothing(tmp_path, secret):
    folder = tmp_path / "cache"
    plant(folder, {TABLE: REAL}, secret)
    before = sorted(p.name for p in folder.rglob("*"))
    home.use(folder, None)
    with home.private_home() as private:
        assert not any(private.rglob("*"))
        (private / "constants").mkdir()
        (private / "constants" / "new").write_bytes(b"unvouched")
    assert sorted(p.name for p in folder.rglob("*")) == before


PROBE = textwrap.dedent("""
    import sys
    from pathlib import Path
    from hypothesis import strategies as st
    from hypothesis.internal.charmap import charmap
    from lume.verifiers import _hypothesis_home
    from lume.verifiers._properties import Budget, run_property

    _hypothesis_home.use(Path(sys.argv[1]), bytes.fromhex(sys.argv[2]))
    budget = Budget("probe", "test", 0, 5, None)
    run = run_property("probe", (), st.text(), lambda value, counts: None, budget)
    assert run.error is None, run.error
    print(list(charmap()["Lu"][0]))
""")


@pytest.mark.parametrize("sealed_by", ["another key", "the run's own key"])
def test_a_forged_unicode_table_in_the_cache_folder_never_steers_a_property_run(tmp_path, secret, sealed_by):
    """A property run in a fresh process, with a forged category table in its cache folder. The
    run's own key sealing it is the control: only the key holder can make Hypothesis use it."""
    folder = tmp_path / "cache"
    plant(folder, {TABLE: forged_table()},
          secret if sealed_by == "the run's own key" else another_secret())
    out = subprocess.run([sys.executable, "-c", PROBE, str(folder), secret.hex()], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    first_upper = json.loads(out.stdout)
    assert first_upper == ([65, 65] if sealed_by == "the run's own key" else [65, 90])


def test_lume_verify_keeps_hypothesis_files_sealed_in_its_cache_folder(tmp_path):
    """The command as the operator runs it (a process of its own: Hypothesis keeps what it read
    for the rest of a process, so an in-process run after other tests would write nothing)."""
    command = ["verify", "--only", "lumf.codec.properties", "-o", str(tmp_path / "report.json")]
    out = subprocess.run([sys.executable, "-m", "lume.runtime.cli", *command], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert "Traceback" not in out.stderr and (tmp_path / "report.json").exists(), out.stderr
    kept = seeded(cache_dir(), load_or_create_key().derive(home.SECRET_PURPOSE))
    assert kept and all(rel.startswith(("constants/", "unicode_data/")) for rel in kept)
    assert not (tmp_path / ".hypothesis").exists()  # nothing in the folder it is run from
