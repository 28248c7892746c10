"""The Mac5 pull / process / return handoff (seed 000, Wave 5).

    K11 _processed bundle -> Mac5 local working copy -> worker -> derived/sam3d -> K11 bundle

Refused (Mac5Refused, exit 1) without a completion-gate report that lets Mac5 start heavy
reconstruction (SAFE-MAC5-GATE). The worker is any command: `--session`, `--fps` and
`--label-windows-only` are the flags of the seed's `process_session.py`, and the placeholders
`{session}`, `{out}`, `{fps}` put them elsewhere. It runs on a temporary copy of the long-take
session's files; its outputs are validated against the sam3d contracts and cross-checked
(frame counts, sampling policy, source checksum) before they are written, atomically, to the
bundle's `derived/sam3d/` and recorded as a derived entry in `bundle.json`. The sources are
hashed (sha256 and byte size, SAFE-SOURCES-IMMUTABLE) before and after the run, on K11 and in
the working copy: a change refuses the result. Until the result is accepted nothing in the
bundle changes.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any, NamedTuple

import orjson

from lume.generated.constants import BUNDLE_FILE, INPUT_WORKER_OUTPUT, SAFE_SOURCES_IMMUTABLE
from lume.runtime.completion import CompletionRefused, binding_problem, read_completion_report
from lume.runtime.core import (
    InputError,
    bounded_lines,
    bundle_layout,
    dumps,
    get,
    open_input,
    parameters,
    problems,
    read_input,
    read_json,
    scan_records,
    write_durable,
)

from ._bundle import bundle_dir_of, read_bundle, update_bundle
from ._checksum import sha256_files
from ._indexer import check_root
from ._policy import processed_dir

DERIVED = "sam3d"  # the bundle_layout.v1 derived folder the handoff writes
SOURCE_TYPE = "long_take_video"


class Mac5Refused(Exception):
    """The handoff refused to start or refused the worker's result (exit 1)."""

    def __init__(self, message: str, stderr: str = ""):
        super().__init__(message)
        self.stderr = stderr


@dataclass
class Mac5Result:
    bundle_dir: Path
    derived_id: str
    status: str
    sampling_policy: str
    frames_sampled: int
    frames_with_body: int
    outputs: list[dict[str, Any]]
    sources: dict[str, dict[str, Any]]  # bundle-relative path -> {sha256, byte_size}, unchanged
    command: list[str]
    gate_report: str
    stamped: list[str] = field(default_factory=list)  # summary fields the handoff set

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "bundle_dir": str(self.bundle_dir)}


# --------------------------------------------------------------------------- contracts


def _layout() -> Any:
    return bundle_layout()


@functools.cache
def derived_spec() -> tuple[str, tuple[str, ...], tuple[str, ...], dict[str, str]]:
    """(folder, required, allowed, file -> contract stem) of derived/sam3d in bundle_layout.v1."""
    spec = _layout().derived[DERIVED]
    contracts = {name: get(cid).stem for name, cid in (spec.contracts or {}).items()}
    return spec.folder, tuple(spec.required), tuple(spec.allowed), contracts


class SourceSpec(NamedTuple):
    key: str  # the layout's source folder name, also the bundle source id (`mac4_tier0`)
    folder: str  # bundle-relative folder
    required: tuple[str, ...]  # files a copied session holds
    session_file: str  # the session document (the one document contract of the folder)
    session_contract: str  # its contract stem


@functools.cache
def source_spec() -> SourceSpec:
    """The long-take source of bundle_layout.v1."""
    for key, spec in _layout().sources.items():
        if SOURCE_TYPE in spec.source_types:
            documents = [(name, get(cid).stem) for name, cid in (spec.contracts or {}).items()
                         if get(cid).kind == "document"]
            return SourceSpec(key, spec.folder, tuple(spec.required), *documents[0])
    raise KeyError(f"bundle_layout.v1 has no source folder for {SOURCE_TYPE}")


# --------------------------------------------------------------------------- locating


