"""Promotion (seed 000 Wave 7): visual templates fast, command templates only with proof.

`promote(bundle_dir, visual=True)` writes the visual-template manifest for Mac4 Unity / Web Lab.
`promote(bundle_dir, command=True)` follows seed 000's promotion path for every command
gesture of labels.v1:

1. the proof matrix (lume.runtime.templates.proof): each labelled window of the bundle's
   recorded K11 camera replayed on the real AirDeck gate in dry run -> physical examples,
   dispatched examples, false triggers in negative windows, fallback runs;
2. the checks of promotion_policy.v1 `command` and seed 002's eight criteria, per gesture;
3. the gestures that pass everything so far go into a candidate manifest, and the real gate
   replays the whole recorded evidence against it (one dry run, nothing sent) into an
   airdeck_dry_run_report.v2 report; a gesture the run never dispatched (e.g. locked out by
   an earlier safe stop) is dropped and the run repeated, a failed audit drops them all;
4. on the command authority machine (SAFE-AUTHORITY-K11, from the machine config) the green
   run's dry-run report is signed (airdeck_dry_run_report.v2 in a DSSE envelope) and the
   manifest is signed as an in-toto Statement whose subjects are the digests of the evidence it
   rests on (labelled clips, windows, templates, proof matrix, the signed dry-run report);
   the signed manifest is read back by the gate's own loader and checked against the contracts,
   its evidence and the report exactly as `lume airdeck run --live` would, and only then
   written as `derived/airdeck/promoted_gestures.json`, with the report beside it. Without a
   signing key (or with a key the trust file does not hold) nothing is promoted.

`promotion_candidates.json` records every gesture, promoted or not, with each check and
criterion and what is missing. When nothing qualifies, an earlier promoted manifest of the
bundle is withdrawn (removed): the gate must never read a promotion this evidence no longer
supports.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lume.runtime.airdeck import (
    Authority,
    DispatchGate,
    PromotedManifest,
    Rules,
    build_report,
    consistency_problems,
    evidence_problems,
    gesture_entry,
    live_report_problem,
    load_manifest,
    replay,
    sign_dry_run,
    sign_manifest,
)
from lume.runtime.core import (
    InputError,
    LabelIndex,
    SigningKey,
    Staged,
    dumps,
    get,
    load_trust,
    now_iso,
    problems,
    write_bytes,
    write_text,
)
from lume.runtime.storage import register_derived

from . import _criteria as criteria
from . import _evidence as evidence
from . import _policy as policy
from . import _proof as proof
from . import _streams as streams
from . import _visual as visual
from ._analyzer import TEMPLATES_FILE, WINDOWS_FILE, load_outputs
from ._bundle import Bundle, derived_file

VISUAL_FILE = derived_file("templates", "lume:contract:visual_templates:v1")
CANDIDATES_FILE = derived_file("airdeck", "lume:contract:promotion_candidates:v1")
MATRIX_FILE = derived_file("airdeck", "lume:contract:physical_proof_matrix:v1")
MANIFEST_FILE = derived_file("airdeck", "lume:contract:airdeck_promoted_gestures:v1")
REPORT_FILE = derived_file("airdeck", "lume:contract:airdeck_dry_run_report:v2")
LOG_FILE = derived_file("airdeck", "lume:contract:airdeck_decision:v1")
EVENTS_FILE = derived_file("airdeck", "lume:contract:gesture_event:v1")
FRAMES_FILE = derived_file("airdeck", "lume:contract:body_truth:v0")
TOOL = "lume promote"
MANIFEST_SCHEMA = "lume.airdeck.promoted_gestures.v1"


@dataclass
class PromotionResult:
    bundle_dir: Path
    visual: dict[str, Any] | None = None
    candidates: dict[str, Any] | None = None
    matrix: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None
    written: dict[str, bool] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    manifest_file: bytes = b""  # the signed manifest as written (a DSSE envelope)

    @property
    def promoted(self) -> list[str]:
        return [] if self.manifest is None else [g["label"] for g in self.manifest["gestures"]]

    @property
    def exported(self) -> list[str]:
        return [] if self.visual is None else [t["label"] for t in self.visual["templates"]]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bundle_dir": str(self.bundle_dir), "written": self.written,
                               "removed": self.removed}
        if self.visual is not None:
            out["visual"] = {"exported": self.exported, "not_exported": self.visual["not_exported"]}
        if self.candidates is not None:
            out["command"] = {
                "promoted": self.promoted,
                "dry_run": self.candidates["dry_run"],
                "candidates": [{k: c[k] for k in ("label", "command", "status", "examples",
                                                  "dispatched_examples", "false_triggers", "missing")}
                               for c in self.candidates["candidates"]]}
        return out


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _now() -> str:
    return now_iso()


def _valid(doc: Any, stem: str, where: str) -> Any:
    found = problems(doc, get(stem), file=where)
    if found:  # what we build must meet its contract: a bug of ours, never of the input
        raise RuntimeError(f"{where} would break its contract: {found[0]}")
    return doc


def _jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"
                   for r in records).encode()


def _config(config: dict[str, Any] | Path | str | None) -> dict[str, Any] | None:
    """The machine config: a validated dict, a file, or (None) this installation's config."""
    from lume.runtime.core import load_machine_config, validated

    if isinstance(config, dict):
        return validated(config, "machine_config.v1", file="<config>")
    return load_machine_config(Path(config) if config is not None else None)


