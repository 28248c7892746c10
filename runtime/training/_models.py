"""Model artifact records under seed 002's eight live-safe criteria (lume:contract:live_safe_policy:v1).

`assess` reads one lume.model_artifact.v1 record and decides each criterion from the files the
record names (path, sha256, byte size, relative to the record's folder and never outside the
root): a criterion is met only when its files are present with those digests and its own rule
holds (the live output moves, the fallback test passed, …). Every digest or size that differs
from its file is a problem whatever the record claims; a record claiming `live_safe` with any
criterion missing is a problem too. A `candidate` missing criteria is simply a candidate.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lume.runtime.core import Evidence, InputError, held, violated

from ._io import load_document, sha256_file, table_data
from ._npz import read_npz

POLICY = "live_safe_policy.v1"
RECORD = "model_artifact.v1"


def policy() -> dict[str, Any]:
    return table_data(POLICY)


def criteria() -> list[dict[str, Any]]:
    return sorted(policy()["criteria"], key=lambda c: c["order"])


@dataclass
class FileCheck:
    path: str  # relative to the root (or as recorded when it cannot be placed)
    ok: bool
    detail: str
    sha256: str | None = None


@dataclass
class Assessment:
    record: str
    run_id: str
    claimed: str
    model: dict[str, Any]
    criteria: list[dict[str, Any]] = field(default_factory=list)  # id, order, sentence, met, detail, evidence
    problems: list[Evidence] = field(default_factory=list)
    doc: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        s = policy()["statuses"]
        return s["all_met"] if all(c["met"] for c in self.criteria) else s["otherwise"]

    def met(self, ids: list[str] | None = None) -> bool:
        return all(c["met"] for c in self.criteria if ids is None or c["id"] in ids)

    def missing(self, ids: list[str] | None = None) -> list[str]:
        return [c["id"] for c in self.criteria if not c["met"] and (ids is None or c["id"] in ids)]

    def evidence(self) -> list[Evidence]:
        """The check's view: problems, a failed live-safe claim, and the criteria as held facts."""
        out = list(self.problems)
        crit = "; ".join(f"{c['order']}. {c['sentence']}: {'met' if c['met'] else 'MISSING'} ({c['detail']})"
                         for c in self.criteria)
        if self.claimed == policy()["statuses"]["all_met"] and self.status != self.claimed:
            out.append(violated(f"{self.run_id} claims live_safe but misses {', '.join(self.missing())}",
                                file=self.record, field="status", expected="all eight criteria met",
                                found=self.missing()))
        elif not self.problems:
            out.append(held(f"{self.run_id}: {self.status} ({len(self.criteria) - len(self.missing())} of "
                            f"{len(self.criteria)} criteria met; claims {self.claimed}): {crit}",
                            file=self.record, field="status", expected=self.claimed, found=self.status))
        return out


class _Files:
    """Resolves and checks the files a record names, relative to its folder, inside the root."""

    def __init__(self, root: Path, record_rel: str, digest: Callable[[str], str]):
        self.root, self.record_rel, self.digest = root, record_rel, digest
        self.folder = posixpath.dirname(record_rel)
        self.problems: list[Evidence] = []

    def rel(self, path: str) -> str | None:
        joined = posixpath.normpath(posixpath.join(self.folder, path))
        return None if joined == ".." or joined.startswith("../") or joined.startswith("/") else joined

    def check(self, ref: dict[str, Any], field: str) -> FileCheck:
        rel = self.rel(ref["path"])
        if rel is None:
            self.problems.append(violated("path leaves the verified root", file=self.record_rel, field=field,
                                          expected="a path inside the root", found=ref["path"]))
            return FileCheck(ref["path"], False, f"{ref['path']} is outside the root")
        path = self.root / rel
        if not path.is_file():
            self.problems.append(violated("file the record names is missing", file=self.record_rel,
                                          field=field,
                                          expected=rel, found=None))
            return FileCheck(rel, False, f"{rel} is missing")
        size = path.stat().st_size
        if size != ref["byte_size"]:
            self.problems.append(violated("byte size differs from the record", file=rel,
                                          field=f"{self.record_rel}: {field}", expected=ref["byte_size"],
                                          found=size))
            return FileCheck(rel, False, f"{rel} is {size} bytes, the record says {ref['byte_size']}")
        got = self.digest(rel)
        if got != ref["sha256"]:
            self.problems.append(violated("sha256 differs from the record", file=rel,
                                          field=f"{self.record_rel}: {field}", expected=ref["sha256"],
                                          found=got))
            return FileCheck(rel, False,
                             f"{rel} sha256 {got[:12]}… differs from the record's {ref['sha256'][:12]}…",
                             got)
        return FileCheck(rel, True, f"{rel} matches", got)


def load_record(path: Path) -> dict[str, Any]:
    return load_document(path, RECORD)


