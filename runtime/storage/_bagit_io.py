"""BagIt (RFC 8493) export and validation, through bagit-python.

The K11 canonical archive must be checkable by archival tools that know nothing of LUME, so a
rehearsal bundle exports as a plain BagIt 1.0 bag: the bundle folder under `data/`, sha256 and
sha512 payload and tag manifests, and `bag-info.txt` naming the bundle. Files the bundle keeps by
reference (a Pose Coach session on K11's Pose Coach root) go into `fetch.txt` (the BagIt
by-reference mechanism, RFC 8493 2.2.3: each listed in every payload manifest with its digests,
hashed where it lives and checked against bundle.json), or into the bag itself when asked
(`include_referenced`); `bag-info.txt` and the export's result say which. Validation is
bagit-python's, run stage by stage so that one report lists every error instead of stopping at
the first failed stage, plus the warnings bagit-python logs and a few portability checks it
does not make (see `_lint`).
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import stat
import tempfile
import unicodedata
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import bagit

from lume.generated.constants import INPUT_HASHED_FILE
from lume.runtime.core import InputError, open_input, read_json

# RFC 8493 section 2.4: tools MUST support SHA-256 and SHA-512; we write both.
ALGORITHMS = ("sha256", "sha512")
BAGIT_VERSION = "1.0"  # RFC 8493; bagit-python's make_bag writes 0.97, export_bag upgrades it
BUNDLE_MANIFEST = "bundle.json"
# Files operating systems drop into folders; a payload carrying them is probably an accident.
SYSTEM_FILES = {".ds_store", "thumbs.db", "desktop.ini", ".directory"}
WEAK_ALGORITHMS = {"md5", "sha1"}


class NotABag(InputError):
    """The path is missing, unreadable, or a folder with no trace of a bag (exit 2)."""


@dataclass
class BagCheck:
    """What `check_bag` found: every error (bag invalid when any) and every warning."""

    path: str
    mode: str  # full | fast | completeness
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "valid": self.valid}


# --------------------------------------------------------------------------- export


@dataclass
class BagExport:
    """An exported bag and what became of the files the bundle keeps by reference."""

    path: Path
    referenced: int = 0  # files the bundle keeps by reference
    mode: str = "none"  # fetch (listed in fetch.txt) | included (copied into the bag) | none

    def to_dict(self) -> dict[str, Any]:
        return {"bag": str(self.path), "referenced": self.referenced, "referenced_files": self.mode}


def export_bag(bundle_dir: Path, out: Path, *, include_referenced: bool = False,
               config: dict[str, Any] | None = None) -> Path:
    """Write the bundle at `bundle_dir` as a BagIt bag at `out`; returns `out` (see `export_bundle`)."""
    return export_bundle(bundle_dir, out, include_referenced=include_referenced, config=config).path


def _hashed(path: Path) -> tuple[str, str, int]:
    """(sha256, sha512, bytes) of a file, in one read."""
    import hashlib

    h256, h512, total = hashlib.sha256(), hashlib.sha512(), 0
    with open_input(path, INPUT_HASHED_FILE) as fh:  # a bundle file: never a FIFO or a device
        while chunk := fh.read(1 << 20):
            h256.update(chunk)
            h512.update(chunk)
            total += len(chunk)
    return h256.hexdigest(), h512.hexdigest(), total


def _referenced(bundle: dict[str, Any], config: dict[str, Any] | None,
                include: bool) -> list[tuple[Any, tuple[str, str | None, int]]]:
    """The bundle's referenced files with (sha256, sha512, bytes): hashed where they live when
    their root is mounted here (and then they must match bundle.json), else as bundle.json
    records them (no sha512: the bag then carries a sha256 manifest only). InputError when a
    reachable one changed, or when one must be included but cannot be reached."""
    from ._references import reference_roots, references

    out = []
    for ref in references(bundle, reference_roots(config)):
        if ref.local is None or not ref.local.is_file():
            if include:
                where = (f"root {ref.root.name} is not mounted on this machine" if ref.root and ref.local is None
                         else "on no reference root of storage_root.v2" if ref.root is None else "missing")
                raise InputError(f"{ref.recorded}: cannot include a referenced file that is not reachable "
                                 f"({where}); export without --include-referenced to list it in fetch.txt")
            if ref.local is not None:
                raise InputError(f"{ref.local}: referenced file missing on root {ref.root.name}")
            out.append((ref, (ref.sha256, None, ref.byte_size)))
            continue
        digests = _hashed(ref.local)
        if (digests[0], digests[2]) != (ref.sha256, ref.byte_size):
            raise InputError(f"{ref.local}: differs from bundle.json {ref.field} (sha256 {digests[0][:12]}…, "
                             f"{digests[2]} bytes; recorded {ref.sha256[:12]}…, {ref.byte_size} bytes)")
        out.append((ref, digests))
    return out


def export_bundle(bundle_dir: Path, out: Path, *, include_referenced: bool = False,
                  config: dict[str, Any] | None = None) -> BagExport:
    """Write the bundle at `bundle_dir` as a BagIt bag at `out`.

    The bundle is copied (never moved or modified) into `out/data/`. Files it keeps by
    reference are listed in `fetch.txt` with their digests in every payload manifest, or copied
    into the bag with `include_referenced`; either way each is hashed where it lives first (the
    reference roots this machine mounts, `config` or the machine configuration) and must match
    bundle.json. `out` must not exist yet (or be an empty folder) and must not lie inside the
    bundle. The bag is built in a sibling temporary folder and renamed into place, so a failure
    leaves no partial bag behind. Raises InputError for a missing or unreadable bundle, a
    referenced file that cannot be reached or changed, or an unusable `out`.
    """
    bundle_dir, out = Path(bundle_dir), Path(out)
    manifest = bundle_dir / BUNDLE_MANIFEST
    if not manifest.is_file():
        raise InputError(f"{bundle_dir}: not a rehearsal bundle (no {BUNDLE_MANIFEST})")
    bundle = read_json(manifest)
    bundle_id = bundle.get("bundle_id") if isinstance(bundle, dict) else None
    if not isinstance(bundle_id, str) or not bundle_id:
        raise InputError(f"{manifest}: $.bundle_id: missing or not a string [rehearsal_bundle.v1]")
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise InputError(f"{out}: already exists; refusing to overwrite it")
    if out.resolve().is_relative_to(bundle_dir.resolve()):
        raise InputError(f"{out}: inside the bundle {bundle_dir}; a bag must be written elsewhere")
    links = [p for p in bundle_dir.rglob("*") if p.is_symlink()]
    if links:
        raise InputError(f"{links[0]}: symbolic link in the bundle; a bag holds regular files only")
    referenced = _referenced(bundle, config, include_referenced)
    mode = ("included" if include_referenced else "fetch") if referenced else "none"
    result = BagExport(out, len(referenced), mode)
    # a file only bundle.json vouches for has no sha512 here: the bag lists sha256 only then
    algorithms = ALGORITHMS if all(d[1] for _r, d in referenced) or include_referenced else ("sha256",)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".bagging", dir=out.parent))
    try:
        work = staging / "bag"
        shutil.copytree(bundle_dir, work, copy_function=shutil.copyfile)
        _make_writable(work)
        if include_referenced:
            for ref, _digests in referenced:  # into the bag, where a copied session would be
                target = work / ref.bag_path.removeprefix("data/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(ref.local, target)
                if _hashed(target)[0] != ref.sha256:
                    raise InputError(f"{ref.local}: changed while it was copied into the bag")
        info = {
            "External-Identifier": bundle_id,
            "Bag-Group-Identifier": bundle_id,
            "External-Description": f"LUME rehearsal bundle {bundle_id} ({bundle.get('schema')})",
            "Source-Organization": "LUME",
        }
        if result.mode == "fetch":
            # kept by reference (seed 000: checksums instead of copies): fetched from where they live
            info["LUME-Referenced-Files"] = (f"{result.referenced} files bundle.json keeps by reference are "
                                             "listed in fetch.txt with their checksums in the manifests")
        elif result.mode == "included":
            info["LUME-Referenced-Files"] = (f"{result.referenced} files bundle.json keeps by reference are "
                                             "included in this bag")
        with _quiet_bagit():
            bagit.make_bag(str(work), bag_info=info, checksums=list(algorithms))
            if result.mode == "fetch":
                _add_fetched(work, referenced, algorithms)
            # make_bag declares BagIt 0.97; RFC 8493 is 1.0. Rewrite the declaration and let
            # bagit-python regenerate the tag manifests that cover it.
            (work / "bagit.txt").write_text(
                f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: UTF-8\n",
                encoding="utf-8")
            bagit.Bag(str(work)).save()
        if out.exists():
            out.rmdir()  # the empty folder we were allowed to fill
        os.replace(work, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _add_fetched(work: Path, referenced: list[tuple[Any, tuple[str, str | None, int]]],
                 algorithms: tuple[str, ...]) -> None:
    """List referenced files in fetch.txt and in every payload manifest, and count them in
    Payload-Oxum (the complete payload, once fetched); the tag manifests follow on save."""
    lines = {"sha256": [], "sha512": []}
    fetch = []
    size = 0
    for ref, (sha256, sha512, n) in referenced:
        lines["sha256"].append(f"{sha256}  {ref.bag_path}\n")
        if sha512:
            lines["sha512"].append(f"{sha512}  {ref.bag_path}\n")
        fetch.append(f"{ref.url} {n} {ref.bag_path}\n")
        size += n
    for alg in algorithms:
        with open(work / f"manifest-{alg}.txt", "a", encoding="utf-8") as fh:
            fh.writelines(lines[alg])
    (work / "fetch.txt").write_text("".join(fetch), encoding="utf-8")
    bag = bagit.Bag(str(work))
    octets, streams = (int(x) for x in str(bag.info["Payload-Oxum"]).split("."))
    bag.info["Payload-Oxum"] = f"{octets + size}.{streams + len(referenced)}"
    bag.save()


def _make_writable(root: Path) -> None:
    """bagit-python moves files into data/, so the copy must be writable whatever the source."""
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IWUSR | stat.S_IRUSR | (stat.S_IXUSR if path.is_dir() else 0))


# --------------------------------------------------------------------------- validation


def validate_bag(path: Path, fast: bool = False, completeness_only: bool = False) -> list[str]:
    """Every error of the bag at `path` (empty when valid). Warnings: see `check_bag`."""
    return check_bag(path, fast=fast, completeness_only=completeness_only).errors


def check_bag(path: Path, *, fast: bool = False, completeness_only: bool = False) -> BagCheck:
    """Validate a bag, collecting every error and warning.

    `fast` checks only Payload-Oxum (file count and bytes); `completeness_only` also checks
    that manifests and payload list the same files, without hashing. Raises NotABag when
    `path` is missing, not a folder, unreadable, or shows no sign of being a bag.
    """
    if fast and completeness_only:
        raise ValueError("fast and completeness_only are exclusive")
    path = Path(path)
    _require_bag_like(path)
    mode = "fast" if fast else "completeness" if completeness_only else "full"
    check = BagCheck(str(path), mode)
    errors, warnings = _Listed("errors"), _Listed("warnings")
    missing: set[str] = set()  # reported missing: not hashed again, not reported twice
    with _captured_bagit_log() as log:
        try:
            bag = _Bag(str(path))
        except PermissionError as exc:
            raise NotABag(f"{path}: unreadable: {exc}") from exc
        except (bagit.BagError, OSError, UnicodeError, ValueError) as exc:
            # bagit-python cannot even open it (no declaration, bad version, unsafe path …)
            errors.add(str(exc))
        else:
            for message in [*_declaration_problems(path), *_fetch_problems(bag)]:
                errors.add(message)
            _align_normalized_names(bag)
            for rel, what in _irregular(bag):
                # a FIFO never ends a read, /dev/zero never ends a hash: never opened (issue 18)
                errors.add(f"{rel} is {what}, not a file: not read")
                missing.add(rel)
            for stage in _stages(bag, fast, completeness_only):
                if missing and getattr(stage, "hashes", False):
                    # bagit-python would try to hash each missing file and report it again
                    for rel in missing:
                        bag.entries.pop(rel, None)
                try:
                    stage()
                except bagit.BagValidationError as exc:
                    for d in exc.details or []:
                        errors.add(str(d))
                        if isinstance(d, bagit.FileMissing):
                            missing.add(d.path)
                    if not exc.details:
                        errors.add(exc.message)
                except PermissionError as exc:
                    raise NotABag(f"{path}: unreadable: {exc}") from exc
                except (bagit.BagError, OSError, UnicodeError, ValueError) as exc:
                    errors.add(str(exc))
            lint = _lint(bag)
    # bagit-python logs each detail of a failure as a warning too: keep those as errors only.
    for level, message in log:
        if level >= logging.ERROR:
            errors.add(message)
    for level, message in log:
        if level == logging.WARNING and message not in errors:
            warnings.add(message)
    for message in locals().get("lint", []):
        warnings.add(message)
    check.errors, check.warnings = errors.listed(), warnings.listed()
    return check


class _Listed:
    """Messages in order, each once; past MAX_LISTED only counted (a 300k-line manifest gives
    300k "missing" messages: memory stays bounded, membership stays O(1))."""

    def __init__(self, what: str):
        self.what, self.items, self.seen, self.more = what, [], set(), 0

    def __contains__(self, message: str) -> bool:
        return hash(message) in self.seen

    def add(self, message: str) -> None:
        key = hash(message)
        if key in self.seen:
            return
        self.seen.add(key)
        if len(self.items) < MAX_LISTED:
            self.items.append(message)
        else:
            self.more += 1

    def listed(self) -> list[str]:
        return self.items + ([f"… and {self.more} more {self.what} of the same kinds"] if self.more else [])


MAX_LISTED = 1000  # messages of one kind listed; the rest are counted (a 300k-line manifest)


class _Bag(bagit.Bag):
    """bagit-python's Bag whose per-line path check stays linear on large manifests.

    bagit-python resolves the bag folder and every manifest path with `realpath` once per line
    (each component an lstat): a 300k-line manifest took minutes (issue 18). Resolving each
    folder once and only the last component of each path gives the same verdict: a path is
    unsafe when, symbolic links followed, it leads outside the bag."""

    def _path_is_dangerous(self, path: str) -> bool:
        if os.path.isabs(path) or os.path.expanduser(path) != path:
            return True
        cache: dict[str, str] = self.__dict__.setdefault("_real_dirs", {})
        bag_path = cache.get("") or cache.setdefault("", os.path.normpath(os.path.realpath(self.path)))
        head, tail = os.path.split(os.path.join(self.path, path))
        real_dir = cache.get(head)
        if real_dir is None:
            real_dir = cache[head] = os.path.realpath(head)
        full = os.path.join(real_dir, tail)
        if os.path.islink(full):
            full = os.path.realpath(full)
        return os.path.commonprefix((bag_path, os.path.normpath(full))) != bag_path


def _irregular(bag: bagit.Bag) -> list[tuple[str, str]]:
    """Payload entries that exist but are not regular files (or are links): (path, what)."""
    from ._inputs import kind_of

    found = []
    for rel in bag.entries:
        if not rel.startswith("data/"):
            continue
        try:
            mode = os.lstat(os.path.join(bag.path, rel)).st_mode
        except OSError:
            continue  # missing: completeness reports it
        if not stat.S_ISREG(mode):
            found.append((rel, kind_of(mode)))
    return found


def _fetch_problems(bag: bagit.Bag) -> list[str]:
    """RFC 8493 2.2.3: every file listed in fetch.txt MUST be listed in every payload manifest.
    bagit-python checks only that each URL is well formed."""
    try:
        fetched = [filename for _url, _size, filename in bag.fetch_entries()]
    except (bagit.BagError, OSError, UnicodeError, ValueError):
        return []  # the fetch stage reports an unreadable or unsafe fetch.txt itself
    found = []
    for alg in bag.algorithms:
        listed = {name for name, digests in bag.entries.items() if alg in digests}
        missing = [f for f in fetched if f not in listed]
        found += [f"fetch.txt lists {f}, which manifest-{alg}.txt does not (RFC 8493 2.2.3: every "
                  "fetched file is in every payload manifest)" for f in missing]
    return found


def _require_bag_like(path: Path) -> None:
    if not path.exists():
        raise NotABag(f"{path}: no such file or directory")
    if not path.is_dir():
        raise NotABag(f"{path}: not a directory (a bag is a folder)")
    try:
        names = os.listdir(path)
    except OSError as exc:
        raise NotABag(f"{path}: unreadable: {exc.strerror or exc}") from exc
    # A folder with a declaration, a manifest or a payload folder is a bag, however broken;
    # anything else is not a bag at all.
    if not any(n == "bagit.txt" or n == "data" or re.match(r"^(tag)?manifest-\w+\.txt$", n)
               for n in names):
        raise NotABag(f"{path}: not a bag (no bagit.txt, manifest-*.txt or data/)")


def _stages(bag: bagit.Bag, fast: bool, completeness_only: bool) -> list[Any]:
    """bagit-python's `Bag.validate`, split so that a failing stage does not hide the next."""
    stages = [bag._validate_structure, bag._validate_bagittxt, bag.validate_fetch]
    if fast:
        if not bag.has_oxum():
            def no_oxum() -> None:
                raise bagit.BagValidationError("Fast validation requires bag-info.txt to include Payload-Oxum")
            return [*stages, no_oxum]
        return [*stages, bag._validate_oxum]
    stages += [bag._validate_oxum, bag._validate_completeness]
    if not completeness_only:
        def entries() -> None:
            bag._validate_entries(1)
        entries.hashes = True  # type: ignore[attr-defined]
        stages.append(entries)
    return stages