def promote(bundle_dir: Path, *, visual: bool = False, command: bool = False,
            config: dict[str, Any] | Path | str | None = None,
            progress: Callable[[int, int], None] | None = None, key: SigningKey | None = None,
            trust: list[dict[str, Any]] | None = None) -> PromotionResult:
    """Promote the bundle's templates (run `build_templates` first). InputError on bad input.

    The command lane signs its dry-run report and manifest with `key` and checks them as live
    mode will against `trust` (default the trust file): without a key nothing is promoted."""
    if not (visual or command):
        raise ValueError("promote what? pass visual=True and/or command=True")
    b = Bundle.open(bundle_dir)
    windows, tdoc, digests = load_outputs(b.path)
    if tdoc["bundle"]["bundle_sha256"] != b.sha256:
        raise InputError(f"{b.path / TEMPLATES_FILE}: built from bundle.json sha256 "
                         f"{tdoc['bundle']['bundle_sha256']}, which is now {b.sha256}: run "
                         f"`lume templates build {b.path}` again")
    result = PromotionResult(b.path)
    now = _now()
    ref = {"bundle_id": b.bundle_id, "path": str(b.path.resolve()), "bundle_sha256": b.sha256}
    if visual:
        doc = _valid(visual_doc(windows, tdoc, digests, ref, now), "visual_templates.v1", VISUAL_FILE)
        result.written[VISUAL_FILE] = write_text(b.path / VISUAL_FILE, dumps(doc))
        result.visual = doc
    if command:
        signer = _Signer(key, load_trust() if trust is None and key is not None else trust or [])
        _command(b, windows, tdoc, digests, ref, now, _config(config), result, progress, signer)
    _register(b.path, visual=visual, command=command)
    return result


def _register(root: Path, *, visual: bool, command: bool) -> None:
    """Record what promotion wrote in bundle.json `derived[]`, with checksums (bundle_layout.v1)."""
    if visual:
        register_derived(root, [VISUAL_FILE], tool=TOOL)
    if command:
        airdeck = [rel for rel in (CANDIDATES_FILE, MATRIX_FILE, MANIFEST_FILE, REPORT_FILE, LOG_FILE,
                                   EVENTS_FILE, FRAMES_FILE) if (root / rel).is_file()]
        register_derived(root, airdeck, tool=TOOL)


@dataclass
class _Signer:
    """The key the promotion signs with and the trust its output is checked against."""

    key: SigningKey | None
    trust: list[dict[str, Any]]

    def report_bytes(self, report: dict[str, Any]) -> bytes:
        """The dry-run report as written: signed when there is a key, else the bare document."""
        return dumps(report if self.key is None else sign_dry_run(report, self.key)).encode()