def find_bundle(root: Path, bundle_id_or_session: str) -> Path:
    """ROOT/_processed/<session_id>/, or the processed folder whose bundle.json has that id."""
    root = check_root(Path(root))
    direct = bundle_dir_of(root, bundle_id_or_session)
    if (direct / BUNDLE_FILE).is_file():
        return direct
    for candidate in sorted((root / processed_dir()).glob(f"*/{BUNDLE_FILE}")):
        try:
            if read_json(candidate).get("bundle_id") == bundle_id_or_session:
                return candidate.parent
        except (InputError, AttributeError):
            continue
    raise InputError(f"{root / processed_dir()}: no bundle {bundle_id_or_session!r} (no {BUNDLE_FILE} "
                     "with that folder name or bundle_id; run `lume bundle create` first)")


def _is_absolute(path: str) -> bool:
    return Path(path).is_absolute() or PureWindowsPath(path).is_absolute()


def long_take_source(bundle_dir: Path, bundle: dict[str, Any]) -> tuple[dict[str, Any], Path]:
    """The long-take source entry and the folder that holds its session files here."""
    entries = [s for s in bundle["sources"] if s["source_type"] == SOURCE_TYPE]
    if not entries:
        raise InputError(f"{bundle_dir / BUNDLE_FILE}: no {SOURCE_TYPE} source to reconstruct")
    entry = entries[0]
    folder, session_file = source_spec().folder, source_spec().session_file
    candidates = [] if _is_absolute(entry["path"]) else [bundle_dir / entry["path"]]
    candidates += [Path(entry["path"])] if Path(entry["path"]).is_absolute() else []
    candidates.append(bundle_dir / folder)
    for candidate in candidates:
        if (candidate / session_file).is_file():
            return entry, candidate
    raise InputError(f"{bundle_dir / BUNDLE_FILE}: source {entry['source_id']} at {entry['path']!r}: "
                     f"no {session_file} there nor under {folder}")


def read_session(path: Path) -> dict[str, Any]:
    """The long take's session document, validated against its contract (InputError if not)."""
    doc = read_json(path)
    found = problems(doc, get(source_spec().session_contract), file=str(path))
    if found:
        raise InputError("; ".join(str(p) for p in found))
    return doc


# --------------------------------------------------------------------------- hashing


