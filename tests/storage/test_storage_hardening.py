"""Issue 18, storage: each attack fails safely with a one-line reason, and the run goes on.

Hostile inputs are made here (archives, real FIFOs, sparse files, a disk that fills up); each
test says which defect class it covers.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from storage_helpers import (
    K11_ROOT,
    arrived,
    no_partial,
    put,
    session_members,
    sha,
    special,
    tar_bytes,
    tree,
    zip_data,
)

from lume.runtime.cli import main
from lume.runtime.core import printable, validate_file
from lume.runtime.core._time import fixed
from lume.runtime.storage import RootBusy, index_root, root_lock
from lume.runtime.storage import _extract as extract
from lume.runtime.storage._inputs import stream_buffer_bytes

POSIX = pytest.mark.skipif(os.name != "posix", reason="FIFOs, symbolic links and file modes are POSIX")


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def entries(root: Path) -> dict[str, dict]:
    return {e["archive_name"]: e for e in json.loads((root / "index.json").read_text())["entries"]}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "dance-sessions"
    (r / "_incoming").mkdir(parents=True)
    return r


def good(root: Path, sid: str = "good", name: str | None = None) -> bytes:
    m = session_members(sid)
    data = tar_bytes(m)
    put(root, name or f"{sid}.tar.gz", data, members=m, session_id=sid)
    return data


def zip_patched(members: dict[str, bytes], *, flag: int | None = None, method: int | None = None) -> bytes:
    """A zip whose headers claim an encrypted member (`flag` 1) or another compression method."""
    data = bytearray(zip_data(members))
    for signature, at_flag, at_method in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        i = data.find(signature)
        while i != -1:
            if flag is not None:
                struct.pack_into("<H", data, i + at_flag, flag)
            if method is not None:
                struct.pack_into("<H", data, i + at_method, method)
            i = data.find(signature, i + 4)
    return bytes(data)


def pax_mtime(members: dict[str, bytes], mtime: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.pax_headers = len(data), {"mtime": mtime}
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# --------------------------------------------------------------------------- refused, not aborted


def test_encrypted_zip_unknown_method_and_impossible_mtime_are_refused_and_the_run_goes_on(root: Path) -> None:
    m = session_members("x")
    put(root, "a-encrypted.zip", zip_patched(m, flag=1))
    put(root, "b-method.zip", zip_patched(m, method=99))
    put(root, "c-mtime.tar.gz", pax_mtime(m, "1e400"))
    put(root, "d-nan.tar.gz", pax_mtime(m, "nan"))
    good(root, "z-good")
    result = run("index", str(root), "--json")
    assert result.exit_code == 1, result.output
    got = entries(root)
    assert got["z-good.tar.gz"]["status"] == "indexed"
    expect = {"a-encrypted.zip": "encrypted_member", "b-method.zip": "unsupported_compression",
              "c-mtime.tar.gz": "bad_timestamp", "d-nan.tar.gz": "bad_timestamp"}
    for name, code in expect.items():
        assert got[name]["status"] == "refused" and code in got[name]["reason"], got[name]
    assert "Traceback" not in result.output and no_partial(root)


# --------------------------------------------------------------------------- one indexer at a time


def test_a_second_indexer_stops_with_a_clear_message_and_changes_nothing(root: Path) -> None:
    good(root)
    with root_lock(root):
        before = tree(root)
        result = run("index", str(root))
        assert result.exit_code == 1
        assert "another indexer is working on this root" in result.stderr and "--wait" in result.stderr
        assert tree(root) == before
        with pytest.raises(RootBusy):
            index_root(root)


def test_a_second_indexer_may_wait_for_the_first(root: Path) -> None:
    good(root)
    lock = root_lock(root)
    lock.__enter__()
    threading.Timer(0.5, lock.__exit__, (None, None, None)).start()
    result = run("index", str(root), "--wait", "30s")
    assert result.exit_code == 0, result.output
    assert entries(root)["good.tar.gz"]["status"] == "indexed"


def test_two_indexers_at_once_never_lose_an_archive(tmp_path: Path) -> None:
    """Issue 18: two `lume index` runs at once marked good archives corrupt in 21 of 32 trials."""
    root = arrived(tmp_path)
    for i in range(4):
        good(root, f"extra-{i}")
    cmd = [sys.executable, "-m", "lume.runtime.cli", "index", str(root), "--json", "--wait", "2m"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1].decode() for o in outs]
    assert {e["status"] for e in entries(root).values()} == {"indexed"}
    assert no_partial(root)
    history = [json.loads(line) for line in (root / "index.jsonl").read_text().splitlines()]
    assert len(history) == len({r["archive_name"] for r in history})  # each verdict once


# --------------------------------------------------------------------------- check-then-use


def test_the_bytes_extracted_are_the_bytes_hashed(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18: an archive changed between hashing and extraction was indexed with the
    sidecar's digest while its extracted bytes differed. The archive is now read once."""
    data = good(root, "swap")
    other = tar_bytes({**session_members("swap"), "logs/recorder.log": b"something else entirely\n"})
    path = root / "_incoming" / "swap.tar.gz"
    real = extract._Tee.readinto
    swapped = []

    def readinto(self, b):
        n = real(self, b)
        if not swapped:  # the uploader rewrites the file in place under the reader
            swapped.append(True)
            with open(path, "r+b") as fh:
                fh.write(other[: len(data)])
        return n
    monkeypatch.setattr(extract._Tee, "readinto", readinto)
    index_root(root)
    e = entries(root)["swap.tar.gz"]
    assert e["status"] == "corrupt" and "does not match swap.tar.gz.sha256" in e["reason"]
    assert not (root / "_processed/swap").exists() and no_partial(root)