def visual_doc(windows, tdoc, digests, ref, now):
    return visual.document(windows, tdoc, {"path": TEMPLATES_FILE, "sha256": digests[TEMPLATES_FILE]},
                           bundle=ref, generated_at=now)


# ------------------------------------------------------------------------------ command lane
def _pose_coach_streams(b: Bundle, tdoc: dict[str, Any]) -> list[tuple[streams.Stream, str]]:
    """The Pose Coach streams the templates were built from, read again and checked unchanged."""
    built = {(i["kind"], i["path"]): i["sha256"] for i in tdoc["inputs"]}
    out = []
    for entry in b.sources_of("guided_pose_clip"):
        session = b.pose_coach_folder(entry)
        if session is None:
            continue
        path = session / entry["training_jsonl_path"]
        s = streams.pose_coach(path, entry["source_id"], b.rel(path))
        if built.get(("pose_coach", s.path)) != s.sha256:
            raise InputError(f"{path}: not the file the templates were built from; run "
                             f"`lume templates build {b.path}` again")
        out.append((s, entry["machine"]))
    return out


def _manifest_doc(gestures: list[str], evidence_of: dict[str, list[dict[str, Any]]], rules: Rules,
                  ref: dict[str, Any], now: str) -> dict[str, Any]:
    return {"schema": MANIFEST_SCHEMA, "generated_at": now,
            "generator": {"tool": TOOL, "version": policy.tool_version()},
            "source_bundle": dict(ref),
            "gestures": [gesture_entry(g, evidence_of[g], rules) for g in gestures]}


@dataclass
class _Run:
    gestures: list[str]
    manifest: dict[str, Any]
    report: dict[str, Any]
    log: bytes
    exercised: set[str]


def _dry_run(gestures: list[str], ev: evidence.GateEvidence, refs: dict[str, dict[str, Any]],
             evidence_of: dict[str, list[dict[str, Any]]], rules: Rules, ref: dict[str, Any],
             now: str, machine: str | None) -> _Run:
    """The real gate over the whole recorded evidence against a candidate manifest (dry run)."""
    doc = _valid(_manifest_doc(gestures, evidence_of, rules, ref, now), "airdeck_promoted_gestures.v1",
                 MANIFEST_FILE)
    manifest = PromotedManifest.from_data(doc, path=MANIFEST_FILE)  # named by its digest
    gate = DispatchGate(Authority.simulated(rules), rules, manifest, dry_run=True)
    decisions = replay(gate, ev.events, ev.frames)
    log = _jsonl([d.to_record() for d in decisions])
    report = build_report(decisions, rules=rules, manifest=manifest, events=refs["events"],
                          bodytruth=refs["frames"],
                          decision_log={"path": LOG_FILE, "sha256": _sha(log), "records": len(decisions)},
                          machine=machine)
    _valid(report, "airdeck_dry_run_report.v2", REPORT_FILE)
    exercised = {rules.canonical(d.label) for d in decisions if d.dispatched}
    return _Run(gestures, doc, report, log, exercised)