def _fingerprint(paths: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """sha256 and byte size of each file (SAFE-SOURCES-IMMUTABLE `verified_by`)."""
    digests = sha256_files(paths.values())
    return {rel: {"sha256": digests[str(p)], "byte_size": p.stat().st_size} for rel, p in paths.items()}


def _changed(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    return [f"{rel}: sha256 {before[rel]['sha256'][:12]}… ({before[rel]['byte_size']} B) -> "
            f"{after[rel]['sha256'][:12]}… ({after[rel]['byte_size']} B)"
            for rel in before if before[rel] != after.get(rel)]


# --------------------------------------------------------------------------- the worker


def worker_command(worker_cmd: str, session: Path, out: Path | None, fps: float,
                   label_windows_only: bool) -> tuple[list[str], bool]:
    """The argv to run and whether it names its output folder (`{out}`)."""
    tokens = shlex.split(worker_cmd)
    if not tokens:
        raise InputError("--worker is empty")
    fps_text = f"{fps:g}"
    has = lambda mark: any(mark in t for t in tokens)  # noqa: E731
    names_out = has("{out}")
    flags: list[str] = []
    if not has("{session}"):
        flags += ["--session", str(session)]
    if not has("{fps}"):
        flags += ["--fps", fps_text]
    if label_windows_only and "--label-windows-only" not in tokens:
        flags.append("--label-windows-only")
    argv = [t.replace("{session}", str(session)).replace("{out}", str(out)).replace("{fps}", fps_text)
            for t in tokens] + flags
    return argv, names_out


def _tail(text: str, lines: int = 20) -> str:
    kept = text.strip().splitlines()[-lines:]
    return "\n".join(kept)


def _run_worker(argv: list[str], cwd: Path, timeout_s: float | None) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, errors="replace",
                              timeout=timeout_s)
    except FileNotFoundError as exc:
        raise Mac5Refused(f"worker command not found: {argv[0]} ({exc.strerror})") from exc
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        raise Mac5Refused(f"worker timed out after {timeout_s:g} s; the bundle is unchanged", stderr) from exc
    if done.returncode != 0:
        raise Mac5Refused(f"worker exited with status {done.returncode}; the bundle is unchanged.\n"
                          f"worker stderr (last lines):\n{_tail(done.stderr) or '(empty)'}", done.stderr)
    return done


# --------------------------------------------------------------------------- checking outputs


def output_names() -> tuple[str, str]:
    """(summary file, frames file) of derived/sam3d: the document and the record contract."""
    _folder, _required, _allowed, contracts = derived_spec()
    kinds = {get(stem).kind: name for name, stem in contracts.items()}
    return kinds["document"], kinds["record"]


def _worker_output(path: Path) -> bytes:
    """A file the worker wrote, as a `worker_output` input (input_limits.v1): the worker is
    another program, so a FIFO, a device or an oversized file there refuses the run."""
    try:
        return read_input(path, INPUT_WORKER_OUTPUT)
    except InputError as exc:
        raise Mac5Refused(f"worker output refused, the bundle is unchanged: {exc}") from exc


def _check_outputs(out: Path, *, fps: float, label_windows_only: bool, video_sha256: str,
                   ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Validate the worker's outputs against their contracts and against the request."""
    _folder, required, _allowed, contracts = derived_spec()
    summary_name, frames_name = output_names()
    missing = [name for name in required if not os.path.lexists(out / name)]
    if missing:
        raise Mac5Refused(f"worker wrote no {', '.join(missing)} in {out}; the bundle is unchanged")
    try:
        summary = orjson.loads(_worker_output(out / summary_name))
    except orjson.JSONDecodeError as exc:
        raise Mac5Refused(f"worker output {summary_name} is not valid JSON: {exc} "
                          f"[{contracts[summary_name]}]") from exc
    found = [str(p) for p in problems(summary, get(contracts[summary_name]), file=summary_name)]
    try:
        with open_input(out / frames_name, INPUT_WORKER_OUTPUT) as fh:
            lines = bounded_lines(fh, frames_name, INPUT_WORKER_OUTPUT, found)
            records = [r for _, r in scan_records(lines, contracts[frames_name], file=frames_name,
                                                  errors=found)]
    except InputError as exc:
        raise Mac5Refused(f"worker output refused, the bundle is unchanged: {exc}") from exc
    if found:
        shown = found[:20] + ([f"… and {len(found) - 20} more"] if len(found) > 20 else [])
        raise Mac5Refused("worker outputs break their contracts; the bundle is unchanged:\n  "
                          + "\n  ".join(shown))
    expect = [
        ("frames_sampled", len(records)),
        ("frames_with_body", sum(bool(r["present"]) for r in records)),
        ("label_windows_only", label_windows_only),
        ("fps", fps),
        ("source_sha256_before", video_sha256),
        ("source_sha256_after", video_sha256),
    ]
    wrong = [f"$.{name} is {summary.get(name)!r}, expected {value!r}" for name, value in expect
             if summary.get(name) != value]
    if summary["status"] not in ("complete", "partial"):
        wrong.append(f"$.status is {summary['status']!r} (error: {summary.get('error')!r}); "
                     "a finished run is complete or partial")
    if wrong:
        raise Mac5Refused(f"worker {summary_name} disagrees with the run; the bundle is unchanged:\n  "
                          + "\n  ".join(wrong) + f" [{contracts[summary_name]}]")
    return summary, records


# --------------------------------------------------------------------------- returning


def _derived_entry(bundle: dict[str, Any], summary: dict[str, Any], outputs: list[dict[str, Any]],
                   main_path: str, source_id: str) -> dict[str, Any]:
    existing = [d for d in bundle["derived"] if d["path"] == main_path]
    numbers = [int(m.group(1)) for d in bundle["derived"]
               if (m := re.fullmatch(rf"{DERIVED}_(\d+)", d["derived_id"]))]
    derived_id = existing[0]["derived_id"] if existing else f"{DERIVED}_{max(numbers, default=0) + 1:03d}"
    return {
        "derived_id": derived_id,
        "derived_type": DERIVED,
        "source_id": source_id,
        "machine": summary["worker"]["machine"],
        "tool": summary["tool"],
        "path": main_path,
        "sampling_policy": summary["sampling_policy"],
        "status": summary["status"],
        "created_at_unix": round(time.time(), 3),
        "outputs": outputs,
    }


def _return_to_bundle(bundle_dir: Path, files: dict[str, bytes], entry: dict[str, Any]) -> None:
    """Swap the new derived folder in and record the entry; on any failure restore the old."""
    folder = derived_spec()[0].rstrip("/")
    writable = parameters(SAFE_SOURCES_IMMUTABLE)["writable_prefix"]
    if not f"{folder}/".startswith(writable):
        raise Mac5Refused(f"{folder}/ is outside {writable} (SAFE-SOURCES-IMMUTABLE)")
    target = bundle_dir / folder
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".new", dir=target.parent))
    stage.chmod(stat.S_IMODE(target.parent.stat().st_mode))  # mkdtemp makes it owner-only
    old = target.parent / f"{stage.name[:-4]}.old"
    try:
        for name, data in files.items():
            write_durable(stage / name, data)
        if target.exists():
            os.replace(target, old)
        os.replace(stage, target)
        try:
            update_bundle(bundle_dir, _record(entry))
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            if old.exists():
                os.replace(old, target)
            raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _record(entry: dict[str, Any]) -> Any:
    """The bundle.json mutation: this entry replaces any with its id or main output."""
    def mutate(doc: dict[str, Any]) -> None:
        doc["derived"] = [d for d in doc["derived"] if d["derived_id"] != entry["derived_id"]
                          and d["path"] != entry["path"]] + [entry]
    return mutate


