"""Storage throughput: sha256 hashing and K11 indexing, against `openssl dgst -sha256` in the same run.

    python benches/bench_storage.py [--mib 256] [--files 4] [--repeat 3]

1. One stream: a MiB-sized temp file hashed by `openssl dgst -sha256` (the fastest hasher
   here), by lume's sha256_file (1 MiB reads) and by coreutils `sha256sum`, on the same
   bytes (page cache warm). Budget (benches/README.md): lume >= 0.9x openssl.
2. Several files on both cores: the same bytes split into N files, hashed by lume's
   sha256_files (thread pool) vs N `openssl dgst` processes run 2 at a time.
3. Indexing: `index_root` over a root holding one archive (.tar, then .tar.gz) of those bytes
   (verify the sidecar, check and extract every member in one pass through a staging folder
   while hashing it, check the transport manifest, rename into place) vs the shell baseline
   `openssl dgst -sha256` + GNU `tar -xf` of the same archive (which checks nothing).

Prints GB/s (10^9 bytes per second, best of --repeat) and ratios. No assertion on time.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from lume.runtime.storage import index_root, sha256_file, sha256_files


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def best_prepared(prepare, fn, repeat: int) -> float:
    """Best time of `fn`, each run after an untimed `prepare`."""
    times = []
    for _ in range(repeat):
        prepare()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def gbps(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e9


def openssl(paths: list[Path], parallel: int = 1) -> None:
    if parallel == 1:
        subprocess.run(["openssl", "dgst", "-sha256", *map(str, paths)], check=True, stdout=subprocess.DEVNULL)
        return
    procs: list[subprocess.Popen] = []
    for p in paths:
        while len(procs) >= parallel:
            procs.pop(0).wait()
        procs.append(subprocess.Popen(["openssl", "dgst", "-sha256", str(p)], stdout=subprocess.DEVNULL))
    for proc in procs:
        proc.wait()


def write_random(path: Path, nbytes: int) -> None:
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        for i in range(nbytes >> 20):
            # vary each MiB cheaply so no two blocks are equal
            fh.write(i.to_bytes(8, "little") + chunk[8:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    if shutil.which("openssl") is None:
        sys.exit("openssl is not installed: no baseline to compare with")
    nbytes = a.mib << 20
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"storage bench: {a.mib} MiB, {a.files} files, best of {a.repeat}, {cores} cores, "
          f"{subprocess.run(['openssl', 'version'], capture_output=True, text=True).stdout.strip()}")
    with tempfile.TemporaryDirectory(prefix="lume-bench-storage-") as tmp_s:
        tmp = Path(tmp_s)
        big = tmp / "big.bin"
        write_random(big, nbytes)
        sha256_file(big)  # warm the page cache
        assert sha256_file(big) == subprocess.run(["openssl", "dgst", "-sha256", "-r", str(big)], check=True,
                                                  capture_output=True, text=True).stdout.split()[0]

        print("\n1. one stream")
        t_ssl = best(lambda: openssl([big]), a.repeat)
        t_lume = best(lambda: sha256_file(big), a.repeat)
        t_lib = best(lambda: hashlib.file_digest(open(big, "rb"), "sha256"), a.repeat)
        rows = [("openssl dgst -sha256", t_ssl), ("lume sha256_file (1 MiB reads)", t_lume),
                ("hashlib.file_digest", t_lib)]
        if shutil.which("sha256sum"):
            rows.append(("coreutils sha256sum", best(lambda: subprocess.run(
                ["sha256sum", str(big)], check=True, stdout=subprocess.DEVNULL), a.repeat)))
        for name, t in rows:
            print(f"   {name:34s} {gbps(nbytes, t):6.3f} GB/s   {t_ssl / t:5.2f}x openssl")

        print(f"\n2. {a.files} files on {cores} cores")
        part = nbytes // a.files
        parts = []
        with open(big, "rb") as src:
            for i in range(a.files):
                p = tmp / f"part{i}.bin"
                p.write_bytes(src.read(part))
                parts.append(p)
        sha256_files(parts)
        t_ssl_seq = best(lambda: openssl(parts), a.repeat)
        t_ssl_par = best(lambda: openssl(parts, parallel=cores), a.repeat)
        t_lume_par = best(lambda: sha256_files(parts), a.repeat)
        t_lume_seq = best(lambda: [sha256_file(p) for p in parts], a.repeat)
        for name, t in [("openssl, one process", t_ssl_seq), (f"openssl, {cores} processes at once", t_ssl_par),
                        ("lume sha256_file, one thread", t_lume_seq), ("lume sha256_files (thread pool)", t_lume_par)]:
            print(f"   {name:34s} {gbps(part * a.files, t):6.3f} GB/s   {t_ssl_par / t:5.2f}x parallel openssl")
        print(f"   thread-pool speed-up over one thread: {t_lume_seq / t_lume_par:.2f}x")

        print("\n3. indexing (one archive of the same bytes)")
        session = tmp / "session"
        (session / "raw/video").mkdir(parents=True)
        (session / "raw/labels").mkdir(parents=True)
        shutil.copyfile(big, session / "raw/video/webcam_main.mp4")
        (session / "raw/labels/labels.jsonl").write_text('{"t_s": 1, "label": "wave_color", "event": "marker", "source": "keyboard"}\n')
        (session / "session.json").write_text("{}\n")
        members = ("session.json", "raw/video/webcam_main.mp4", "raw/labels/labels.jsonl")
        contents = [{"path": rel, "sha256": sha256_file(session / rel), "byte_size": (session / rel).stat().st_size}
                    for rel in members]
        archives = {}
        for fmt, mode in (("tar", "w"), ("tar.gz", "w:gz")):
            archive = tmp / f"bench.{fmt}"
            kwargs = {"compresslevel": 1} if fmt == "tar.gz" else {}
            with tarfile.open(archive, mode, **kwargs) as tf:
                for rel in members:
                    tf.add(session / rel, arcname=rel)
            archives[fmt] = archive
        shutil.rmtree(session)
        for p in parts:
            p.unlink()
        big.unlink()

        def fresh_root(fmt: str) -> Path:
            archive, name = archives[fmt], archives[fmt].name
            root = tmp / "root"
            shutil.rmtree(root, ignore_errors=True)
            (root / "_incoming").mkdir(parents=True)
            (root / "_manifests").mkdir()
            os.link(archive, root / "_incoming" / name)
            digest = sha256_file(archive)
            (root / "_incoming" / f"{name}.sha256").write_text(f"{digest}  {name}\n")
            (root / "_manifests" / f"{name}.json").write_text(json.dumps({
                "schema": "lume.transport_manifest.v1", "session_id": "bench", "archive_name": name,
                "archive_sha256": digest, "archive_bytes": archive.stat().st_size, "source_machine": "Mac4",
                "created_at_unix": 1780000000, "format": fmt, "contents": contents}))
            return root

        figures = {}
        for fmt in ("tar", "tar.gz"):
            size = archives[fmt].stat().st_size
            state = {}

            def prepare() -> None:
                state["root"] = fresh_root(fmt)

            def lume_index() -> None:
                result = index_root(state["root"])
                assert result.ok, result.to_dict()

            def shell_baseline() -> None:
                root = state["root"]
                out = root / "_processed/bench/sources/mac4_tier0"
                out.mkdir(parents=True)
                subprocess.run(["openssl", "dgst", "-sha256", str(root / "_incoming" / archives[fmt].name)],
                               check=True, stdout=subprocess.DEVNULL)
                subprocess.run(["tar", "-xf", str(root / "_incoming" / archives[fmt].name), "-C", str(out)],
                               check=True)

            t_index = best_prepared(prepare, lume_index, a.repeat)
            t_shell = best_prepared(prepare, shell_baseline, a.repeat)
            prepare()
            lume_index()
            t_rerun = best(lambda: index_root(state["root"]), a.repeat)  # nothing to do: already current
            figures[fmt] = t_shell / t_index
            print(f"   .{fmt:7s} lume index (verify+extract+check) {gbps(size, t_index):6.3f} GB/s   "
                  f"{t_shell / t_index:5.2f}x openssl + tar -xf ({gbps(size, t_shell):.3f} GB/s)")
            print(f"   .{fmt:7s} rerun, already current          {t_rerun * 1000:8.1f} ms   "
                  f"{t_index / t_rerun:7.0f}x faster than the first run")

        print(f"\nsummary: one-stream hashing {t_ssl / t_lume:.2f}x openssl (budget >= 0.9x); "
              f"{a.files} files {t_ssl_par / t_lume_par:.2f}x parallel openssl; "
              f"indexing .tar {figures['tar']:.2f}x / .tar.gz {figures['tar.gz']:.2f}x openssl+tar")


if __name__ == "__main__":
    main()