def _command(b: Bundle, windows: list[dict[str, Any]], tdoc: dict[str, Any], digests: dict[str, str],
             ref: dict[str, Any], now: str, config: dict[str, Any] | None, result: PromotionResult,
             progress: Callable[[int, int], None] | None, signer: _Signer) -> None:
    rules = Rules.from_contracts()
    index = LabelIndex.load()
    c = policy.command()
    pose = _pose_coach_streams(b, tdoc)
    ev = evidence.build(pose) if pose else None
    matrix = proof.build(windows, ev, rules, index, progress)

    # ---- evidence files and the proof matrix (what every later step cites)
    writes: dict[str, bytes] = {}
    refs: dict[str, dict[str, Any]] = {}
    if ev is not None:
        for key, rel, records in (("events", EVENTS_FILE, ev.events), ("frames", FRAMES_FILE, ev.frames)):
            data = _jsonl(records)
            writes[rel] = data
            refs[key] = {"path": rel, "sha256": _sha(data), "records": len(records)}
    matrix_doc = _valid({
        "schema": "lume.airdeck.physical_proof_matrix.v1", "generated_at": now, "bundle": ref,
        "policy": policy.policy_ref(),
        "thresholds": {k: c[k] for k in ("min_physical_examples", "min_dispatch_fraction",
                                         "max_false_triggers", "min_negative_windows",
                                         "window_preroll_ms")},
        "evidence": None if ev is None else {
            "source_id": ev.source_id, "observations": ev.observations,
            "events": refs["events"], "bodytruth": refs["frames"],
            "streams": [{"kind": s.kind, "source_id": s.source_id, "path": s.path,
                         "records": len(s.records)} for s in ev.streams]},
        "windows": matrix.rows,
        "gestures": [col.to_doc() for col in matrix.columns.values()],
    }, "physical_proof_matrix.v1", MATRIX_FILE)
    writes[MATRIX_FILE] = dumps(matrix_doc).encode()
    result.matrix = matrix_doc

    # ---- checks and criteria decided before the dry run
    assessed: dict[str, criteria.Assessment] = {}
    archived_cache: dict[str, Any] = {}
    evidence_of: dict[str, list[dict[str, Any]]] = {}
    for g, col in matrix.columns.items():
        a = assessed[g] = criteria.Assessment(g)
        examples = [w for w in windows if proof.is_example(w, g)]
        criteria.label_table_promoted(a, rules)
        criteria.thresholds(a, col)
        criteria.source_data_archived(a, b, examples, archived_cache)
        criteria.rule_code(a)
        criteria.runtime_artifact(a, rules)
        criteria.non_flat(a, col, matrix)
        criteria.behaviour(a, col)
        criteria.fallback(a, col)
        evidence_of[g] = _evidence(examples, pose, digests, _sha(writes[MATRIX_FILE]))
    ready = [g for g, a in assessed.items() if a.ok()]

    # ---- the combined dry run of the real gate (drop never-exercised gestures and repeat)
    attempts: list[dict[str, Any]] = []
    runs: list[_Run] = []
    run: _Run | None = None
    trying = list(ready) if ev is not None else []
    while trying:
        run = _dry_run(trying, ev, refs, evidence_of, rules, ref, now,
                       config["machine"] if config else None)
        runs.append(run)
        failed = [ch["id"] for ch in run.report["checks"] if ch["status"] != "pass"]
        attempts.append({"gestures": list(trying), "verdict": run.report["verdict"], "failed_checks": failed})
        if run.report["verdict"] == "green":
            break
        unexercised = [g for g in trying if g not in run.exercised]
        if set(failed) == {"promoted_gestures_exercised"} and unexercised and len(unexercised) < len(trying):
            trying = [g for g in trying if g in run.exercised]
            continue
        break
    green = set(run.gestures) if run is not None and run.report["verdict"] == "green" else set()
    if run is not None:
        writes[REPORT_FILE] = signer.report_bytes(run.report)
        writes[LOG_FILE] = run.log
    for g, a in assessed.items():
        a.check("dry_run_green", g in green, _dry_run_detail(g, a, runs, ev))

    # ---- write the evidence, the matrix and the report; criterion 8 is what made it to disk
    for rel, data in writes.items():
        result.written[rel] = write_bytes(b.path / rel, data)
    if run is None:
        result.removed += _remove(b.path, REPORT_FILE, LOG_FILE)
    result.report = run.report if run is not None else None
    tried = set(run.gestures) if run is not None else set()
    for g, a in assessed.items():
        if g in tried:
            a.set("report_written", True, f"{MATRIX_FILE} and {REPORT_FILE} written and valid against "
                  "physical_proof_matrix.v1 and airdeck_dry_run_report.v2",
                  [{"path": MATRIX_FILE, "sha256": _sha(writes[MATRIX_FILE])},
                   {"path": REPORT_FILE, "sha256": _sha(writes[REPORT_FILE])}])
        else:
            a.set("report_written", False, f"{MATRIX_FILE} written, but no gate dry-run report covers "
                  f"{g} (it did not reach the dry run)",
                  [{"path": MATRIX_FILE, "sha256": _sha(writes[MATRIX_FILE])}])

    # ---- criterion 4: the gate's own loader on the authority machine, then the manifest
    promoted = _load_on_device(b.path, run, green, assessed, rules, config, result, signer,
                               writes.get(REPORT_FILE))
    if not promoted:
        result.removed += _remove(b.path, MANIFEST_FILE)

    candidates = []
    for g, a in assessed.items():
        col = matrix.columns[g]
        checks, crit = a.to_docs()
        missing = a.missing()
        status = "promoted" if g in promoted else "candidate"
        if (status == "promoted") != (not missing):
            raise RuntimeError(f"{g}: promoted={status} but missing={missing}")  # a bug of ours
        m = index.map(g)
        statuses = {m.promotion_status} | ({index.rows[m.command]["promotion_status"]} if m.command else set())
        candidates.append({
            "label": g, "command": col.command, "deck": col.deck,
            "label_status": "promoted" if statuses == {"promoted"} else "candidate",
            "status": status, "first_target": g in c["first_targets"],
            "examples": col.examples, "dispatched_examples": col.dispatched_examples,
            "false_triggers": col.false_triggers, "checks": checks, "criteria": crit, "missing": missing,
        })
    doc = _valid({
        "schema": "lume.airdeck.promotion_candidates.v1", "generated_at": now,
        "generator": {"tool": TOOL, "version": policy.tool_version()}, "bundle": ref,
        "machine": config["machine"] if config else None, "policy": policy.policy_ref(),
        "inputs": [{"path": rel, "sha256": digests[rel]} for rel in (WINDOWS_FILE, TEMPLATES_FILE)],
        "proof_matrix": {"path": MATRIX_FILE, "sha256": _sha(writes[MATRIX_FILE])},
        "dry_run": None if run is None else {
            "report": REPORT_FILE, "sha256": _sha(writes[REPORT_FILE]),
            "verdict": run.report["verdict"], "manifest_sha256": run.report["promoted_manifest"]["sha256"],
            "attempts": attempts},
        "promoted_manifest": None if not promoted else {
            "path": MANIFEST_FILE, "sha256": _sha(result.manifest_file), "gestures": sorted(promoted)},
        "withdrawn": MANIFEST_FILE in result.removed,
        "candidates": candidates,
    }, "promotion_candidates.v1", CANDIDATES_FILE)
    result.written[CANDIDATES_FILE] = write_text(b.path / CANDIDATES_FILE, dumps(doc))
    result.candidates = doc