# --------------------------------------------------------------------------- the handoff


def process(root: Path, bundle_id_or_session: str, worker_cmd: str, *,
            label_windows_only: bool = False, fps: float = 1.0, gate_report: Path | None = None,
            timeout_s: float | None = None, workdir: Path | None = None) -> Mac5Result:
    """Pull one processed session, run the worker on a local copy, return its derived outputs.

    The working copy lives in a temporary folder under `workdir` (default: the system's
    temporary folder; a relative one is taken from the current folder, since the worker runs
    inside the working copy) and is removed afterwards, whatever happens.

    Raises Mac5Refused (exit 1) when the gate does not allow the run, the worker fails, its
    outputs are invalid, or a source changed; InputError (exit 2) for a bad root or bundle.
    """
    if workdir is not None:
        workdir = Path(workdir).absolute()
        if not workdir.is_dir():
            raise InputError(f"{workdir}: --workdir is not an existing folder")
    if gate_report is None:
        raise Mac5Refused("no completion-gate report: Mac5 heavy reconstruction needs a green "
                          "Mac4-first completion-gate report (--gate-report, SAFE-MAC5-GATE)")
    try:
        gate = read_completion_report(Path(gate_report))
    except CompletionRefused as exc:
        raise Mac5Refused(f"completion gate refuses Mac5 heavy reconstruction: {exc}") from exc
    if not fps > 0:
        raise InputError(f"--fps must be > 0, got {fps}")

    bundle_dir = find_bundle(Path(root), bundle_id_or_session)
    unbound = binding_problem(gate, bundle_dir)  # the report must speak about this take
    if unbound is not None:
        raise Mac5Refused(f"completion gate refuses Mac5 heavy reconstruction: {gate_report}: {unbound}")
    bundle = read_bundle(bundle_dir)
    entry, source_dir = long_take_source(bundle_dir, bundle)
    required, session_file = source_spec().required, source_spec().session_file
    paths = {rel: source_dir / rel for rel in required}
    absent = [str(p) for p in paths.values() if not p.is_file()]
    if absent:
        raise InputError(f"source {entry['source_id']} is incomplete: missing {', '.join(absent)}")
    before = _fingerprint(paths)
    recorded = {f["path"]: f for f in entry.get("files") or []}
    drift = [f"{rel}: bundle.json records {recorded[rel]['sha256'][:12]}…, K11 has {fp['sha256'][:12]}…"
             for rel, fp in before.items()
             if rel in recorded and (recorded[rel]["sha256"], recorded[rel]["byte_size"])
             != (fp["sha256"], fp["byte_size"])]
    if drift:
        raise Mac5Refused("sources differ from their bundle.json record; not processing:\n  "
                          + "\n  ".join(drift))
    video_rel = read_session(paths[session_file])["video"]["path"]
    if video_rel not in before:
        raise InputError(f"{paths[session_file]}: $.video.path {video_rel!r} is not a required "
                         "source file of bundle_layout.v1")

    with tempfile.TemporaryDirectory(prefix="lume-mac5-", dir=workdir) as tmp:
        work = Path(tmp)
        session = work / bundle["bundle_id"]
        for rel, src in paths.items():
            (session / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, session / rel)
        out_dir = work / "out"
        argv, names_out = worker_command(worker_cmd, session, out_dir, fps, label_windows_only)
        if not names_out:
            out_dir = session / derived_spec()[0]
        done = _run_worker(argv, work, timeout_s)

        after = _fingerprint(paths)
        if _changed(before, after):
            raise Mac5Refused("SOURCES MODIFIED on K11 during the run (SAFE-SOURCES-IMMUTABLE); "
                              "the result is refused:\n  " + "\n  ".join(_changed(before, after)))
        copy_after = _fingerprint({rel: session / rel for rel in paths})
        if _changed(before, copy_after):
            raise Mac5Refused("the worker modified its copy of the sources (SAFE-SOURCES-IMMUTABLE); "
                              "the result is refused:\n  " + "\n  ".join(_changed(before, copy_after)))

        summary, _records = _check_outputs(out_dir, fps=fps, label_windows_only=label_windows_only,
                                           video_sha256=before[video_rel]["sha256"])
        stamped = _stamp(summary, entry["source_id"], bundle_dir, source_dir, video_rel,
                         Path(gate_report))
        summary_name = output_names()[0]
        found = problems(summary, get(derived_spec()[3][summary_name]), file=summary_name)
        if found:
            raise Mac5Refused("; ".join(str(p) for p in found))
        files = _collect(out_dir, summary, stamped, done)

    folder = derived_spec()[0].rstrip("/")
    outputs = [{"path": f"{folder}/{name}", "sha256": hashlib.sha256(data).hexdigest(),
                "byte_size": len(data)} for name, data in files.items()]
    derived = _derived_entry(bundle, summary, outputs, f"{folder}/{output_names()[0]}",
                             entry["source_id"])
    _return_to_bundle(bundle_dir, files, derived)
    return Mac5Result(bundle_dir=bundle_dir, derived_id=derived["derived_id"], status=summary["status"],
                      sampling_policy=summary["sampling_policy"],
                      frames_sampled=summary["frames_sampled"],
                      frames_with_body=summary["frames_with_body"], outputs=outputs,
                      sources={_bundle_rel(source_dir / rel, bundle_dir): fp for rel, fp in after.items()},
                      command=argv, gate_report=str(gate_report), stamped=stamped)


