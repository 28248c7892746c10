"""The whole default `lume verify` (issue 14): the file checks plus the property verifiers and the
route-smoke replay, at the budget of property_checks.v1's report profile, over the shipped fixtures.

Prints wall and CPU time of the full run and of the file checks alone, measured in the same
process (the baseline), their ratio, and the time of every check. Budget: the full default run
stays under about 30 s on 2 cores (benches/README.md); CPU time is shown beside wall time
because a shared machine stretches wall time without the run doing more work.

Run: python benches/bench_verify_full.py [--profile report]
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_S = 30.0


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def cli(args: list[str], env: dict[str, str]) -> tuple[int, float, float]:
    """`lume verify ARGS` as its own process: exit code, wall and CPU seconds (imports, key, signing)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lume.runtime.cli", "verify", *args], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.returncode, wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default=None, help="property_checks.v1 profile (default: its default_profile)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lume-bench-verify-full-") as tmp:
        os.environ["LUME_CACHE_DIR"] = str(Path(tmp) / "cache")
        if args.profile:
            os.environ["LUME_PROPERTY_PROFILE"] = args.profile
        from lume.verifiers import all_verifiers, default_root, run
        from lume.verifiers._properties import profile_name

        root = default_root()
        dynamic = {i for i in all_verifiers() if i.endswith(".properties") or i.startswith(("replay.", "rig."))}
        files_only = sorted(set(all_verifiers()) - dynamic)
        run(root, only=files_only, cache_folder=Path(tmp) / "warm")  # warm contract and schema caches
        _, base_wall, base_cpu = timed(lambda: run(root, only=files_only, cache_folder=Path(tmp) / "base"))
        full, wall, cpu = timed(lambda: run(root, cache_folder=Path(tmp) / "full"))
        env = {**os.environ, "LUME_KEY_DIR": str(Path(tmp) / "keys"), "XDG_CONFIG_HOME": str(Path(tmp) / "xdg")}
        env.pop("LUME_CONFIG", None)
        out = str(Path(tmp) / "reports" / "readiness.json")
        cli(["-o", out, "--only", ",".join(files_only)], env)  # creates the key: not timed
        base_rc, cli_base_wall, cli_base_cpu = cli(["-o", out, "--only", ",".join(files_only)], env)
        rc, cli_wall, cli_cpu = cli(["-o", out], env)
    green = all(c.status == "pass" for c in full.checks)
    print(f"[verify full] route-smoke fixtures, property profile {profile_name()!r}, {len(full.checks)} checks "
          f"({len(full.not_applicable)} not applicable), all pass: {green}")
    print(f"  `lume verify --only <file checks>` (baseline)  wall {cli_base_wall:6.2f} s   cpu {cli_base_cpu:6.2f} s"
          f"   exit {base_rc}")
    print(f"  `lume verify` (the full default run)          wall {cli_wall:6.2f} s   cpu {cli_cpu:6.2f} s   exit {rc}"
          f"   ratio {cli_wall / cli_base_wall:.1f}x  (budget: under about {BUDGET_S:.0f} s on 2 cores)")
    print(f"  in-process: file checks {base_wall:.2f} s wall / {base_cpu:.2f} s cpu; all checks {wall:.2f} s wall"
          f" / {cpu:.2f} s cpu")
    for c in sorted(full.checks, key=lambda c: -c.duration_ms):
        found = [e.found for e in c.evidence if isinstance(e.found, dict) and "examples" in e.found]
        examples = sum(f["examples"] for f in found)
        extra = f"  {examples} examples over {len(found)} properties" if found else ""
        print(f"    {c.id:<32} {c.duration_ms / 1000:6.2f} s  {c.status}{extra}")
    return 0 if green else 1


if __name__ == "__main__":
    sys.exit(main())
