"""The K11 indexer: safe extraction, refused archives, idempotence, crash recovery, exit codes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import textwrap
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
from lume.runtime.core import validate_file
from lume.runtime.core._time import fixed
from lume.runtime.storage import index_root, sha256_file, sha256_files
from lume.runtime.storage._checksum import parse_sidecar


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def entries(root: Path) -> dict[str, dict]:
    return {e["archive_name"]: e for e in json.loads((root / "index.json").read_text())["entries"]}


def valid_index(root: Path) -> None:
    for name in ("index.json", "index.jsonl"):
        result = validate_file(root / name)
        assert result.ok, [str(p) for p in result.problems]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "dance-sessions"
    (r / "_incoming").mkdir(parents=True)
    return r


# --------------------------------------------------------------------------- happy path


def test_route_smoke_archives_are_indexed_into_the_bundle_layout(tmp_path: Path) -> None:
    root = arrived(tmp_path)
    incoming = tree(root / "_incoming")
    result = index_root(root, clock=fixed(1780000000), root_name=K11_ROOT)
    assert result.ok and result.exit_code == 0
    assert result.counts == {"total": 5, "indexed": 5, "refused": 0, "corrupt": 0, "missing_checksum": 0,
                             "pending": 0}
    main_dir = root / "_processed" / "20260528-weighted-freestyle-01"
    assert (main_dir / "sources/mac4_tier0/session.json").is_file()  # the <session>/ top folder is stripped
    assert (main_dir / "sources/mac4_tier0/raw/video/webcam_main.mp4").is_file()
    assert (main_dir / "sources/motionmix/motionmix_state.jsonl").is_file()
    assert (main_dir / "sources/mocopi/skeleton.jsonl").is_file()
    assert (root / "_processed/20260529-route-smoke-02/sources/mac4_tier0/logs/recorder.log").is_file()
    valid_index(root)
    assert tree(root / "_incoming") == incoming  # byte for byte, mtimes too
    log = (root / "_logs/indexer.log").read_text()
    assert log.count("INFO") == 5 and "extracted into" in log
    # sidecars: the one inside the Mac4 archive and the sidecar archive without a transport
    # manifest both land in the bundle's derived folders, not in a source folder or a bundle of their own
    assert (main_dir / "derived/mac4_first/device_topology.json").is_file()
    assert (main_dir / "derived/reconstruction/device_topology.json").is_file()
    assert not (main_dir / "sources/mac4_tier0/derived").exists()
    assert sorted(p.name for p in (root / "_processed").iterdir()) == [
        "20260528-weighted-freestyle-01", "20260529-route-smoke-02"]


def test_rerun_rewrites_nothing_and_incoming_is_never_touched(tmp_path: Path) -> None:
    root = arrived(tmp_path)
    index_root(root, clock=fixed(1780000000))
    before = tree(root)
    again = index_root(root, clock=fixed(1790000000))
    assert again.ok and again.written == [] and again.extracted == []
    assert tree(root) == before  # no byte and no mtime changed


def test_cli_index_exit_codes(tmp_path: Path, root: Path) -> None:
    assert run("index", str(tmp_path / "nowhere")).exit_code == 2
    (tmp_path / "plain").mkdir()
    bad = run("index", str(tmp_path / "plain"))
    assert bad.exit_code == 2 and "no _incoming/" in bad.output
    put(root, "s1.tar.gz", tar_bytes(session_members("s1")), members=session_members("s1"), session_id="s1")
    ok = run("index", str(root), "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["counts"]["indexed"] == 1
    put(root, "s2.tar.gz", tar_bytes(session_members("s2")), sidecar=None)
    refused = run("index", str(root))
    assert refused.exit_code == 1 and "missing_checksum" in refused.output


def test_a_bad_index_json_is_bad_input(root: Path) -> None:
    (root / "index.json").write_text("{not json")
    result = run("index", str(root))
    assert result.exit_code == 2 and "index.json" in result.output


# --------------------------------------------------------------------------- refused / corrupt


GOOD = session_members("good")


def hostile_cases() -> dict[str, tuple[bytes, str, str]]:
    """archive name -> (bytes, expected status, reason fragment)."""
    m = session_members("x")
    return {
        "absolute.tar": (tar_bytes({**m, "/etc/evil": b"x"}, gz=False), "refused", "absolute_path"),
        "dotdot.tar.gz": (tar_bytes({**m, "raw/../../evil.sh": b"x"}), "refused", "parent_traversal"),
        "symlink.tgz": (tar_bytes(m, extra=[special("raw/escape", tarfile.SYMTYPE, "../../../etc/passwd")]),
                        "refused", "link_outside"),
        "symlink_abs.tar.gz": (tar_bytes(m, extra=[special("raw/abs", tarfile.SYMTYPE, "/etc/passwd")]),
                               "refused", "link_outside"),
        "through_link.tar.gz": (tar_bytes(m, extra=[special("lnk", tarfile.SYMTYPE, "raw"),
                                                    special("lnk/x.txt", tarfile.REGTYPE, size=3)]),
                                "refused", "through the link"),
        "hardlink.tar.gz": (tar_bytes(m, extra=[special("raw/hard", tarfile.LNKTYPE, "../outside")]),
                            "refused", "hardlink_outside"),
        "hardlink_missing.tar.gz": (tar_bytes(m, extra=[special("raw/hard", tarfile.LNKTYPE, "not/there")]),
                                    "refused", "hardlink_outside"),
        "device.tar.gz": (tar_bytes(m, extra=[special("dev/sda", tarfile.CHRTYPE)]), "refused", "device_file"),
        "fifo.tar.gz": (tar_bytes(m, extra=[special("pipe", tarfile.FIFOTYPE)]), "refused", "fifo"),
        "duplicate.tar.gz": (tar_bytes(m, extra=[special("session.json", tarfile.REGTYPE, size=2)]),
                             "refused", "duplicate_path"),
        "zipslip.zip": (zip_data({**m, "../evil.txt": b"x"}), "refused", "parent_traversal"),
        "ziplink.zip": (zip_data(m, links={"raw/escape": "../../../../etc"}), "refused", "link_outside"),
        "nolayout.tar.gz": (tar_bytes({"notes.txt": b"hello"}), "refused", "no source of bundle_layout.v1"),
        "truncated.tar.gz": (tar_bytes(m)[:-4000], "corrupt", "cannot read"),
        "truncated.tar": (tar_bytes(m, gz=False)[:30000], "corrupt", "unexpected end of data"),
        "notanarchive.zip": (b"PK\x03\x04 this is not really a zip file", "corrupt", "cannot read"),
    }


def test_every_hostile_or_broken_archive_is_recorded_and_the_others_still_index(root: Path) -> None:
    cases = hostile_cases()
    for name, (data, _, _) in cases.items():
        put(root, name, data)
    put(root, "good.tar.gz", tar_bytes(GOOD), members=GOOD, session_id="good")
    put(root, "nosum.tar.gz", tar_bytes(session_members("nosum")), sidecar=None)
    put(root, "badsum.tar.gz", tar_bytes(session_members("badsum")), sidecar=f"{'0' * 64}  badsum.tar.gz\n")
    put(root, "garbledsum.tar.gz", tar_bytes(session_members("garbled")), sidecar="hello world\n")
    incoming = tree(root / "_incoming")

    result = index_root(root, max_bytes=10 ** 9, max_members=1000)

    got = entries(root)
    assert got["good.tar.gz"]["status"] == "indexed"
    assert (root / "_processed/good/sources/mac4_tier0/session.json").is_file()
    for name, (_, status, reason) in cases.items():
        assert got[name]["status"] == status, (name, got[name])
        assert reason in got[name]["reason"], (name, got[name]["reason"])
        assert got[name]["processed_path"] is None
    assert got["nosum.tar.gz"]["status"] == "missing_checksum"
    assert got["badsum.tar.gz"]["status"] == "corrupt" and "does not match" in got["badsum.tar.gz"]["reason"]
    assert got["garbledsum.tar.gz"]["status"] == "corrupt" and "sha256sum format" in got["garbledsum.tar.gz"]["reason"]
    assert result.exit_code == 1
    # nothing of a refused archive was extracted, no staging folder left, nothing written outside
    assert sorted(p.name for p in (root / "_processed").iterdir()) == ["good"]
    assert no_partial(root)
    assert not (root.parent / "evil.sh").exists() and not (root.parent / "evil.txt").exists()
    assert tree(root / "_incoming") == incoming
    log = (root / "_logs/indexer.log").read_text()
    for name in [*cases, "nosum.tar.gz", "badsum.tar.gz"]:
        assert f"ERROR {name}:" in log
    valid_index(root)
    # a rerun keeps the verdicts without rewriting them
    before = tree(root)
    assert index_root(root, max_bytes=10 ** 9, max_members=1000).written == []
    assert tree(root) == before


def test_size_and_member_limits(root: Path) -> None:
    m = session_members("big")
    put(root, "big.tar.gz", tar_bytes(m))
    result = index_root(root, max_bytes=1000)
    e = entries(root)["big.tar.gz"]
    assert e["status"] == "refused" and "more than the limit of 1000" in e["reason"]
    result = run("index", str(root), "--max-members", "2", "--json")
    assert result.exit_code == 1
    assert "more than the limit of 2" in entries(root)["big.tar.gz"]["reason"]
    assert run("index", str(root)).exit_code == 0  # default limits (SAFE-ARCHIVE-EXTRACT) admit it
    assert entries(root)["big.tar.gz"]["status"] == "indexed"


def test_transport_manifest_is_validated_and_checked_against_the_archive(root: Path) -> None:
    m = session_members("t1")
    data = tar_bytes(m)
    put(root, "t1.tar.gz", data, manifest={"schema": "lume.transport_manifest.v1", "session_id": "t1"})
    lying = {**m, "session.json": b"{}"}
    put(root, "t2.tar.gz", tar_bytes(m), members=lying, session_id="t2")  # contents disagree
    put(root, "t3.tar.gz", tar_bytes(m), members=m, session_id="t3")
    manifest = json.loads((root / "_manifests/t3.tar.gz.json").read_text())
    manifest["archive_sha256"] = "f" * 64
    (root / "_manifests/t3.tar.gz.json").write_text(json.dumps(manifest))
    index_root(root)
    got = entries(root)
    assert got["t1.tar.gz"]["status"] == "refused"
    assert "transport manifest invalid" in got["t1.tar.gz"]["reason"] and "transport_manifest.v1" in got["t1.tar.gz"]["reason"]
    assert got["t2.tar.gz"]["status"] == "corrupt" and "session.json differs" in got["t2.tar.gz"]["reason"]
    assert got["t3.tar.gz"]["status"] == "corrupt" and "archive_sha256" in got["t3.tar.gz"]["reason"]
    assert no_partial(root) and not any((root / "_processed").iterdir())


def test_a_fixed_sidecar_turns_a_corrupt_verdict_into_indexed(root: Path) -> None:
    m = session_members("fix")
    data = tar_bytes(m)
    put(root, "fix.tar.gz", data, sidecar=f"{'a' * 64}  fix.tar.gz\n")
    index_root(root, clock=fixed(100))
    assert entries(root)["fix.tar.gz"]["status"] == "corrupt"
    (root / "_incoming/fix.tar.gz.sha256").write_text(f"{sha(data)}  fix.tar.gz\n")
    index_root(root, clock=fixed(200))
    e = entries(root)["fix.tar.gz"]
    assert e["status"] == "indexed" and e["indexed_at_unix"] == 200
    history = [json.loads(line) for line in (root / "index.jsonl").read_text().splitlines()]
    assert [r["status"] for r in history] == ["corrupt", "indexed"]


def test_an_existing_folder_that_differs_is_never_overwritten(root: Path) -> None:
    m = session_members("s")
    put(root, "s.tar.gz", tar_bytes(m), members=m, session_id="s")
    target = root / "_processed/s/sources/mac4_tier0"
    target.mkdir(parents=True)
    (target / "session.json").write_text("{}")
    index_root(root)
    e = entries(root)["s.tar.gz"]
    assert e["status"] == "refused" and "left untouched" in e["reason"]
    assert (target / "session.json").read_text() == "{}"


# --------------------------------------------------------------------------- crash recovery


def test_staging_folder_left_by_a_crash_is_removed_and_the_run_completes(tmp_path: Path) -> None:
    root = arrived(tmp_path)
    staging = root / "_processed" / ".extract-20260528-weighted-freestyle-01.mac4_tier0.abc123" / "x"
    (staging / "raw/video").mkdir(parents=True)
    (staging / "raw/video/webcam_main.mp4").write_bytes(b"half a video")
    result = index_root(root)
    assert result.ok and result.cleaned == [".extract-20260528-weighted-freestyle-01.mac4_tier0.abc123"]
    assert no_partial(root)
    assert "removed staging folder" in (root / "_logs/indexer.log").read_text()


KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from lume.runtime.storage import _extract as extract, _indexer as indexer
    where = sys.argv[2]
    if where == "extract":
        real = extract._copy_stream
        calls = []
        def dying(src, dest, expected, member):
            calls.append(dest)
            if len(calls) == 2:  # a file half written, the folder half extracted
                with open(dest, "wb") as fh:
                    fh.write(src.read(10))
                os.kill(os.getpid(), signal.SIGKILL)
            return real(src, dest, expected, member)
        extract._copy_stream = dying
    else:  # after the rename, before the index is written
        def dying_index(*a, **k):
            os.kill(os.getpid(), signal.SIGKILL)
        indexer.write_index = dying_index
    indexer.index_root(Path(sys.argv[1]))
""")