def _bundle_rel(path: Path, bundle_dir: Path) -> str:
    try:
        return path.relative_to(bundle_dir).as_posix()
    except ValueError:
        return str(path)


def _stamp(summary: dict[str, Any], source_id: str, bundle_dir: Path, source_dir: Path,
           video_rel: str, gate_report: Path) -> list[str]:
    """Set the K11-side provenance the worker cannot know: the bundle's source id, the video's
    bundle-relative path, and the gate report that allowed the run. Returns the fields changed."""
    wanted = {"source_id": source_id,
              "source_path": _bundle_rel(source_dir / video_rel, bundle_dir)
              if (source_dir / video_rel).is_relative_to(bundle_dir) else video_rel,
              "completion_gate_report": str(gate_report.resolve())}
    changed = [k for k, v in wanted.items() if summary.get(k) != v]
    summary.update(wanted)
    return changed


def _collect(out: Path, summary: dict[str, Any], stamped: list[str],
             done: subprocess.CompletedProcess) -> dict[str, bytes]:
    """The bytes to store: the worker's files (summary re-rendered only when stamped), and the
    worker's captured output as worker.log when it wrote none."""
    _folder, required, allowed, _contracts = derived_spec()
    files = {name: _worker_output(out / name) for name in required}
    if stamped:
        files[output_names()[0]] = dumps(summary).encode("utf-8")
    for name in allowed:
        if os.path.lexists(out / name):
            files[name] = _worker_output(out / name)
        elif name == "worker.log":
            files[name] = (f"$ {shlex.join(done.args)}\n--- stdout\n{done.stdout}"
                           f"--- stderr\n{done.stderr}").encode("utf-8")
    return files
