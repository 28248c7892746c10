"""BagIt export of a rehearsal bundle (RFC 8493 via bagit-python) and `lume bag validate`."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import bagit
import pytest
from click.testing import CliRunner

from lume.runtime.cli import main
from lume.runtime.core import get
from lume.runtime.core._jsonl import InputError
from lume.runtime.storage._bagit_io import check_bag, export_bag, validate_bag

BUNDLE_ID = "20260528-weighted-freestyle-01"


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root with its bytes, mode and mtime: any change shows."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        out[p.relative_to(root).as_posix()] = (
            p.read_bytes() if p.is_file() else None, st.st_mode, st.st_mtime_ns)
    return out


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A small bundle folder: bundle.json (the contract's example), sources, derived, reports."""
    root = tmp_path / "_processed" / BUNDLE_ID
    doc = json.loads(json.dumps(get("rehearsal_bundle.v1").examples[0]))
    # copied into the bundle here (reference exports: tests/storage/test_real_rig.py)
    doc["sources"][1]["storage"] = "copy"
    files = {
        "bundle.json": json.dumps(doc, indent=2) + "\n",
        "README.md": "# bundle\n",
        "sources/mac4_tier0/session.json": "{}\n",
        "sources/mac4_tier0/raw/video/webcam_main.mp4": "not really a video " * 50,
        "sources/mac4_tier0/raw/labels/labels.jsonl": '{"t_s": 1, "label": "wave_color", "event": "marker", "source": "keyboard"}\n',
        "sources/k11_pose_coach/s 001/frames/raw/frame 0001.png": "png",
        "sources/k11_pose_coach/s 001/notes/Núñez.txt": "unicode name",
        "derived/sam3d/summary.json": "{}\n",
        "reports/bundle_summary.md": "ok\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_export_writes_a_valid_rfc8493_bag_with_both_manifests(bundle: Path, tmp_path: Path) -> None:
    out = export_bag(bundle, tmp_path / "exports" / f"{BUNDLE_ID}.bag")
    assert (out / "bagit.txt").read_text() == "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    for name in ("manifest-sha256.txt", "manifest-sha512.txt",
                 "tagmanifest-sha256.txt", "tagmanifest-sha512.txt", "bag-info.txt"):
        assert (out / name).is_file(), name
    bag = bagit.Bag(str(out))
    assert bag.version_info == (1, 0)
    assert bag.info["External-Identifier"] == BUNDLE_ID
    assert bag.info["Bag-Group-Identifier"] == BUNDLE_ID
    assert bag.is_valid()
    assert set(bag.algorithms) == {"sha256", "sha512"}
    # the payload is the bundle byte for byte
    for rel, (data, _mode, _mtime) in snapshot(bundle).items():
        if data is not None:
            assert (out / "data" / rel).read_bytes() == data, rel
    check = check_bag(out)
    assert check.errors == [] and check.warnings == []
    assert validate_bag(out) == []


def test_export_never_modifies_the_bundle(bundle: Path, tmp_path: Path) -> None:
    before = snapshot(bundle)
    export_bag(bundle, tmp_path / "bag")
    assert snapshot(bundle) == before


def test_export_of_a_read_only_bundle_works_and_leaves_it_read_only(bundle: Path, tmp_path: Path) -> None:
    paths = [bundle, *bundle.rglob("*")]
    for p in sorted(paths, key=lambda p: -len(p.parts)):
        p.chmod(stat.S_IREAD | (stat.S_IEXEC if p.is_dir() else 0))
    try:
        before = snapshot(bundle)
        out = export_bag(bundle, tmp_path / "bag")
        assert validate_bag(out) == []
        assert snapshot(bundle) == before
    finally:
        for p in paths:
            p.chmod(stat.S_IRWXU)


def test_export_refuses_an_existing_output_and_leaves_it(bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "bag"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="already exists"):
        export_bag(bundle, out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    # an empty folder is filled
    empty = tmp_path / "empty"
    empty.mkdir()
    assert validate_bag(export_bag(bundle, empty)) == []


def test_export_refuses_bad_inputs_and_leaves_nothing_behind(bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="inside the bundle"):
        export_bag(bundle, bundle / "exports" / "bag")
    assert not (bundle / "exports").exists()
    with pytest.raises(InputError, match="not a rehearsal bundle"):
        export_bag(tmp_path / "nowhere", tmp_path / "out1")
    (bundle / "bundle.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        export_bag(bundle, tmp_path / "out2")
    assert not any(p.name.startswith((".out", "out")) for p in tmp_path.iterdir())


def test_export_refuses_symbolic_links(bundle: Path, tmp_path: Path) -> None:
    os.symlink("/etc/passwd", bundle / "sources" / "link")
    with pytest.raises(InputError, match="symbolic link"):
        export_bag(bundle, tmp_path / "bag")
    assert not (tmp_path / "bag").exists()


def test_validation_reports_every_error_of_a_tampered_bag(bundle: Path, tmp_path: Path) -> None:
    out = export_bag(bundle, tmp_path / "bag")
    (out / "data/derived/sam3d/summary.json").write_text('{"changed": true}\n')
    (out / "data/README.md").unlink()
    (out / "data/sources/extra.txt").write_text("smuggled")
    errors = validate_bag(out)
    text = "\n".join(errors)
    assert "Payload-Oxum validation failed" in text
    assert "data/README.md exists in manifest but was not found" in text
    assert "data/sources/extra.txt exists on filesystem but is not in the manifest" in text
    assert "data/derived/sam3d/summary.json sha256 validation failed" in text
    assert "data/derived/sam3d/summary.json sha512 validation failed" in text
    # a missing file is reported once, not also as a checksum failure
    assert not any("README.md sha" in e for e in errors)

    result = CliRunner().invoke(main, ["bag", "validate", "--json", str(out)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False and report["errors"] == errors
    # completeness only: no hashing, but the missing and extra files are still found
    partial = validate_bag(out, completeness_only=True)
    assert not any("validation failed" in e and "sha" in e for e in partial)
    assert any("README.md" in e for e in partial) and any("extra.txt" in e for e in partial)


def test_bag_validate_cli_exit_codes(bundle: Path, tmp_path: Path) -> None:
    out = export_bag(bundle, tmp_path / "bag")
    ok = CliRunner().invoke(main, ["bag", "validate", str(out)])
    assert ok.exit_code == 0 and "valid" in ok.stdout
    assert CliRunner().invoke(main, ["bag", "validate", "--fast", str(out)]).exit_code == 0
    for target in (tmp_path / "missing", bundle / "README.md", bundle / "sources"):
        result = CliRunner().invoke(main, ["bag", "validate", str(target)])
        assert result.exit_code == 2, (target, result.output)
    both = CliRunner().invoke(main, ["bag", "validate", "--fast", "--completeness-only", str(out)])
    assert both.exit_code == 2
    (out / "bagit.txt").unlink()  # a broken bag is invalid, not "not a bag"
    broken = CliRunner().invoke(main, ["bag", "validate", "--json", str(out)])
    assert broken.exit_code == 1 and "bagit.txt" in json.loads(broken.stdout)["errors"][0]
