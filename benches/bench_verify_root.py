"""`lume verify` on a root of realistic size and shape (issue 19.6), as a user runs it, each
figure beside a baseline measured in the same run.

The root is the shipped route-smoke fixtures grown by one-hour takes, built with the project's
own pipeline as child processes: per hour a Mac4 Tier 0 take arrives in `_incoming` as a
`.tar.gz` with its `.sha256` sidecar and transport manifest (a 1 GiB video, its labels, the
Mac4-first sidecar and the AirDeck dry run's 108k BodyTruth frames under `derived/airdeck/`),
and a Pose Coach session (36k training records, three AVIs, 5.4k PNG keyframes) waits in a
Pose Coach root; then `lume index`, `lume bundle create` and `lume bundle add-pose-coach --copy`.
Bytes are cheap and deterministic (a seeded block with a counter per MiB; the contracts' own
examples for records). `--scale` shrinks every size and count for quick runs.

Figures (page cache warm for every one: openssl reads the root first):
- `lume verify --only <file checks>` and the full `lume verify`, child processes, against
  `openssl dgst -sha256` over the same files and two openssl processes in parallel (budget:
  full verify <= 1.5x one openssl), and the full run's CPU over its whole process tree with
  the floor that CPU sets on this machine's cores (a note when the floor alone is over budget);
- peak RSS at each size of `--hours`, of the largest process (getrusage of the children) and
  summed over the whole process tree (sampled from /proc: the property-check helper counts)
  (budget: flat, <= 300 MiB, the largest root within 10 % of the smallest);
- the signed report's size, each digest once, against the same report listing every digest
  twice as readiness_report.v1 did;
- `lume verify --quick` on the unchanged root against the full run (budget: >= 20x faster),
  and what bounds it: starting a process and importing the checks, a bare walk of the root
  stat'ing every file (what a quick run must do at least, in plain Python), and re-evaluating
  the checks (the same quick run again in a process that has done it once).
A note is printed for every figure over its budget. Asserts nothing about time. A `--only` run
is partial by design (its report is never green: exit 1); the full run's exit is 0 when green.
The full run includes the property verifiers (shared by one helper process and, once its file
checks are done, the verifying process: about 10 s of CPU here whatever the root's size) and
the route-smoke replay; `--quick` reuses the signed property proofs the full run just wrote
(property_proof.v1), so it re-runs no property check: the quick figure for the file checks
alone is printed beside it.

Run: python benches/bench_verify_root.py [--hours 1[,2,4]] [--scale 1.0] [--work DIR | --keep DIR]
(--keep builds the root once in DIR and measures it again on later runs; a larger --hours grows it)
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import orjson
from bench_validate_cli import MEASURE  # a child that prints a command's seconds, peak RSS, exit

LUME = [sys.executable, "-m", "lume.runtime.cli"]
MiB = 1 << 20
# one hour of capture (issue 19): the long take's video, BodyTruth at 30 Hz, Pose Coach at 10 Hz
VIDEO_BYTES = 1 << 30
BODYTRUTH_FRAMES = 108_000
POSE_RECORDS = 36_000
POSE_AVI_BYTES = 96 * MiB  # each of the three Pose Coach videos
KEYFRAME_EVERY = 20  # a PNG triple (display, camera, raw) every 20 Pose Coach frames
FULL_BUDGET = 1.5  # x one openssl
RSS_BUDGET_MIB = 300
QUICK_BUDGET = 20.0
START = 1780300000  # 2026-06-01, after the fixtures' takes


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd[2:]))} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return done


# The same --quick run three times in one process (this machine's key and cache, as the CLI
# uses them); the best of the later two is what re-evaluating every check costs once nothing is
# left to import or build: no start-up, validators and rule tables warm.
AGAIN = """\
import sys, time
from pathlib import Path
from lume.runtime.core import load_or_create_key
from lume.verifiers import report, run
key, root, out, spent = load_or_create_key(), Path(sys.argv[1]), Path(sys.argv[2]), []
for _ in range(3):
    start = time.perf_counter()
    report(run(root, quick=True, key=key), key, out)
    spent.append(time.perf_counter() - start)
