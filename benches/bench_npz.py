"""Training NPZ reads: what the member cap costs, and what it saves under a zip bomb.

    python benches/bench_npz.py [--mib 256] [--bomb-mib 4200] [--baseline-bomb-mib 512]

Each figure is measured in this run, in a child process (time and peak RSS), with its baseline:

1. An ordinary stored NPZ (what `write_npz` writes) of four float32 arrays, --mib MiB in all:
   `lume.runtime.training.read_npz` (every member decompressed through a cap, input_limits.v1
   `training_arrays`) vs numpy's own reader (`np.load(allow_pickle=False)`, every array read).
2. A zip bomb: one deflated member of --bomb-mib MiB of zeros (a few MiB on disk), above the
   shipped 4 GiB `max_member_bytes`: `read_npz` refuses it vs numpy's reader on a smaller bomb
   of --baseline-bomb-mib MiB, which it decompresses whole into memory.

Prints figures and ratios; asserts nothing about time.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
           "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)")
LUME_READ = ("import sys; from lume.runtime.core import InputError; from lume.runtime.training import read_npz\n"
             "try:\n    arrays, refused = read_npz(sys.argv[1])\nexcept InputError:\n    sys.exit(2)\n"
             "sys.exit(1 if refused else 0)")
NUMPY_READ = ("import sys, numpy as np\nwith np.load(sys.argv[1], allow_pickle=False) as f:\n"
              "    arrays = {k: f[k] for k in f.files}")


def measured(code: str, path: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS MiB, exit code) of `python -c code path` run as a child process."""
    out = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-c", code, str(path)],
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1]) / 1024, int(out[2])


def ordinary(path: Path, mib: int) -> None:
    import numpy as np

    from lume.runtime.training import write_npz

    n = (mib << 20) // 16  # four float32 arrays
    write_npz(path, {f"a{i}": np.full(n, i, np.float32) for i in range(4)})


def bomb(path: Path, mib: int) -> None:
    """One deflated .npy member of `mib` MiB of zeros, written in a stream (never held)."""
    import io

    import numpy as np

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (mib << 20,)})
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("zeros.npy", "w", force_zip64=True) as w:
            w.write(header.getvalue())
            for _ in range(mib):
                w.write(chunk)


def row(name: str, fig: tuple[float, float, int], base: tuple[float, float, int] | None = None) -> None:
    ratio = f"  ({fig[0] / base[0]:.2f}x time, {fig[1] / base[1]:.2f}x RSS)" if base else ""
    print(f"  {name:<44} {fig[0]:8.3f} s {fig[1]:9.1f} MiB  exit {fig[2]}{ratio}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--bomb-mib", type=int, default=4200)
    ap.add_argument("--baseline-bomb-mib", type=int, default=512)
    args = ap.parse_args()
    from lume.runtime.core import input_limit

    limit = input_limit("training_arrays")
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        print(f"1. ordinary stored NPZ, {args.mib} MiB in four float32 arrays")
        ordinary(folder / "ok.npz", args.mib)
        base = measured(NUMPY_READ, folder / "ok.npz")
        row("numpy np.load, every array (baseline)", base)
        row("read_npz (capped members)", measured(LUME_READ, folder / "ok.npz"), base)

        print(f"2. zip bomb: one member of {args.bomb_mib} MiB of zeros "
              f"(max_member_bytes {limit.max_member_bytes >> 20} MiB)")
        bomb(folder / "bomb.npz", args.bomb_mib)
        small = folder / "small-bomb.npz"
        bomb(small, args.baseline_bomb_mib)
        print(f"  on disk: {(folder / 'bomb.npz').stat().st_size / 2**20:.1f} MiB; "
              f"baseline bomb {args.baseline_bomb_mib} MiB: {small.stat().st_size / 2**20:.1f} MiB")
        base = measured(NUMPY_READ, small)
        row(f"numpy np.load, {args.baseline_bomb_mib} MiB bomb (baseline)", base)
        row(f"read_npz, {args.bomb_mib} MiB bomb (refused: exit 2)", measured(LUME_READ, folder / "bomb.npz"), base)


if __name__ == "__main__":
    main()