def assess(doc: dict[str, Any], root: Path, record_rel: str,
           digest: Callable[[str], str] | None = None) -> Assessment:
    """The eight criteria of one (schema-valid) record found at `root / record_rel`."""
    root = Path(root)
    digest = digest or (lambda rel: sha256_file(root / rel))
    files = _Files(root, record_rel, digest)
    a = Assessment(record_rel, doc["run_id"], doc["status"], doc["model"], doc=doc)
    rules = policy()["model_rules"]
    decided: dict[str, tuple[bool, str, list[FileCheck]]] = {}

    def refs(items: list[tuple[dict[str, Any], str]]) -> tuple[bool, list[FileCheck]]:
        checks = [files.check(ref, field) for ref, field in items]
        return bool(checks) and all(c.ok for c in checks), checks

    ok, checks = refs([(d, f"datasets[{i}]") for i, d in enumerate(doc["datasets"])])
    decided["source_data_archived"] = (ok, f"{len(checks)} dataset(s)" + ("" if checks else ": none listed"),
                                       checks)

    code = doc["code"]
    pins = [k for k in ("commit", "version", "sha256") if code.get(k)]
    detail, code_checks, ok = f"{code['repository']} {code['entry']}", [], bool(pins)
    detail += f" pinned by {', '.join(pins)}" if pins else ": not pinned (no commit, version or sha256)"
    if code.get("copy"):
        if not code.get("sha256"):
            ok, detail = False, detail + "; a copy without a sha256 proves nothing"
        else:
            c = files.check({"path": code["copy"], "sha256": code["sha256"],
                             "byte_size": _size(root, files.rel(code["copy"]))}, "code.copy")
            code_checks.append(c)
            ok = ok and c.ok
    decided["training_or_rule_code_identified"] = (ok, detail, code_checks)

    ok, checks = refs([(x, f"artifacts[{i}]") for i, x in enumerate(doc["artifacts"])])
    decided["runtime_artifact_identified"] = (ok, f"{len(checks)} exported artifact(s)" +
                                              ("" if checks else ": none listed"), checks)

    dev = doc["on_device"]
    if dev is None:
        decided["on_device_load_verified"] = (False, "no on-device load recorded", [])
    else:
        c = files.check(dev["evidence"], "on_device.evidence")
        decided["on_device_load_verified"] = (dev["loaded"] and c.ok,
                                              f"{dev['device']} build {dev['build']}: "
                                              + ("loaded" if dev["loaded"] else "did NOT load"), [c])

    live = doc["live_output"]
    if live is None:
        decided["live_output_non_flat"] = (False, "no live output recorded", [])
    else:
        c = files.check(live, "live_output")
        ok, detail = (False, c.detail) if not c.ok else _non_flat(root / c.path, rules)
        decided["live_output_non_flat"] = (ok, detail, [c])

    obs = doc["observations"]
    if obs is None:
        decided["behavior_observed"] = (False, "no observation recorded", [])
    else:
        c = files.check(obs["log"], "observations.log")
        decided["behavior_observed"] = (bool(obs["observed"]) and c.ok,
                                        f"{len(obs['observed'])} observation(s)", [c])

    fb = doc["fallback"]
    if fb is None:
        decided["fallback_tested"] = (False, "no fallback artifact named", [])
    else:
        checks = [files.check(fb["artifact"], "fallback.artifact")]
        test = fb["test"]
        if test is not None:
            checks.append(files.check(test["log"], "fallback.test.log"))
        ok = all(c.ok for c in checks) and test is not None and test["passed"]
        state = "not tested" if test is None else ("test passed" if test["passed"] else "test FAILED")
        decided["fallback_tested"] = (ok, f"{fb['artifact']['name']} via {fb['switch']}: {state}", checks)

    rep = doc["report"]
    if rep is None:
        decided["report_written"] = (False, "no report named", [])
    else:
        c = files.check(rep, "report")
        decided["report_written"] = (c.ok, c.detail, [c])

    for crit in criteria():
        ok, detail, checks = decided[crit["id"]]
        a.criteria.append({"id": crit["id"], "order": crit["order"], "sentence": crit["sentence"],
                           "met": bool(ok),
                           "detail": detail, "evidence": [{"path": c.path,
                                                           "sha256": c.sha256} for c in checks]})
    a.problems = files.problems
    return a


def _size(root: Path, rel: str | None) -> int:
    try:
        return (root / rel).stat().st_size if rel else -1
    except OSError:
        return -1


def _non_flat(path: Path, rules: dict[str, Any]) -> tuple[bool, str]:
    import numpy as np  # here: `lume verify` imports this module, and most roots hold no model arrays
    try:
        arrays, refused = read_npz(path)
    except InputError as exc:
        return False, str(exc)
    name = rules["live_output_array"]
    arr = arrays.get(name)
    if arr is None or arr.dtype.kind not in "fiu":
        return False, f"no numeric `{name}` array" + (f" ({refused[name]})" if name in refused else "")
    values = np.asarray(arr, dtype=np.float64).reshape(arr.shape[0], -1) if arr.ndim else np.zeros((0, 0))
    if values.shape[0] < rules["min_live_output_frames"]:
        return False, f"{values.shape[0]} frame(s), needs {rules['min_live_output_frames']}"
    if not np.isfinite(values).all():
        return False, "live output holds NaN or infinity"
    spread = float(values.std(axis=0).max()) if values.size else 0.0
    ok = spread >= rules["non_flat_min_std"]
    return ok, (f"{values.shape[0]} frames, largest per-dimension std {spread:.4g} "
                f"({'>=' if ok else '<'} {rules['non_flat_min_std']:g})")