print(min(spent[1:]))
"""


def measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int, float]:
    """(seconds, peak RSS MiB, exit code, CPU seconds of its whole process tree) of a command
    run as a child process."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True,
                         check=True, env=env).stdout.split()
    return float(out[0]), int(out[1]) / 1024, int(out[2]), float(out[3])


# --------------------------------------------------------------------------- bytes


def blob(path: Path, size: int, seed: int, head: bytes = b"", box: bytes = b"free") -> str:
    """A file of `size` bytes: `head` (a short real video), then one padding box (MP4 `free`,
    AVI `JUNK`) of deterministic incompressible bytes (a seeded 1 MiB block with a counter per
    MiB), which players skip; returns the file's SHA-256."""
    import numpy as np

    block = bytearray(np.random.default_rng(seed).integers(0, 256, MiB, dtype=np.uint8).tobytes())
    h = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    pad = max(0, size - len(head) - 8)
    if box == b"free":  # an MP4 box: big-endian size counting its 8-byte header, then the type
        first = head + (pad + 8).to_bytes(4, "big") + box
    else:  # a RIFF chunk: the id, then the little-endian size of the data alone
        first = head + box + pad.to_bytes(4, "little")
    with open(path, "wb") as fh:
        h.update(first)
        fh.write(first)
        for i in range(0, pad, MiB):
            block[:8] = i.to_bytes(8, "little")
            piece = bytes(block[: min(MiB, pad - i)])
            h.update(piece)
            fh.write(piece)
    return h.hexdigest()


def short_video(path: Path, fourcc: str, fps: int, frames: int, size: tuple[int, int]) -> bytes:
    """A real, playable video of a few frames (the fixtures' dancer), encoded by OpenCV."""
    from lume.fixtures._routesmoke import take_frames, write_video

    write_video(path, take_frames(frames / fps, fps, size, 0.0), fps, fourcc)
    data = path.read_bytes()
    path.unlink()
    return data


def records(path: Path, examples: list[dict], n: int, shape) -> str:
    """`n` JSONL lines from the contract's examples, reshaped per line; returns their SHA-256."""
    h = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        batch = []
        for i in range(n):
            batch.append(orjson.dumps(shape(dict(examples[i % len(examples)]), i)) + b"\n")
            if len(batch) == 4096 or i == n - 1:
                data = b"".join(batch)
                h.update(data)
                fh.write(data)
                batch.clear()
    return h.hexdigest()


def sha_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


# --------------------------------------------------------------------------- one hour