def _evidence(examples: list[dict[str, Any]], pose: list[tuple[streams.Stream, str]],
              digests: dict[str, str], matrix_sha: str) -> list[dict[str, Any]]:
    """What a manifest entry rests on: its labelled clips, the analyzer output, the matrix."""
    out = []
    digest = {s.path: s.sha256 for s, _ in pose}
    for path in sorted({w["provenance"]["path"] for w in examples}):
        if path in digest and not Path(path).is_absolute():
            n = sum(1 for w in examples if w["provenance"]["path"] == path)
            out.append({"kind": "labeled_clip", "path": path, "sha256": digest[path],
                        "note": f"{n} physical example clip(s)"})
    out += [{"kind": "gesture_window", "path": WINDOWS_FILE, "sha256": digests[WINDOWS_FILE]},
            {"kind": "gesture_template", "path": TEMPLATES_FILE, "sha256": digests[TEMPLATES_FILE]},
            {"kind": "proof_matrix", "path": MATRIX_FILE, "sha256": matrix_sha}]
    return out


def _dry_run_detail(g: str, a: criteria.Assessment, runs: list[_Run],
                    ev: evidence.GateEvidence | None) -> str:
    if ev is None:
        return "no recorded K11 camera evidence in the bundle: nothing for the gate to replay"
    mine = [(i, r) for i, r in enumerate(runs, start=1) if g in r.gestures]
    if not mine:
        return "not dry-run: it failed " + ", ".join(a.failed())
    i, r = mine[-1]
    if r.report["verdict"] == "green":
        return f"green in dry run {i} of the gate over the recorded evidence ({REPORT_FILE})"
    if g not in r.exercised:
        return (f"the gate never dispatched {g} in combined dry run {i} over the recorded evidence "
                "(e.g. locked out by an earlier safe stop): dropped from the manifest")
    failed = [c["id"] for c in r.report["checks"] if c["status"] != "pass"]
    return f"dry run {i} of the gate is red: failed {', '.join(failed)}"