def _declaration_problems(path: Path) -> list[str]:
    """RFC 8493 2.1.1: bagit.txt is exactly `BagIt-Version: M.N` and
    `Tag-File-Character-Encoding: ENCODING`. bagit-python strips whitespace around the label
    and so accepts `BagIt-Version : 1.0`; a label never ends in whitespace (2.2.2)."""
    try:
        text = (path / "bagit.txt").read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeError):
        return []  # bagit-python reports a missing or undecodable declaration itself
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        label = line.split(":", 1)[0]
        if ":" in line and label != label.strip():
            found.append(f"bagit.txt line {number}: label {label!r} has surrounding whitespace "
                         "(RFC 8493 2.1.1: the declaration is `Label: value`)")
    return found


def _align_normalized_names(bag: bagit.Bag) -> None:
    """Let a manifest name that differs from the file on disk only in Unicode normalization
    hash that file.

    bagit-python compares manifest and payload names after NFC normalization (so such a bag
    is complete), but hashes each manifest entry under its raw name, which does not exist on
    a normalization-preserving filesystem such as ext4; it then reports a checksum failure for
    a file it just found. The duplicate listing is reported as a warning by `_lint`.
    """
    try:
        list(bag.payload_files())  # fills bag.normalized_filesystem_names
    except OSError:
        return
    on_disk = bag.normalized_filesystem_names
    for name in list(bag.entries):
        nfc = unicodedata.normalize("NFC", name)
        if name not in on_disk and nfc in on_disk and not (Path(bag.path) / name).exists():
            on_disk[name] = on_disk[nfc]