def take(root: Path, pose_root: Path, hour: int, scale: float, stage: Path) -> str:
    """Deliver hour `hour`'s Mac4 take into `root/_incoming` and its Pose Coach session into
    `pose_root`; returns the session id."""
    from lume.fixtures._routesmoke import MAC4_FIRST, device_topologies, mac4_session, marker
    from lume.runtime.core import dumps, get, rfc3339
    from lume.runtime.storage import sidecar_line

    sid = f"20260601-bench-hour-{hour:02d}"
    start = START + hour * 3700
    seconds = 3600.0 * scale
    work = stage / sid
    labels = [marker(start, 0.0, "wave_color", "start", "operator_monitor", sid),
              marker(start, seconds / 2, "wave_color", "end", "operator_monitor", sid)]
    members = mac4_session(sid, start, seconds, 30, (1920, 1080), labels, b"", "Insta360 Link",
                           "run_k11_weighted_take_tmux.sh", "bench: one-hour take")
    members[MAC4_FIRST] = dumps(device_topologies(sid, start - 10)[MAC4_FIRST]).encode()
    members["derived/airdeck/promotion_candidates.json"] = dumps(
        get("promotion_candidates.v1").examples[0]).encode()
    digests = {}
    for name, data in members.items():
        if name != "raw/video/webcam_main.mp4":
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_bytes(data)
            digests[name] = hashlib.sha256(data).hexdigest()
    head = short_video(stage / "head.mp4", "mp4v", 30, 30, (320, 240))
    digests["raw/video/webcam_main.mp4"] = blob(work / "raw/video/webcam_main.mp4",
                                                int(VIDEO_BYTES * scale), hour, head, b"free")
    frames = int(BODYTRUTH_FRAMES * scale)

    def frame(doc: dict, i: int) -> dict:
        if isinstance(doc.get("t_ms"), int):
            doc["t_ms"] = i * 33
        return doc

    digests["derived/airdeck/dry_run.bodytruth.jsonl"] = records(
        work / "derived/airdeck/dry_run.bodytruth.jsonl", get("body_truth.v0").examples, frames, frame)
    sizes = {name: (work / name).stat().st_size for name in digests}
    archive = f"{sid}.tar.gz"
    incoming = root / "_incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    # fast compression: a video does not compress; the shape (gzip, a top folder) is Mac4's
    with gzip.GzipFile(incoming / archive, "wb", compresslevel=1, mtime=int(start)) as gz, \
            tarfile.open(fileobj=gz, mode="w|", format=tarfile.USTAR_FORMAT) as tf:
        for name in sorted(digests):
            info = tf.gettarinfo(work / name, arcname=f"{sid}/{name}")
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode, info.mtime = 0o644, int(start)
            with open(work / name, "rb") as fh:
                tf.addfile(info, fh)
    shutil.rmtree(work)
    archive_sha = sha_file(incoming / archive)
    (incoming / f"{archive}.sha256").write_text(sidecar_line(archive_sha, archive))
    contents = [{"path": f"{sid}/{n}", "sha256": d, "byte_size": sizes[n]}
                for n, d in sorted(digests.items())]
    manifest = {
        "schema": "lume.transport_manifest.v1", "session_id": sid, "archive_name": archive,
        "archive_sha256": archive_sha, "archive_bytes": (incoming / archive).stat().st_size,
        "source_machine": "Mac4", "target_machine": "K11", "created_at_unix": start + seconds + 60,
        "format": "tar.gz", "member_count": len(contents),
        "expanded_bytes": sum(c["byte_size"] for c in contents), "contents": contents,
    }
    (root / "_manifests").mkdir(exist_ok=True)
    (root / "_manifests" / f"{archive}.json").write_text(dumps(manifest))
    pose_session(pose_root, sid, start, scale, rfc3339)
    return sid