def _remove(root: Path, *rels: str) -> list[str]:
    gone = []
    for rel in rels:
        try:
            (root / rel).unlink()
            gone.append(rel)
        except FileNotFoundError:
            pass
    return gone


def _evidence_subjects(manifest: dict[str, Any], report_rel: str,
                       report_bytes: bytes) -> list[dict[str, Any]]:
    """The signed manifest's subjects: every hashed evidence file its gestures cite, and the
    signed dry-run report of the promotion step."""
    seen = {e["path"]: e["sha256"] for g in manifest["gestures"] for e in g["evidence"] if e["sha256"]}
    seen[report_rel] = _sha(report_bytes)
    return [{"name": path, "digest": {"sha256": digest}} for path, digest in sorted(seen.items())]


def _load_on_device(root: Path, run: _Run | None, green: set[str],
                    assessed: dict[str, criteria.Assessment], rules: Rules,
                    config: dict[str, Any] | None, result: PromotionResult, signer: _Signer,
                    report_bytes: bytes | None) -> set[str]:
    """Criterion 4; returns the gestures of the manifest written (empty when none)."""
    authority = Authority.from_config(config)
    on_device = authority.machine == rules.authority_machine and authority.can_command
    where = "no machine config" if config is None else \
        f"this machine is {authority.machine} (can_command_rekordbox={str(authority.can_command).lower()})"
    for g, a in assessed.items():
        if g not in green:
            a.set("on_device_load_verified", False, f"{g} is in no green dry run, so in no manifest to load")
        elif not on_device:
            a.set("on_device_load_verified", False,
                  f"{where}: the on-device load can only be verified on {rules.authority_machine}, "
                  f"the command authority (SAFE-AUTHORITY-K11); run `lume promote --command` there")
    if not green or not on_device or run is None or report_bytes is None:
        return set()
    problem = None
    envelope = b""
    if signer.key is None:
        problem = ("no signing key: a promoted manifest is a signed statement (`lume promote "
                   "--command` signs with this machine's key)")
    else:
        subjects = _evidence_subjects(run.manifest, REPORT_FILE, report_bytes)
        envelope = dumps(sign_manifest(run.manifest, subjects, signer.key)).encode()
        try:
            with Staged(root / MANIFEST_FILE, envelope) as staged:
                loaded = load_manifest(staged.path, trust=signer.trust)
                found = consistency_problems(loaded, rules)
                if not loaded.signed:
                    found.insert(0, f"{loaded.signature['detail']} (is this machine's key in the "
                                    f"trust file? `lume keys trust {signer.key.public_hex}`)")
                found += evidence_problems(loaded).problems
                live = live_report_problem(json.loads(report_bytes), loaded, trust=signer.trust)
                problem = "; ".join(found) or live
                if problem is None and set(loaded.gestures) != green:
                    problem = f"the loader read {sorted(loaded.gestures)}, not {sorted(green)}"
                if problem is None:
                    staged.commit()
        except InputError as exc:
            problem = str(exc)
    for g in green:
        if problem is None:
            assessed[g].set("on_device_load_verified", True,
                            f"on {authority.machine}: lume.runtime.airdeck.load_manifest read the "
                            f"signed manifest ({len(green)} gesture(s)), signed by trusted key "
                            f"{signer.key.keyid}, consistent with labels.v1, safety_invariants.v1 and "
                            "airdeck_midi_map.v1, its evidence unchanged, and the live-mode check "
                            "accepts the signed green dry-run report for its digest",
                            [{"path": MANIFEST_FILE, "sha256": _sha(envelope)},
                             {"path": REPORT_FILE, "sha256": _sha(report_bytes)}])
        else:
            assessed[g].set("on_device_load_verified", False, f"the gate refused the manifest: {problem}")
    if problem is not None:
        return set()
    result.written[MANIFEST_FILE] = True
    result.manifest = run.manifest
    result.manifest_file = envelope
    return green