@pytest.mark.parametrize("where", ["extract", "index"])
def test_kill_at_any_point_then_a_clean_rerun(tmp_path: Path, where: str) -> None:
    root = arrived(tmp_path)
    incoming = tree(root / "_incoming")
    proc = subprocess.run([sys.executable, "-c", KILLER, str(root), where], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    if where == "extract":
        assert not no_partial(root)  # the kill left a half-extracted staging folder
        assert not (root / "index.json").exists()
    else:
        assert (root / "_processed/20260528-weighted-freestyle-01/sources").is_dir()
        assert not (root / "index.json").exists()
    result = index_root(root, clock=fixed(1780000000), root_name=K11_ROOT)
    assert result.ok, result.to_dict()
    assert no_partial(root)
    # the state equals a clean run's
    clean = tmp_path / "clean"
    clean.mkdir()
    clean_root = arrived(clean)
    index_root(clean_root, clock=fixed(1780000000), root_name=K11_ROOT)
    got = {k: v[0] for k, v in tree(root / "_processed").items()}
    assert got == {k: v[0] for k, v in tree(clean_root / "_processed").items()}
    assert (root / "index.json").read_bytes() == (clean_root / "index.json").read_bytes()
    assert tree(root / "_incoming") == incoming
    valid_index(root)


# --------------------------------------------------------------------------- checksums


def test_sha256_helpers_agree_with_hashlib(tmp_path: Path) -> None:
    files = []
    for i, size in enumerate([0, 1, (1 << 20) - 1, (1 << 20) + 7, 3 << 20]):
        p = tmp_path / f"f{i}"
        p.write_bytes(os.urandom(size))
        files.append(p)
    import hashlib

    want = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    assert {str(p): sha256_file(p) for p in files} == want
    assert sha256_files(files) == want


def test_sidecar_formats() -> None:
    digest = "ab" * 32
    assert parse_sidecar(f"{digest}  a.tar.gz\n", "a.tar.gz") == digest
    assert parse_sidecar(f"{digest.upper()} *a.tar.gz\n", "a.tar.gz") == digest  # binary-mode marker
    assert parse_sidecar(f"{digest}\n", "a.tar.gz") == digest
    with pytest.raises(ValueError, match="names 'b.tar.gz'"):
        parse_sidecar(f"{digest}  b.tar.gz\n", "a.tar.gz")
    with pytest.raises(ValueError, match="empty"):
        parse_sidecar("\n", "a.tar.gz")