def test_the_archive_is_opened_once(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good(root, "once")
    opened: list[str] = []
    real_open = open

    def counting(file, *args, **kwargs):
        if str(file).endswith("once.tar.gz"):
            opened.append(str(file))
        return real_open(file, *args, **kwargs)
    monkeypatch.setattr("builtins.open", counting)
    index_root(root)
    assert entries(root)["once.tar.gz"]["status"] == "indexed"
    assert len(opened) == 1


def test_tar_members_stream_through_the_declared_small_buffer(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18: a 1 MiB stream buffer let a 300 MB zero member take 973 MB (benches/ measures it)."""
    good(root, "buf")
    seen = []
    real = tarfile.open

    def spy(*args, **kwargs):
        seen.append((kwargs.get("mode"), kwargs.get("bufsize")))
        return real(*args, **kwargs)
    monkeypatch.setattr(tarfile, "open", spy)
    index_root(root)
    assert stream_buffer_bytes() == 10240
    assert seen == [("r|*", 10240)]


# --------------------------------------------------------------------------- sidecars and manifests


@POSIX
def test_odd_sidecars_and_manifests_are_reported_never_waited_on(root: Path) -> None:
    """Issue 18: a FIFO sidecar hung the run; /dev/zero gave a MemoryError; a 3 GiB sparse
    sidecar took 6.3 GB; a sidecar that is a folder stopped the whole run."""
    names = {}
    for kind in ("fifo", "folder", "devzero", "sparse", "manifest-fifo"):
        m = session_members(kind)
        data = tar_bytes(m)
        name = f"{kind}.tar.gz"
        put(root, name, data, sidecar=None, members=m if kind == "manifest-fifo" else None, session_id=kind)
        names[kind] = name
        sidecar = root / "_incoming" / f"{name}.sha256"
        if kind == "fifo":
            os.mkfifo(sidecar)
        elif kind == "folder":
            sidecar.mkdir()
        elif kind == "devzero":
            sidecar.symlink_to("/dev/zero")
        elif kind == "sparse":
            with open(sidecar, "wb") as fh:
                fh.truncate(3 * 1024 ** 3)
        else:
            sidecar.write_text(f"{sha(data)}  {name}\n")
            manifest = root / "_manifests" / f"{name}.json"
            manifest.unlink()
            os.mkfifo(manifest)
    good(root)
    done = subprocess.run([sys.executable, "-m", "lume.runtime.cli", "index", str(root), "--json"],
                          capture_output=True, timeout=300)
    assert done.returncode == 1, done.stderr.decode()
    assert b"Traceback" not in done.stderr
    got = entries(root)
    assert got["good.tar.gz"]["status"] == "indexed"
    assert "a FIFO" in got[names["fifo"]]["reason"]
    assert "a directory" in got[names["folder"]]["reason"]
    assert "symbolic link" in got[names["devzero"]]["reason"]
    assert "over the 64 KiB limit for checksum_sidecar inputs [input_limits.v1]" in got[names["sparse"]]["reason"]
    assert "a FIFO" in got[names["manifest-fifo"]]["reason"] and "transport manifest" in got[names["manifest-fifo"]]["reason"]
    assert all("input_limits.v1" in got[n]["reason"] and str(root) not in got[n]["reason"] for n in names.values())
    assert all(got[n]["status"] == "refused" for n in names.values())


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom"])
def test_sidecars_and_manifests_powershell_writes_are_accepted(root: Path, encoding: str) -> None:
    """Issue 18: sidecars with a UTF-8 BOM or in UTF-16 marked good archives corrupt."""
    m = session_members("ps")
    data = tar_bytes(m)
    put(root, "ps.tar.gz", data, members=m, session_id="ps")
    line = f"{sha(data).upper()} *ps.tar.gz\r\n"
    codec = {"utf-16-le-bom": ("utf-16-le", b"\xff\xfe"), "utf-16-be-bom": ("utf-16-be", b"\xfe\xff")}
    if encoding in codec:
        raw = codec[encoding][1] + line.encode(codec[encoding][0])
    else:
        raw = line.encode(encoding)
    (root / "_incoming/ps.tar.gz.sha256").write_bytes(raw)
    manifest = root / "_manifests/ps.tar.gz.json"
    text = manifest.read_text()
    manifest.write_bytes(raw[:2] + text.encode(codec[encoding][0]) if encoding in codec else text.encode(encoding))
    result = index_root(root)
    assert result.ok, result.to_dict()
    assert entries(root)["ps.tar.gz"]["status"] == "indexed"


@POSIX
def test_a_fifo_or_a_folder_named_like_an_archive_is_reported(root: Path) -> None:
    """Issue 18: a FIFO or directory named *.tar in _incoming was silently ignored."""
    os.mkfifo(root / "_incoming" / "pipe.tar")
    (root / "_incoming" / "folder.tar.gz").mkdir()
    good(root)
    result = run("index", str(root), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert {(s["name"], s["reason"].split(" named")[0]) for s in report["skipped"]} == {
        ("pipe.tar", "a FIFO"), ("folder.tar.gz", "a folder")}
    log = (root / "_logs/indexer.log").read_text()
    assert "ERROR pipe.tar: a FIFO" in log and "ERROR folder.tar.gz: a folder" in log
    assert entries(root)["good.tar.gz"]["status"] == "indexed"


# --------------------------------------------------------------------------- log lines and terminals


def test_member_and_file_names_never_forge_log_lines_nor_reach_the_terminal_raw(root: Path) -> None:
    """Issue 18: names with newlines or ANSI escapes forged lines in indexer.log."""
    forged = "x\n2026-05-28T00:00:00Z INFO fake.tar.gz: extracted\x1b[2J\x1b[31m"
    m = session_members("inj")
    put(root, "inj.tar.gz", tar_bytes(m, extra=[special(forged, tarfile.CHRTYPE)]))
    (root / "_incoming" / "evil\n2026 INFO x\x1b[0m.tar").write_bytes(b"not an archive")
    result = run("index", str(root))
    assert result.exit_code == 1
    log = (root / "_logs/indexer.log").read_text()
    assert "\x1b" not in log and "\x1b" not in result.output + result.stderr
    lines = log.splitlines()
    assert all(line[:4].isdigit() and line[4] == "-" for line in lines), lines
    assert len(lines) == 2  # one verdict, one skipped name: nothing forged
    assert printable(forged) in log
    reason = entries(root)["inj.tar.gz"]["reason"]
    assert "\n" not in reason and "\\x0a" in reason and "device_file" in reason


# --------------------------------------------------------------------------- full disk, long names


def _unshare_available() -> bool:
    if not shutil.which("unshare") or os.name != "posix":
        return False
    done = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /tmp && true"],
                          capture_output=True)
    return done.returncode == 0


def _index_on_a_small_disk(root: Path, size: str) -> subprocess.CompletedProcess:
    """`lume index ROOT` with `_processed` on a small tmpfs (a user namespace, no root needed),
    else with a file-size limit (RLIMIT_FSIZE: EFBIG, what a quota gives)."""
    (root / "_processed").mkdir(exist_ok=True)
    # an explicit limit: the default (half the free space) would refuse the archive before
    cli = [sys.executable, "-m", "lume.runtime.cli", "index", str(root), "--json", "--max-bytes", str(10 ** 9)]
    if _unshare_available():
        script = f'mount -t tmpfs -o size={size} tmpfs "$1" && shift && exec "$@"'
        return subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", str(root / "_processed"), *cli],
                              capture_output=True, timeout=300)
    import resource
    import signal

    def cap() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8 * 1024, 8 * 1024))
    return subprocess.run(cli, capture_output=True, timeout=300, preexec_fn=cap)


@POSIX
def test_a_full_disk_says_so_and_the_archive_is_retried(root: Path) -> None:
    """Issue 18: a full disk marked good archives `corrupt`."""
    good(root)
    done = _index_on_a_small_disk(root, "8k")
    assert done.returncode == 1, done.stderr.decode()
    e = entries(root)["good.tar.gz"]
    assert e["status"] == "pending", e
    assert "no space left" in e["reason"] and "the archive is fine" in e["reason"]
    assert "corrupt" not in e["reason"]
    # with room on the disk, the next run indexes it
    assert index_root(root).ok
    assert entries(root)["good.tar.gz"]["status"] == "indexed"


def test_a_name_too_long_for_the_filesystem_is_refused_as_such(root: Path) -> None:
    m = session_members("long")
    put(root, "long.tar.gz", tar_bytes({**m, "logs/" + "n" * 300 + ".log": b"x"}))
    index_root(root)
    e = entries(root)["long.tar.gz"]
    assert e["status"] == "refused" and "name_too_long" in e["reason"], e


# --------------------------------------------------------------------------- index crash window


def test_a_crash_between_index_jsonl_and_index_json_never_duplicates_history(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good(root)
    import lume.runtime.storage._index as index_module

    real = index_module.write_bytes

    def dying(path, data):
        if Path(path).name == "index.json":
            raise KeyboardInterrupt("killed between the two files")
        return real(path, data)
    monkeypatch.setattr(index_module, "write_bytes", dying)
    with pytest.raises(KeyboardInterrupt):
        index_root(root, clock=fixed(100))
    assert (root / "index.jsonl").exists() and not (root / "index.json").exists()
    monkeypatch.setattr(index_module, "write_bytes", real)
    index_root(root, clock=fixed(200))
    history = [json.loads(line) for line in (root / "index.jsonl").read_text().splitlines()]
    assert len(history) == 1
    assert entries(root)["good.tar.gz"] == history[0]
    assert validate_file(root / "index.json").ok


# --------------------------------------------------------------------------- links in _processed


@POSIX
def test_a_link_to_its_parent_inside_processed_is_reported_by_index_and_verify(tmp_path: Path) -> None:
    """Issue 18: such a link passed `index` and `verify` but made `bundle export` refuse."""
    root = arrived(tmp_path)
    index_root(root, root_name=K11_ROOT)
    logs = next((root / "_processed").glob("*/sources/mac4_tier0/logs"))
    (logs / "up").symlink_to("..", target_is_directory=True)
    result = run("index", str(root), "--json")
    assert result.exit_code == 1
    links = json.loads(result.stdout)["links"]
    assert [item["path"].rsplit("/", 1)[-1] for item in links] == ["up"] and "loop" in links[0]["reason"]
    from lume.verifiers import run as verify

    check = next(c for c in verify(root, only=["storage.integrity"]).checks)
    assert check.status == "fail"
    assert any(e.file.endswith("logs/up") and "loop" in e.message for e in check.failures)


def test_an_archive_member_linking_to_its_own_folder_is_refused(root: Path) -> None:
    m = session_members("loop")
    put(root, "loop.tar.gz", tar_bytes(m, extra=[special("logs/again", tarfile.SYMTYPE, "..")]))
    index_root(root)
    e = entries(root)["loop.tar.gz"]
    assert e["status"] == "refused" and "link_loop" in e["reason"]


# --------------------------------------------------------------------------- default size limit


def test_the_default_expansion_limit_follows_the_free_space(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18: the 512 GiB default let a 3 KB sparse tar write 4 GiB."""
    import lume.runtime.storage._policy as policy

    good(root)
    monkeypatch.setattr(policy.shutil, "disk_usage", lambda _path: shutil._ntuple_diskusage(10 ** 9, 0, 20000))
    result = index_root(root)
    assert result.max_bytes == 10000  # half of the free 20000 bytes (SAFE-ARCHIVE-EXTRACT)
    e = entries(root)["good.tar.gz"]
    assert e["status"] == "refused" and "more than the limit of 10000 bytes" in e["reason"]
    assert index_root(root, max_bytes=10 ** 9).ok  # an explicit --max-bytes decides


# --------------------------------------------------------------------------- member digests (issue 19)


def test_member_digests_are_recorded_while_extracting_and_verify_uses_them(tmp_path: Path) -> None:
    from lume.verifiers import run as verify

    root = arrived(tmp_path)
    index_root(root, root_name=K11_ROOT)
    for name, entry in entries(root).items():
        members_rel = entry["members_file"].replace("\\", "/").split("/_members/")[-1]
        members = root / "_members" / members_rel
        doc = json.loads(members.read_text())
        assert validate_file(members).ok and doc["archive_sha256"] == entry["archive_sha256"]
        assert sha(members.read_bytes()) == entry["members_sha256"]
        if (root / "_manifests" / f"{name}.json").exists():  # a sidecar archive may come without one
            manifest = json.loads((root / "_manifests" / f"{name}.json").read_text())
            assert {(c["path"], c["sha256"], c["byte_size"]) for c in manifest["contents"]} == \
                {(m["path"], m["sha256"], m["byte_size"]) for m in doc["members"]}

    def transport_messages(deep: bool) -> list[str]:
        check = verify(root, only=["storage.integrity"], deep=deep).checks[0]
        assert check.status == "pass", [e.message for e in check.failures]
        return [e.message for e in check.evidence if "transport manifest" in e.message]
    assert all("recorded while it was extracted" in m for m in transport_messages(False))
    assert all("read again (--deep)" in m for m in transport_messages(True))

    tampered = next((root / "_members").iterdir())
    doc = json.loads(tampered.read_text())
    doc["members"][0]["sha256"] = "0" * 64
    tampered.write_text(json.dumps(doc))
    check = verify(root, only=["storage.integrity"]).checks[0]
    assert check.status == "fail"
    assert any("members file no longer matches" in e.message for e in check.failures)


# --------------------------------------------------------------------------- BagIt


def _bag(tmp_path: Path) -> Path:
    import bagit

    folder = tmp_path / "bag"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_text("hello\n")
    bagit.make_bag(str(folder), checksums=["sha256"])
    return folder


def test_bag_validate_refuses_a_fetch_entry_missing_from_the_manifests(tmp_path: Path) -> None:
    """Issue 18 / RFC 8493 2.2.3: every fetched file is in every payload manifest."""
    import bagit

    folder = _bag(tmp_path)
    (folder / "fetch.txt").write_text("https://example.org/b.bin 5 data/b.bin\n")
    bagit.Bag(str(folder)).save()  # tag manifests cover fetch.txt
    result = run("bag", "validate", str(folder), "--json")
    assert result.exit_code == 1
    errors = json.loads(result.stdout)["errors"]
    assert any("fetch.txt lists data/b.bin" in e and "2.2.3" in e for e in errors), errors


def test_bag_validate_lists_a_huge_manifest_bounded(tmp_path: Path) -> None:
    """Issue 18: a 300k-line manifest did not finish in 30 s (925 MB). Every line is still
    checked; past 1000 the messages are counted (benches/bench_storage.py measures 300k)."""
    folder = _bag(tmp_path)
    digest = sha(b"hello\n")
    with open(folder / "manifest-sha256.txt", "a") as fh:
        for i in range(5000):
            fh.write(f"{digest}  data/missing/{i:06d}.bin\n")
    result = run("bag", "validate", str(folder), "--json")
    assert result.exit_code == 1
    errors = json.loads(result.stdout)["errors"]
    assert len(errors) == 1001 and errors[-1].startswith("… and ") and "more errors" in errors[-1]


# --------------------------------------------------------------------------- sidecar bytes, fuzzed


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DIGEST = "ab" * 32


@given(st.one_of(
    st.binary(max_size=300),
    st.sampled_from([f"{DIGEST}  a.tar.gz\n", f"{DIGEST.upper()} *a.tar.gz\r\n", DIGEST]).flatmap(
        lambda line: st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "latin-1"]).map(
            lambda enc: line.encode(enc))),
))
def test_any_sidecar_bytes_give_a_digest_or_one_reason(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    """A sidecar is bytes from another machine: whatever they are, reading it gives the digest or a
    ValueError with a one-line reason, never another exception."""
    from lume.runtime.storage import read_sidecar

    path = tmp_path_factory.mktemp("sidecar") / "a.tar.gz.sha256"
    path.write_bytes(data)
    try:
        digest = read_sidecar(path, "a.tar.gz")
    except ValueError as exc:
        assert "\n" not in str(exc)  # one line, whatever the bytes
        return
    assert len(digest) == 64 and digest == digest.lower()


@POSIX
def test_a_linked_or_oversized_or_too_deep_transport_manifest_is_refused_by_its_input_limits_row(root: Path) -> None:
    """The indexer reads a transport manifest through core's bounded reader with input_limits.v1's
    `transport_manifest` row: a final symbolic link is refused (never followed), and so is a
    manifest nested deeper than the row's `max_depth`."""
    from lume.runtime.core import input_limit

    row = input_limit("transport_manifest")
    names = {}
    for kind in ("linked", "deep"):
        m = session_members(kind)
        data = tar_bytes(m)
        name = names[kind] = f"{kind}.tar.gz"
        put(root, name, data, members=m, session_id=kind)
        manifest = root / "_manifests" / f"{name}.json"
        if kind == "linked":
            real = root / f"{name}.elsewhere.json"
            manifest.rename(real)
            manifest.symlink_to(real)
        else:
            manifest.write_text('{"nested": ' + "[" * (row.max_depth + 1) + "]" * (row.max_depth + 1) + "}")
    index_root(root)
    got = entries(root)
    assert got[names["linked"]]["status"] == "refused" and "a symbolic link" in got[names["linked"]]["reason"]
    assert got[names["deep"]]["status"] == "refused"
    assert f"nested deeper than {row.max_depth} levels" in got[names["deep"]]["reason"]


@given(prefix=st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=64).map(str.encode),
       extra=st.integers(min_value=1, max_value=512))