def pose_session(pose_root: Path, sid: str, start: float, scale: float, rfc3339) -> Path:
    """A K11 Pose Coach session of one hour (scaled): manifest, records, videos, keyframes."""
    from lume.runtime.core import dumps, get

    fixture = Path(str(__import__("lume.fixtures", fromlist=["x"]).__path__[0])) / "pose_coach"
    src = next((fixture / "sessions").iterdir())
    manifest = orjson.loads((src / "manifest.json").read_bytes())
    png = {k: (next((src / "frames" / k).glob("*.png"))).read_bytes() for k in ("display", "camera", "raw")}
    pid = f"{sid[:8]}-{2000 + int(sid[-2:]):06d}"
    folder = pose_root / "sessions" / pid
    fps = manifest["camera"]["fps"]
    n = max(2 * KEYFRAME_EVERY, int(POSE_RECORDS * scale))
    label = manifest["labels"][0]
    t0 = int(start * 1000)

    def record(doc: dict, i: int) -> dict:
        doc.update(timestamp_ms=t0 + i * 1000 // fps, frame_index=i, session_id=pid, clip_index=0,
                   label=label, clip_kind="calibration", recording=True)
        doc.pop("keyframes", None)
        if i % KEYFRAME_EVERY == 0:
            doc["keyframes"] = {k: f"frames/{k}/{i:06d}.png" for k in png}
        return doc

    examples = [e for e in get("pose_coach_training_record.v1").examples if e.get("recording")] or \
        get("pose_coach_training_record.v1").examples
    records(folder / "metadata" / "training.jsonl", examples, n, record)
    head = short_video(pose_root / "head.avi", "MJPG", fps, fps, (160, 120))
    for i, key in enumerate(sorted(manifest["videos"])):
        blob(folder / manifest["videos"][key], int(POSE_AVI_BYTES * scale), 1000 + 10 * int(sid[-2:]) + i,
             head, b"JUNK")
    for i in range(0, n, KEYFRAME_EVERY):
        for k, data in png.items():
            out = folder / "frames" / k / f"{i:06d}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
    end = start + n / fps
    manifest.update(session_id=pid, created_at=rfc3339(start), ended_at=rfc3339(end), frame_count=n,
                    labels=[label], clip_count=1,
                    clips=[{"clip_index": 0, "label": label, "clip_kind": "calibration", "start_frame": 0,
                            "end_frame": n - 1, "start_ms": t0, "end_ms": t0 + (n - 1) * 1000 // fps}])
    (folder / "manifest.json").write_text(dumps(manifest))
    return folder


def grow(root: Path, pose_root: Path, hours: range, scale: float, stage: Path, env: dict[str, str]) -> None:
    """Add `hours` one-hour takes to `root` through `lume index`, `bundle create`, `add-pose-coach`."""
    sessions = [take(root, pose_root, h, scale, stage) for h in hours]
    run([*LUME, "index", str(root)], env=env)
    for sid in sessions:
        run([*LUME, "bundle", "create", str(root), sid], env=env)
        pid = f"{sid[:8]}-{2000 + int(sid[-2:]):06d}"
        run([*LUME, "bundle", "add-pose-coach", str(root / "_processed" / sid),
             str(pose_root / "sessions" / pid), "--copy"], env=env)


# --------------------------------------------------------------------------- figures


def files_of(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def openssl(files: list[Path], procs: int) -> float:
    """Wall seconds of `procs` parallel `openssl dgst -sha256` processes over `files`, split by bytes."""
    shares: list[list[Path]] = [[] for _ in range(procs)]
    load = [0] * procs
    for f in sorted(files, key=lambda p: -p.stat().st_size):
        k = load.index(min(load))
        shares[k].append(f)
        load[k] += f.stat().st_size
    t = time.perf_counter()
    running = [subprocess.Popen(["xargs", "-0", "openssl", "dgst", "-sha256", "-r"], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL) for _ in shares]
    for p, share in zip(running, shares):
        p.stdin.write(b"\0".join(str(f).encode() for f in share))
        p.stdin.close()
    for p in running:
        if p.wait() != 0:
            raise SystemExit("openssl dgst failed")
    return time.perf_counter() - t


def verify(root: Path, env: dict[str, str], out: Path, *args: str) -> tuple[float, float, int, float]:
    out.unlink(missing_ok=True)  # durations() reads this run's report, never an earlier one's
    return measured([*LUME, "verify", str(root), "-o", str(out), *args], env)


def tree_peak(cmd: list[str], env: dict[str, str]) -> float:
    """Peak RSS (MiB) summed over a command's whole process tree, sampled every 20 ms from
    /proc: the property-check helper counts too, which the largest child's peak hides."""
    page = os.sysconf("SC_PAGE_SIZE")

    def tree_rss(top: int) -> int:
        parent, rss = {}, {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    stat = Path(f"/proc/{d}/stat").read_text()
                    parent[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
                    rss[int(d)] = int(Path(f"/proc/{d}/statm").read_text().split()[1]) * page
                except (OSError, IndexError, ValueError):
                    continue
        total, todo = 0, [top]
        while todo:
            pid = todo.pop()
            total += rss.get(pid, 0)
            todo += [c for c, p in parent.items() if p == pid]
        return total

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.02)
    return peak / MiB


def durations(report: Path) -> str:
    """The slowest checks of a signed report (its DSSE payload), `id seconds` each."""
    import base64

    if not report.exists():
        return "(no report written: the run failed before signing)"
    predicate = orjson.loads(base64.b64decode(orjson.loads(report.read_bytes())["payload"]))["predicate"]
    checks = sorted(predicate["checks"], key=lambda c: -c["duration_ms"])
    return ", ".join(f"{c['id']} {c['duration_ms'] / 1000:.2f}" for c in checks[:6])


def bare_walk(root: Path) -> float:
    """Seconds to list every file under `root` and stat each one (os.scandir, os.stat): the least
    a quick run does to learn that nothing changed."""
    start, folders, files = time.perf_counter(), [str(root)], []
    while folders:
        with os.scandir(folders.pop()) as entries:
            for e in entries:
                (folders if e.is_dir(follow_symlinks=False) else files).append(e.path)
    for f in files:
        os.stat(f, follow_symlinks=False)
    return time.perf_counter() - start


def report_size(report: Path) -> str:
    """The signed report's size against the same report listing every digest twice, as
    readiness_report.v1 did (its predicate repeated the Statement's subjects, in the base64
    payload)."""
    import base64

    data = report.read_bytes()
    subjects = orjson.loads(base64.b64decode(orjson.loads(data)["payload"]))["subject"]
    twice = len(data) + len(orjson.dumps(subjects)) * 4 // 3
    return (f"  signed report {len(data) / 1e6:6.2f} MB for {len(subjects):,} subjects, each digest once "
            f"(listing them twice, as readiness_report.v1 did: {twice / 1e6:.2f} MB, "
            f"{twice / len(data):.2f}x)")


def note(ok: bool, text: str) -> str:
    return "" if ok else f"   NOTE: over budget ({text})"


def forget(cache: Path) -> None:
    """Drop the digest and memo caches of earlier runs (a full run re-hashes anyway) but keep
    the rest of the cache folder: Hypothesis builds its Unicode table there on a machine's first
    property run (about 2 s and 200 MiB, once), which is not what a run costs."""
    for old in cache.glob("verify-*.json"):
        old.unlink()


def measure(root: Path, hours: int, env: dict[str, str], work: Path, file_checks: list[str]) -> dict:
    from lume.verifiers import default_root

    files = files_of(root)
    total = sum(f.stat().st_size for f in files)
    openssl(files, 1)  # warm the page cache
    one = min(openssl(files, 1) for _ in range(2))
    two = min(openssl(files, 2) for _ in range(2))
    cache = work / "cache"
    out = work / "reports" / f"readiness-{hours}h.json"
    envc = {**env, "LUME_CACHE_DIR": str(cache)}
    forget(cache)
    if not any(cache.glob("hypothesis-files-*.json")):  # no sealed Hypothesis files yet (_hypothesis_home)
        t, rss, _, _ = verify(default_root(), envc, out)  # the machine's first property run
        print(f"  (once per cache folder: the first full run, on the shipped fixtures, {t:.2f} s, peak RSS "
              f"{rss:.0f} MiB: Hypothesis builds its Unicode table)")
        forget(cache)
    t_files, rss_files, rc_files, cpu_files = verify(root, envc, out, "--only", ",".join(file_checks))
    slow_files = durations(out)
    forget(cache)
    t_full, rss_full, rc_full, cpu_full = verify(root, envc, out)
    slow_full = durations(out)
    size_full = report_size(out)
    tree_full = tree_peak([*LUME, "verify", str(root), "-o", str(out)], envc) if Path("/proc/self/statm").exists() else 0.0
    t_quick, rss_quick, rc_quick, _ = verify(root, envc, out, "--quick")
    t_qfiles, rss_qfiles, _, _ = verify(root, envc, out, "--quick", "--only", ",".join(file_checks))
    gb = total / 1e9
    print(f"[{hours} h root] {len(files):,} files, {gb:.2f} GB")
    print(f"  openssl dgst -sha256, one process   {one:7.2f} s  ({gb / one:.2f} GB/s)   baseline")
    print(f"  openssl dgst -sha256, two processes {two:7.2f} s  ({gb / two:.2f} GB/s)   "
          f"{one / two:.2f}x faster")
    for name, t, rss, rc in (("verify --only <file checks>", t_files, rss_files, rc_files),
                             ("verify (full)", t_full, rss_full, rc_full)):
        over = t / one > FULL_BUDGET
        print(f"  lume {name:31} {t:7.2f} s  {t / one:5.2f}x openssl  {t / two:5.2f}x two openssl  "
              f"peak RSS {rss:6.0f} MiB  exit {rc}"
              + (note(not over, f"budget <= {FULL_BUDGET}x openssl") if name == "verify (full)" else ""))
    # What bounds the full run: its CPU over both cores. A full run re-runs every property check,
    # whose CPU is set by property_checks.v1's example budgets, not by the root: what the full
    # run spends over the file checks alone (the property checks, their helper process, the
    # replay) is a floor of its own.
    cores = os.cpu_count() or 1
    floor, fixed = cpu_full / cores, max(0.0, cpu_full - cpu_files) / cores
    print(f"  CPU of the full run {cpu_full:6.2f} s, on {cores} cores at least {floor:.2f} s = {floor / one:.2f}x "
          f"openssl; over the file checks alone ({cpu_files:.2f} s) {cpu_full - cpu_files:.2f} s for the property "
          f"checks and the replay: on their own at least {fixed:.2f} s = {fixed / one:.2f}x openssl"
          + note(fixed / one <= FULL_BUDGET, f"the property checks alone exceed {FULL_BUDGET}x openssl "
                 f"on {cores} cores"))
    print(f"  slowest checks (s), file checks: {slow_files}")
    print(f"  slowest checks (s), full run:    {slow_full}")
    print(size_full)
    speed = t_full / t_quick
    print(f"  lume verify --quick (unchanged)     {t_quick:7.2f} s  {speed:5.1f}x faster than full  "
          f"peak RSS {rss_quick:6.0f} MiB  exit {rc_quick}"
          + note(speed >= QUICK_BUDGET, f"budget >= {QUICK_BUDGET:.0f}x"))
    # --quick re-evaluates every check (from per-file memos and signed proofs), so it starts the
    # interpreter and imports the checks' code: a floor of its own, whatever the root
    t_import = min(measured([sys.executable, "-c", "import lume.runtime.cli, lume.verifiers"], envc)[0]
                   for _ in range(3))
    print(f"  start a process and import lume verify's checks {t_import:5.2f} s: a --quick floor of "
          f"{t_full / t_import:5.1f}x faster than full" + note(t_full / t_import >= QUICK_BUDGET,
                                                              "importing the checks alone is over budget"))
    t_walk = min(bare_walk(root) for _ in range(3))
    print(f"  a bare walk of the root stat'ing every file (plain Python, warm) {t_walk:5.2f} s: with the "
          f"start and imports a floor of {t_full / (t_import + t_walk):5.1f}x faster than full, before a "
          f"check or the report" + note(t_full / (t_import + t_walk) >= QUICK_BUDGET,
                                        "starting, importing and stat'ing alone is over budget"))
    t_pass = min(measured([sys.executable, "-c", "pass"], envc)[0] for _ in range(3))
    t_again = float(run([sys.executable, "-c", AGAIN, str(root), str(out)], env=envc).stdout.split()[-1])
    print(f"  the same --quick run again in its process (no start-up, nothing left to import or build) "
          f"{t_again:5.2f} s: with a bare interpreter's start ({t_pass:.2f} s) a floor of "
          f"{t_full / (t_pass + t_again):5.1f}x faster than full; the first run in a process spends "
          f"{max(0.0, t_quick - t_again - t_import):.2f} s more on first use (validators, rule tables, "
          f"the CLI's output)"
          + note(t_full / (t_pass + t_again) >= QUICK_BUDGET, "re-evaluating the checks alone is over budget"))
    print(f"  lume verify --quick --only <file checks> {t_qfiles:5.2f} s  {t_files / t_qfiles:5.1f}x "
          f"faster than the file checks in full  peak RSS {rss_qfiles:6.0f} MiB")
    print(f"  peak RSS of full verify {rss_full:.0f} MiB vs openssl ~11 MiB"
          + note(rss_full <= RSS_BUDGET_MIB, f"budget <= {RSS_BUDGET_MIB} MiB"))
    if tree_full:
        print(f"  peak RSS of full verify summed over its processes (the property-check helper too) "
              f"{tree_full:.0f} MiB" + note(tree_full <= RSS_BUDGET_MIB, f"budget <= {RSS_BUDGET_MIB} MiB"))
    return {"hours": hours, "rss": rss_full, "tree": tree_full, "full": t_full, "openssl": one}


def compiled() -> None:
    """Compile the bytecode first, as an installed distribution has it: with
    PYTHONDONTWRITEBYTECODE set every child would compile the sources again and measure that."""
    import compileall
    import sysconfig

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    import lume.fixtures
    import lume.generated
    import lume.runtime
    import lume.verifiers

    packages = (lume.runtime, lume.verifiers, lume.generated, lume.fixtures)
    for folder in {sysconfig.get_paths()["purelib"], *(p for pkg in packages for p in pkg.__path__)}:
        compileall.compile_dir(folder, quiet=2, workers=2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", default="1", help="root sizes to measure, in hours: 1 or 1,2,4 (default 1)")
    ap.add_argument("--scale", type=float, default=1.0, help="shrink every size and count (0.05: a quick run)")
    ap.add_argument("--work", type=Path, default=None,
                    help="folder to build the root in (a temporary folder below it, removed after)")
    ap.add_argument("--keep", type=Path, default=None,
                    help="build the root in this folder and keep it; a later run with the same --scale "
                         "reuses the hours already built there (for repeated measurements)")
    args = ap.parse_args()
    sizes = sorted({int(h) for h in args.hours.split(",")})
    compiled()
    per_hour = 2.9e9 * args.scale
    with contextlib.ExitStack() as stack:
        if args.keep is None:
            tmp = tempfile.TemporaryDirectory(prefix="lume-bench-root-", dir=args.work)
            work = Path(stack.enter_context(tmp))
        else:
            work = args.keep.absolute()
            work.mkdir(parents=True, exist_ok=True)
        built = work / "built.json"
        have = 0
        if built.exists() and orjson.loads(built.read_bytes()).get("scale") == args.scale:
            have = orjson.loads(built.read_bytes())["hours"]
        from lume.verifiers import all_verifiers, default_root

        env = {**os.environ, "LUME_KEY_DIR": str(work / "keys"), "XDG_CONFIG_HOME": str(work / "xdg"),
               "XDG_CACHE_HOME": str(work / "xdg-cache")}
        env.pop("LUME_CONFIG", None)
        dynamic = {i for i in all_verifiers()
                   if i.endswith(".properties") or i.startswith(("replay.", "rig."))}
        file_checks = sorted(set(all_verifiers()) - dynamic)
        root, pose_root = work / "root", work / "pose_coach"
        if not have:
            shutil.rmtree(root, ignore_errors=True)
            shutil.copytree(default_root(), root)
        print(f"[bench verify root] {sizes} h, scale {args.scale}; per hour ≈ {per_hour / 1e9:.2f} GB; "
              f"free on {work}: {shutil.disk_usage(work).free / 1e9:.0f} GB; {os.cpu_count()} cores")
        figures = []
        for h in sizes:
            if h < have:
                print(f"  NOTE: {h} h skipped: the kept root already holds {have} h")
                continue
            if h == have:  # kept from an earlier run (--keep)
                figures.append(measure(root, h, env, work, file_checks))
                continue
            need = (h - have) * per_hour * 1.5  # the staged copy and the archive beside the bundle
            if shutil.disk_usage(work).free < need + 5e9:
                print(f"  NOTE: {h} h skipped: not enough free disk (needs about {need / 1e9:.0f} GB)")
                break
            t = time.perf_counter()
            grow(root, pose_root, range(have, h), args.scale, work / "stage", env)
            shutil.rmtree(pose_root, ignore_errors=True)  # copied into the bundles
            print(f"  built {h - have} h with lume index / bundle create / add-pose-coach --copy in "
                  f"{time.perf_counter() - t:.0f} s")
            have = h
            built.write_bytes(orjson.dumps({"hours": have, "scale": args.scale}))
            figures.append(measure(root, h, env, work, file_checks))
        if len(figures) > 1:
            small, large = figures[0], figures[-1]
            growth = large["rss"] / small["rss"]
            print(f"[memory] peak RSS of full verify at {small['hours']} h {small['rss']:.0f} MiB, at "
                  f"{large['hours']} h {large['rss']:.0f} MiB: {growth:.2f}x"
                  + note(growth <= 1.10, "budget: flat, within 10 %"))
            if small["tree"] and large["tree"]:
                tree = large["tree"] / small["tree"]
                print(f"[memory] summed over its processes: {small['tree']:.0f} MiB at {small['hours']} h, "
                      f"{large['tree']:.0f} MiB at {large['hours']} h: {tree:.2f}x"
                      + note(tree <= 1.10, "budget: flat, within 10 %"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