def _manifest_lines(bag: bagit.Bag) -> Iterator[tuple[str, int, str]]:
    """(manifest file name, line number, raw path field) of every payload and tag manifest."""
    for manifest in [*bag.manifest_files(), *bag.tagmanifest_files()]:
        try:
            with open(manifest, encoding=bag.encoding, errors="replace") as fh:
                for number, line in enumerate(fh, start=1):
                    parts = line.strip().lstrip("\ufeff").split(None, 1)
                    if len(parts) == 2 and not parts[0].startswith("#"):
                        yield os.path.basename(manifest), number, parts[1]
        except OSError:
            continue


def _lint(bag: bagit.Bag) -> list[str]:
    """Portability warnings bagit-python does not give (the bag stays valid)."""
    found = []
    names: dict[str, set[str]] = defaultdict(set)
    for manifest, number, raw in _manifest_lines(bag):
        if raw.startswith("*"):
            found.append(f"{manifest} line {number}: {raw!r} carries the md5sum binary-mode "
                         "marker `*`, which is not part of a BagIt manifest line")
        if raw.startswith("./"):
            found.append(f"{manifest} line {number}: {raw!r} starts with `./`; manifest paths "
                         "are relative to the bag without it")
        if not manifest.startswith("tag"):
            names[manifest].add(raw.lstrip("*"))
    for manifest, listed in sorted(names.items()):
        # one dict entry per name; a set only for the few names spelled more than one way
        first_form: dict[str, str] = {}
        first_case: dict[str, str] = {}
        forms: dict[str, set[str]] = {}
        cases: dict[str, set[str]] = {}
        for name in listed:
            norm = os.path.normpath(name)
            # ASCII is its own NFC form and folds by lower(): no unicodedata call per line
            nfc = norm if norm.isascii() else unicodedata.normalize("NFC", norm)
            seen = first_form.setdefault(nfc, name)
            if seen != name:
                forms.setdefault(nfc, {seen}).add(name)
            folded = nfc.lower() if nfc.isascii() else nfc.casefold()
            seen = first_case.setdefault(folded, nfc)
            if seen != nfc:
                cases.setdefault(folded, {seen}).add(nfc)
        for nfc, spellings in sorted(forms.items()):
            found.append(f"{manifest}: {nfc!r} is listed {len(spellings)} times in different "
                         "Unicode normalization forms (one file on normalizing filesystems)")
        for _folded, spellings in sorted(cases.items()):
            found.append(f"{manifest}: {sorted(spellings)} differ only in case and collide on "
                         "case-insensitive filesystems (macOS, Windows)")
    weak = set(bag.algorithms) and set(bag.algorithms) <= WEAK_ALGORITHMS
    if weak:
        found.append(f"only {', '.join(sorted(bag.algorithms))} manifests: RFC 8493 2.4 asks "
                     "validators for sha256 / sha512, and md5 / sha1 are not collision resistant")
    try:
        system = sorted(p for p in bag.payload_files() if Path(p).name.casefold() in SYSTEM_FILES)
    except OSError:
        system = []
    if system:
        found.append(f"payload holds operating-system files: {', '.join(system)}")
    return found


@contextlib.contextmanager
def _captured_bagit_log() -> Iterator[list[tuple[int, str]]]:
    """bagit-python reports some problems only through its logger; collect them."""
    records: list[tuple[int, str]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING and not record.exc_info:
                records.append((record.levelno, record.getMessage()))
                if len(records) >= 4 * MAX_LISTED:
                    # bounded: past a few thousand the same kinds only repeat (a warning per
                    # missing file); from here keep errors only, without building each warning
                    logger.setLevel(logging.ERROR)

    logger = logging.getLogger("bagit")
    handler = Collect(logging.WARNING)
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


@contextlib.contextmanager
def _quiet_bagit() -> Iterator[None]:
    with _captured_bagit_log():
        yield