def test_a_sidecar_line_over_the_input_limits_line_limit_is_refused(
        tmp_path_factory: pytest.TempPathFactory, prefix: bytes, extra: int) -> None:
    """input_limits.v1 `checksum_sidecar` bounds a line (`max_line_bytes`), not only the file."""
    from lume.runtime.core import input_limit
    from lume.runtime.storage import read_sidecar

    cap = input_limit("checksum_sidecar").max_line_bytes
    path = tmp_path_factory.mktemp("sidecar") / "a.tar.gz.sha256"
    path.write_bytes(f"{DIGEST}  a.tar.gz\n".encode() + prefix + b"x" * (cap + extra) + b"\n")
    with pytest.raises(ValueError, match=r"line limit for checksum_sidecar inputs \[input_limits.v1\]"):
        read_sidecar(path, "a.tar.gz")


def test_a_lost_members_file_is_reported_and_the_next_index_records_it_again(tmp_path: Path) -> None:
    from lume.verifiers import run as verify

    root = arrived(tmp_path)
    index_root(root, root_name=K11_ROOT)
    lost = next((root / "_members").glob("*.tar.gz.json"))
    data = lost.read_bytes()
    lost.unlink()
    check = verify(root, only=["storage.integrity"]).checks[0]
    assert check.status == "fail" and any("missing" in e.message for e in check.failures)
    index_root(root, root_name=K11_ROOT)
    assert lost.read_bytes() == data
    assert verify(root, only=["storage.integrity"]).checks[0].status == "pass"


@POSIX
@pytest.mark.parametrize("kind", ["fifo", "link to /dev/zero"])
def test_bag_validate_never_reads_a_fifo_or_a_device_in_the_payload(tmp_path: Path, kind: str) -> None:
    """Issue 18: a FIFO in place of a bag's data/ file hung `bag validate`; /dev/zero never ends."""
    folder = _bag(tmp_path)
    if kind == "fifo":
        os.mkfifo(folder / "data/odd.bin")
    else:
        (folder / "data/odd.bin").symlink_to("/dev/zero")
    with open(folder / "manifest-sha256.txt", "a") as fh:
        fh.write(f"{sha(b'')}  data/odd.bin\n")
    done = subprocess.run([sys.executable, "-m", "lume.runtime.cli", "bag", "validate", str(folder), "--json"],
                          capture_output=True, timeout=120)
    assert done.returncode == 1, done.stderr.decode()
    errors = json.loads(done.stdout)["errors"]
    expect = "data/odd.bin is a FIFO" if kind == "fifo" else 'Path "data/odd.bin" in manifest'
    assert any(expect in e for e in errors), errors
