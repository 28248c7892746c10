"""Storage under hostile or large inputs (issue 18) and verify without decompressing (issue 19.2).

    python benches/bench_storage_bounds.py [--zero-mib 300] [--manifest-lines 300000] [--archive-mib 256]

Each figure is measured in this run, as the CLI runs (a child process), with its baseline:

1. A .tar.gz holding one run of zeros (--zero-mib MiB; 300 MB took 973 MB RSS and 26 s with a
   1 MiB stream buffer): peak RSS and time of `lume index` (the storage_root.v2 10 KiB buffer)
   vs the same stream read through tarfile with a 1 MiB buffer (the old reader) and vs GNU
   `tar -xzf`.
2. A bag whose manifest lists --manifest-lines files that are not there (300k did not finish in
   30 s, 925 MB): peak RSS and time of `lume bag validate` vs bagit-python's own validator
   (`python -m bagit --validate`).
3. The transport-manifest check of `lume verify` on a root holding one --archive-mib MiB
   .tar.gz: with the member digests the indexer recorded (default) vs `--deep` (decompress and
   hash every member again) vs `openssl dgst` of the archive (what remains: its own digest).

Prints figures and ratios; asserts nothing about time.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
           "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)")
LUME = [sys.executable, "-m", "lume.runtime.cli"]


def measured(*cmd: str, env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(seconds, peak RSS MiB, exit code) of a command run as a child process."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True,
                         env=env).stdout.split()
    return float(out[0]), int(out[1]) / 1024, int(out[2])


def zeros_archive(path: Path, mib: int) -> None:
    """A .tar.gz of a Mac4 session whose log is `mib` MiB of zeros (a few hundred KB compressed)."""
    raw = path.with_suffix(".tar.tmp")
    with tarfile.open(raw, "w") as tf:
        for name, data in {"s/session.json": b"{}", "s/raw/labels/labels.jsonl": b"",
                           "s/raw/video/webcam_main.mp4": b"\x00" * 1024}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, __import__("io").BytesIO(data))
        info = tarfile.TarInfo("s/logs/zeros.log")
        info.size = mib << 20

        class Zeros:
            left = info.size

            def read(self, n: int = -1) -> bytes:
                n = self.left if n < 0 else min(n, self.left)
                self.left -= n
                return b"\x00" * n
        tf.addfile(info, Zeros())
    with open(raw, "rb") as src, gzip.open(path, "wb", compresslevel=6) as out:
        shutil.copyfileobj(src, out, 1 << 20)
    raw.unlink()


def sidecar(path: Path) -> None:
    from lume.runtime.storage import sha256_file

    path.with_name(path.name + ".sha256").write_text(f"{sha256_file(path)}  {path.name}\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zero-mib", type=int, default=300)
    ap.add_argument("--manifest-lines", type=int, default=300_000)
    ap.add_argument("--archive-mib", type=int, default=256)
    a = ap.parse_args()
    env = {**os.environ, "LUME_CACHE_DIR": tempfile.mkdtemp(prefix="lume-bench-cache-"),
           "LUME_KEY_DIR": tempfile.mkdtemp(prefix="lume-bench-keys-")}
    print(f"storage bounds bench: {a.zero_mib} MiB zero member, {a.manifest_lines} manifest lines, "
          f"{a.archive_mib} MiB archive")
    with tempfile.TemporaryDirectory(prefix="lume-bench-bounds-") as tmp_s:
        tmp = Path(tmp_s)

        print(f"\n1. a .tar.gz with a {a.zero_mib} MiB run of zeros")
        root = tmp / "zeros"
        (root / "_incoming").mkdir(parents=True)
        archive = root / "_incoming" / "s.tar.gz"
        zeros_archive(archive, a.zero_mib)
        sidecar(archive)
        t, rss, code = measured(*LUME, "index", str(root), "--max-bytes", str(10 ** 12), "--json", env=env)
        old = ("import sys, tarfile; tf = tarfile.open(sys.argv[1], 'r|*', bufsize=1 << 20)\n"
               "for m in tf:\n    f = tf.extractfile(m)\n    f and [None for _ in iter(lambda: f.read(1 << 20), b'')]")
        t_old, rss_old, _ = measured(sys.executable, "-c", old, str(archive))
        out = tmp / "tar-out"
        out.mkdir()
        t_tar, rss_tar, _ = measured("tar", "-xzf", str(archive), "-C", str(out))
        print(f"   lume index (10 KiB stream buffer)    {t:6.2f} s  {rss:7.1f} MiB peak RSS  (exit {code})")
        print(f"   tarfile r|* with a 1 MiB buffer      {t_old:6.2f} s  {rss_old:7.1f} MiB   "
              f"lume uses {rss / rss_old:.2f}x its memory")
        print(f"   GNU tar -xzf                         {t_tar:6.2f} s  {rss_tar:7.1f} MiB   "
              f"lume takes {t / t_tar:.2f}x its time")
        shutil.rmtree(root)
        shutil.rmtree(out)

        print(f"\n2. a bag whose manifest lists {a.manifest_lines} missing files")
        bag = tmp / "bag"
        (bag / "data").mkdir(parents=True)
        (bag / "data/a.txt").write_text("hi\n")
        (bag / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
        digest = __import__("hashlib").sha256(b"hi\n").hexdigest()
        with open(bag / "manifest-sha256.txt", "w") as fh:
            fh.write(f"{digest}  data/a.txt\n")
            fh.writelines(f"{digest}  data/missing/{i:07d}.bin\n" for i in range(a.manifest_lines))
        t, rss, code = measured(*LUME, "bag", "validate", str(bag), "--json", env=env)
        t_b, rss_b, code_b = measured(sys.executable, "-m", "bagit", "--validate", str(bag))
        print(f"   lume bag validate                    {t:6.2f} s  {rss:7.1f} MiB peak RSS  (exit {code}: invalid)")
        print(f"   python -m bagit --validate           {t_b:6.2f} s  {rss_b:7.1f} MiB   "
              f"lume {t / t_b:.2f}x its time, {rss / rss_b:.2f}x its memory (exit {code_b})")
        shutil.rmtree(bag)

        print(f"\n3. verify's transport check on one {a.archive_mib} MiB .tar.gz")
        root = tmp / "verify"
        (root / "_incoming").mkdir(parents=True)
        (root / "_manifests").mkdir()
        payload = tmp / "video.bin"
        with open(payload, "wb") as fh:
            for i in range(a.archive_mib):
                fh.write(os.urandom(1 << 20))
        members = {"s/session.json": None, "s/raw/labels/labels.jsonl": None, "s/raw/video/webcam_main.mp4": payload}
        archive = root / "_incoming" / "s.tar.gz"
        with tarfile.open(archive, "w:gz", compresslevel=1) as tf:
            for name, src in members.items():
                if src is None:
                    info = tarfile.TarInfo(name)
                    tf.addfile(info, __import__("io").BytesIO(b""))
                else:
                    tf.add(src, arcname=name)
        from lume.runtime.storage import sha256_file

        contents = [{"path": "s/session.json", "sha256": sha256_file(os.devnull), "byte_size": 0},
                    {"path": "s/raw/labels/labels.jsonl", "sha256": sha256_file(os.devnull), "byte_size": 0},
                    {"path": "s/raw/video/webcam_main.mp4", "sha256": sha256_file(payload),
                     "byte_size": payload.stat().st_size}]
        payload.unlink()
        sidecar(archive)
        (root / "_manifests" / "s.tar.gz.json").write_text(json.dumps({
            "schema": "lume.transport_manifest.v1", "session_id": "s", "archive_name": "s.tar.gz",
            "archive_sha256": sha256_file(archive), "archive_bytes": archive.stat().st_size,
            "source_machine": "Mac4", "created_at_unix": 1780000000, "format": "tar.gz", "contents": contents}))
        subprocess.run([*LUME, "index", str(root), "--json"], check=True, stdout=subprocess.DEVNULL, env=env)
        check = ["verify", str(root), "--only", "storage.integrity", "-o", str(tmp / "r.json"), "--json"]
        t_rec, rss_rec, _ = measured(*LUME, *check, env=env)
        t_deep, rss_deep, _ = measured(*LUME, *check, "--deep", env=env)
        t_ssl, _, _ = measured("openssl", "dgst", "-sha256", str(archive)) if shutil.which("openssl") else (0, 0, 0)
        print(f"   lume verify (recorded member digests) {t_rec:6.2f} s  {rss_rec:7.1f} MiB")
        print(f"   lume verify --deep (decompress again) {t_deep:6.2f} s  {rss_deep:7.1f} MiB   "
              f"recorded digests {t_deep / t_rec:.2f}x faster")
        if t_ssl:
            print(f"   openssl dgst of the archive           {t_ssl:6.2f} s   verify {t_rec / t_ssl:.2f}x its time")


if __name__ == "__main__":
    main()
