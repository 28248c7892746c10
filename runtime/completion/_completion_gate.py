"""The Mac4-first completion gate (seed 003 section 7): may Mac5 start heavy reconstruction?

First a preflight: a TCP connect to Mac4's SSH, BodyTruth and output-bridge ports, all at
once with a short timeout. If any port is unreachable the gate stops there and reports a
fast failure (`full_audit_ran=false`, never `completion_ready`) instead of pretending the live
proof was attempted. Otherwise the full audit fetches `GET /body-truth` and `GET /state` and
validates them against their contracts, requires the live output state to say the bridge is
read-only and Mac4 sends no Rekordbox commands (SAFE-MAC4-READONLY), requires the MRT2 proof
to be a `browser_web_midi_runtime` proof for the receive-only proof sink (SAFE-MRT2-PROOF; an
`endpoint_smoke` proof is never enough), and checks the bundle's device topology sidecar
(SAFE-AUTHORITY-K11). Every audited document must be fresh (SAFE-EVIDENCE-FRESH: its time
field against its row of evidence_freshness.v1, judged once against one clock reading), and
the report records each evidence time it used (`gate.evidence_times`). The result is a
readiness_report.v2 predicate with the `gate` block, signed like every readiness report;
Mac5 reads it through SAFE-MAC5-GATE.

The seed's gate reads the proof file over SSH; here the proof comes from a local copy
(`proof_file`) or over HTTP (`proof_url`, default the bridge's `/mrt2-proof`).
Every path, port, timeout and expected value comes from the contracts.
"""
from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import orjson

from lume.generated.constants import (
    FRESH_BODY_TRUTH_FRAME,
    FRESH_DEVICE_TOPOLOGY,
    FRESH_MAC4_LIVE_STATE,
    FRESH_MRT2_PROOF,
    INPUT_COMPLETION_PROOF,
    MAC4_BODYTRUTH_PORT,
    MAC4_BRIDGE_PORT,
    MAC4_SSH_PORT,
    SAFE_AUTHORITY_K11,
    SAFE_EVIDENCE_FRESH,
    SAFE_MAC4_READONLY,
    SAFE_MAC5_GATE,
    SAFE_MRT2_PROOF,
    SAFE_NEVER_COMMAND,
)
from lume.runtime.core import (
    CheckResult,
    Evidence,
    InputError,
    freshness,
    get,
    held,
    now_iso,
    parameters,
    problems,
    read_input,
    span_text,
    status_of,
    unchecked,
    violated,
)

GATE_INVARIANT = SAFE_MAC5_GATE
KIND = "mac4_first"
# readiness_report.v1 port names -> machine_config.v1 Mac4Endpoints fields
PORT_FIELDS = {"ssh": "ssh_port", "bodytruth": "bodytruth_port", "output_bridge": "bridge_port"}
_PORT_DEFAULTS = {"ssh": MAC4_SSH_PORT, "bodytruth": MAC4_BODYTRUTH_PORT, "output_bridge": MAC4_BRIDGE_PORT}


def gate_rules() -> dict[str, Any]:
    return parameters(GATE_INVARIANT)


def default_ports() -> dict[str, int]:
    """The Mac4 port defaults of machine_config.v1 (`Mac4Endpoints`)."""
    return dict(_PORT_DEFAULTS)


@dataclass(frozen=True)
class Mac4Target:
    """What the gate probes: Mac4's host and ports, and where the proof and topology come from."""

    host: str
    ports: dict[str, int]
    proof_url: str | None = None
    proof_file: Path | None = None
    topology: Path | None = None

    def url(self, port_name: str, path: str) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"http://{host}:{self.ports[port_name]}{path}"


def resolve_target(config: dict[str, Any] | None, *, host: str | None = None,
                   ports: dict[str, int | None] | None = None, proof_url: str | None = None,
                   proof_file: Path | None = None, topology: Path | None = None) -> Mac4Target:
    """Options win over the configuration's `mac4` block, which wins over the contract defaults."""
    mac4 = (config or {}).get("mac4") or {}
    chosen_host = host or mac4.get("host")
    if not chosen_host:
        raise InputError("no Mac4 host: pass --host or configure `mac4.host` (machine_config.v1, "
                         "LUME_CONFIG or --config)")
    resolved = default_ports()
    for name, fld in PORT_FIELDS.items():
        given = (ports or {}).get(name)
        resolved[name] = int(given if given is not None else mac4.get(fld, resolved[name]))
    return Mac4Target(chosen_host, resolved, proof_url, proof_file, topology)


# --- preflight -------------------------------------------------------------------------------

def _connect(host: str, port: int, timeout_s: float, out: dict[str, Any]) -> None:
    start = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            out["latency_ms"] = round((time.perf_counter() - start) * 1000, 3)
            out["reachable"] = True
    except socket.timeout:
        out["error"] = f"connection timed out after {timeout_s * 1000:.0f} ms"
    except OSError as exc:
        out["error"] = exc.strerror or str(exc)


def preflight(target: Mac4Target, timeout_s: float | None = None) -> list[dict[str, Any]]:
    """Probe every port at once; the whole preflight takes at most about one timeout.

    Returns readiness_report.v1 `PortProbe`s plus an `error` for the unreachable ones.
    """
    rules = gate_rules()
    timeout_s = timeout_s if timeout_s is not None else rules["preflight_connect_timeout_ms"] / 1000
    results = {name: {"name": name, "port": target.ports[name], "reachable": False, "latency_ms": None}
               for name in rules["preflight_ports"]}
    threads = [threading.Thread(target=_connect, args=(target.host, r["port"], timeout_s, r), daemon=True)
               for r in results.values()]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout_s + 0.5  # name resolution is not bound by the socket timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    for r in results.values():
        if not r["reachable"] and "error" not in r:
            r["error"] = f"no answer within {timeout_s * 1000:.0f} ms (name resolution or connect)"
    return list(results.values())


def _port_probe(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r[k] for k in ("name", "port", "reachable", "latency_ms")}


def preflight_check(target: Mac4Target, probes: list[dict[str, Any]], duration_ms: float) -> CheckResult:
    evidence = []
    for r in probes:
        where = f"{target.host}:{r['port']}"
        if r["reachable"]:
            evidence.append(held(f"{where} ({r['name']}) reachable in {r['latency_ms']:.0f} ms",
                                 field=f"ports.{r['name']}", expected=True, found=True))
        else:
            evidence.append(violated(f"{where} ({r['name']}) unreachable: {r['error']}",
                                     field=f"ports.{r['name']}", expected=True, found=False))
    return CheckResult("gate.mac4_first.preflight", "Mac4 reachable on SSH, BodyTruth and output bridge",
                       status_of(evidence), [GATE_INVARIANT], evidence, duration_ms, "rig")


# --- the full audit -----------------------------------------------------------------------------

@dataclass
class Fetched:
    """One audited document: where it came from, its bytes' digest and the parsed JSON."""

    source: str
    doc: Any = None
    sha256: str | None = None
    problem: Evidence | None = None  # set when it could not be fetched or parsed


def fetch_url(url: str, client: Any, max_bytes: int) -> Fetched:
    import httpx

    try:
        with client.stream("GET", url) as response:
            buf = bytearray()
            for chunk in response.iter_bytes():
                buf += chunk
                if len(buf) > max_bytes:
                    return Fetched(url, problem=violated(f"response larger than {max_bytes} bytes",
                                                         file=url, expected=f"<= {max_bytes} bytes",
                                                         found=f"> {max_bytes} bytes"))
            status, body = response.status_code, bytes(buf)
    except httpx.HTTPError as exc:
        # the port answered the preflight but the request failed: the check could not run
        return Fetched(url, problem=unchecked(f"GET failed: {type(exc).__name__}: {exc}", file=url,
                                              expected="HTTP 200 with a JSON document", found=type(exc).__name__))
    if status != 200:
        return Fetched(url, sha256=hashlib.sha256(body).hexdigest(),
                       problem=violated(f"GET answered HTTP {status}", file=url, field="status",
                                        expected=200, found=status))
    return _parse(url, body)


def fetch_file(path: Path) -> Fetched:
    """A proof given as a file: a `completion_proof` input (input_limits.v1). A FIFO, a device,
    a folder or an oversized file is bad input (InputError, exit 2), never read."""
    if not os.path.lexists(path):
        return Fetched(str(path), problem=violated("cannot read: no such file", file=str(path),
                                                   expected="a readable file", found="unreadable"))
    return _parse(str(path), read_input(path, INPUT_COMPLETION_PROOF))


def _parse(source: str, body: bytes) -> Fetched:
    digest = hashlib.sha256(body).hexdigest()
    try:
        return Fetched(source, orjson.loads(body), digest)
    except orjson.JSONDecodeError as exc:
        return Fetched(source, sha256=digest, problem=violated(f"not valid JSON: {exc}", file=source,
                                                               expected="a JSON document", found="invalid JSON"))


def _conformance(f: Fetched, stem: str) -> list[Evidence]:
    """Evidence that a fetched document conforms to its contract (every violation listed)."""
    if f.problem is not None:
        return [f.problem]
    found = problems(f.doc, get(stem), file=f.source)
    if found:
        return [violated(f"{p.message} [{stem}]", file=f.source, field=p.path, expected=f"valid {stem}",
                         found="invalid") for p in found]
    return [held(f"valid {stem}", file=f.source, expected=f"valid {stem}", found="valid")]


def _field(f: Fetched, name: str, expected: Any, why: str) -> Evidence | None:
    if not isinstance(f.doc, dict):
        return None
    found = f.doc.get(name, "<missing>")
    make = held if found == expected else violated
    return make(why if found == expected else f"{why}: found {found!r}", file=f.source, field=name,
                expected=expected, found=found)


class Times(list):
    """The time of each piece of evidence the audit used (readiness_report.v1 `EvidenceTime`s),
    all judged against one clock reading."""

    def __init__(self, now: float | None = None) -> None:
        super().__init__()
        self.now = time.time() if now is None else now

    def judge(self, evidence: str, f: Fetched) -> Evidence | None:
        """Freshness evidence of a fetched document (SAFE-EVIDENCE-FRESH), recorded here; None
        when there is no document to date (its conformance evidence already says why)."""
        if not isinstance(f.doc, dict):
            return None
        fr = freshness(evidence, f.doc, now=self.now, source=f.source)
        self.append(fr.record())
        lim = fr.limit
        expected = (f"younger than {span_text(lim.max_age_s)}, at most {span_text(lim.skew_s)} ahead "
                    f"({lim.evidence} in evidence_freshness.v1)")
        return (held if fr.fresh else violated)(fr.describe(), file=f.source, field=lim.field,
                                                 expected=expected, found=fr.time)


def _with_freshness(evidence: list[Evidence], times: Times | None, name: str, f: Fetched) -> list[Evidence]:
    item = times.judge(name, f) if times is not None else None
    return evidence if item is None else [*evidence, item]


def body_truth_check(f: Fetched, duration_ms: float, times: Times | None = None) -> CheckResult:
    evidence = _with_freshness(_conformance(f, "body_truth.v0"), times, FRESH_BODY_TRUTH_FRAME, f)
    return CheckResult("gate.mac4_first.body_truth", "BodyTruth GET /body-truth is a valid, fresh lume_body_truth",
                       status_of(evidence), [GATE_INVARIANT, SAFE_EVIDENCE_FRESH], evidence, duration_ms, "data")


def live_state_check(f: Fetched, duration_ms: float, times: Times | None = None) -> CheckResult:
    evidence = _with_freshness(_conformance(f, "mac4_live_output_state.v1"), times, FRESH_MAC4_LIVE_STATE, f)
    readonly = parameters(SAFE_MAC4_READONLY)
    for name, expected in readonly["state_fields"].items():
        item = _field(f, name, expected, f"live output state `{name}` is {orjson.dumps(expected).decode()}")
        if item is not None:
            evidence.append(item)
    return CheckResult("gate.mac4_first.live_output_state",
                       "Mac4 output bridge GET /state is fresh, read-only and sends no Rekordbox commands",
                       status_of(evidence), [SAFE_MAC4_READONLY, SAFE_NEVER_COMMAND, SAFE_EVIDENCE_FRESH],
                       evidence, duration_ms, "rig")


def mrt2_proof_check(f: Fetched, duration_ms: float, times: Times | None = None) -> CheckResult:
    evidence = _with_freshness(_conformance(f, "mrt2_browser_proof.v1"), times, FRESH_MRT2_PROOF, f)
    rule = parameters(SAFE_MRT2_PROOF)
    checks = [("proof_kind", rule["required_proof_kind"],
               f"MRT2 proof is a {rule['required_proof_kind']} proof "
               f"({', '.join(rule['rejected_proof_kinds'])} is never enough)"),
              ("output_name", rule["proof_output"], f"MRT2 proof targets {rule['proof_output']!r}"),
              ("receive_only", rule["proof_output_receive_only"], "MRT2 proof output is receive-only")]
    for name, expected, why in checks:
        item = _field(f, name, expected, why)
        if item is not None:
            evidence.append(item)
    return CheckResult("gate.mac4_first.mrt2_proof",
                       "Fresh MRT2 browser Web MIDI proof for the receive-only proof sink",
                       status_of(evidence), [SAFE_MRT2_PROOF, SAFE_EVIDENCE_FRESH], evidence, duration_ms, "rig")


def topology_check(path: Path | None, duration_ms_of: Callable[[], float],
                   times: Times | None = None) -> tuple[CheckResult, Fetched | None]:
    title = "Device topology is fresh and keeps K11 the only command gate"
    invs = [SAFE_AUTHORITY_K11, GATE_INVARIANT, SAFE_EVIDENCE_FRESH]
    if path is None:
        evidence = [unchecked(f"no device topology given: pass --topology <bundle>/{gate_rules()['topology_file']}",
                              field="topology", expected=gate_rules()["topology_file"], found=None)]
        return CheckResult("gate.mac4_first.device_topology", title, status_of(evidence), invs, evidence,
                           duration_ms_of(), "rig"), None
    f = fetch_file(path)
    evidence = _conformance(f, "device_topology_mac4_first.v1")
    authority = parameters(SAFE_AUTHORITY_K11)
    for name, expected in authority["topology_fields"].items():
        item = _field(f, name, expected, f"topology `{name}` is {orjson.dumps(expected).decode()}")
        if item is not None:
            evidence.append(item)
    if isinstance(f.doc, dict) and isinstance(f.doc.get("devices"), list):
        k11 = authority["authority_machine"]
        off = [d.get("device") for d in f.doc["devices"]
               if isinstance(d, dict) and d.get("live_command_source") is True and d.get("machine") != k11]
        make = violated if off else held
        evidence.append(make(f"live command sources off {k11}: {off or 'none'}", file=f.source,
                             field="devices[].live_command_source", expected=[], found=off))
    evidence = _with_freshness(evidence, times, FRESH_DEVICE_TOPOLOGY, f)
    return CheckResult("gate.mac4_first.device_topology", title, status_of(evidence), invs, evidence,
                       duration_ms_of(), "rig"), f


def skipped_audit_check(reason: str) -> CheckResult:
    evidence = [unchecked(reason, expected="full audit run", found="skipped")]
    return CheckResult("gate.mac4_first.full_audit", "Mac4-first full live audit (MRT2 proof, read-only bridge)",
                       "inconclusive", [SAFE_MAC4_READONLY, SAFE_MRT2_PROOF], evidence, 0.0, "data")


# --- the run ------------------------------------------------------------------------------------

@dataclass
class CompletionRun:
    target: Mac4Target
    probes: list[dict[str, Any]]
    checks: list[CheckResult]
    full_audit_ran: bool
    documents: list[Fetched] = field(default_factory=list)
    times: Times = field(default_factory=Times)

    @property
    def preflight_ready(self) -> bool:
        return all(p["reachable"] for p in self.probes)

    @property
    def completion_ready(self) -> bool:
        return self.full_audit_ran and bool(self.checks) and all(c.status == "pass" for c in self.checks)

    def subjects(self) -> list[dict[str, Any]]:
        seen = {d.source: d.sha256 for d in self.documents if d.sha256}
        return [{"name": name, "digest": {"sha256": digest}} for name, digest in sorted(seen.items())]

    def gate_block(self) -> dict[str, Any]:
        """The readiness_report.v1 `gate` block of this run."""
        block = {"kind": KIND, "preflight": {"host": self.target.host,
                                             "ports": [_port_probe(p) for p in self.probes]},
                 "full_audit_ran": self.full_audit_ran}
        if self.full_audit_ran:
            block["evidence_times"] = list(self.times)
        return block

    @property
    def root_label(self) -> str:
        return f"{KIND}:{self.target.host}"


def run_completion_gate(target: Mac4Target, *, preflight_only: bool = False, timeout_s: float | None = None,
                        now: float | None = None) -> CompletionRun:
    """Preflight, then (unless it failed or only the preflight was asked for) the full audit;
    every document's time is judged against `now` (Unix seconds, default the clock)."""
    start = time.perf_counter()
    probes = preflight(target, timeout_s)
    checks = [preflight_check(target, probes, (time.perf_counter() - start) * 1000)]
    if not all(p["reachable"] for p in probes):
        checks.append(skipped_audit_check("preflight failed; full audit not attempted"))
        return CompletionRun(target, probes, checks, full_audit_ran=False)
    if preflight_only:
        checks.append(skipped_audit_check("--preflight-only: full audit not requested"))
        return CompletionRun(target, probes, checks, full_audit_ran=False)
    return _full_audit(CompletionRun(target, probes, checks, full_audit_ran=True, times=Times(now)))


def _full_audit(run: CompletionRun) -> CompletionRun:
    """Fetch and check /body-truth, /state, the MRT2 proof and the device topology."""
    import httpx

    rules = gate_rules()
    limit = int(rules["audit_max_document_bytes"])
    target = run.target
    with httpx.Client(timeout=rules["audit_fetch_timeout_ms"] / 1000, follow_redirects=False,
                      trust_env=False) as client:
        def timed(fetch: Callable[[], Fetched]) -> tuple[Fetched, float]:
            t = time.perf_counter()
            got = fetch()
            run.documents.append(got)
            return got, (time.perf_counter() - t) * 1000

        f, ms = timed(lambda: fetch_url(target.url("bodytruth", rules["bodytruth_path"]), client, limit))
        run.checks.append(body_truth_check(f, ms, run.times))
        f, ms = timed(lambda: fetch_url(target.url("output_bridge", rules["state_path"]), client, limit))
        run.checks.append(live_state_check(f, ms, run.times))
        if target.proof_file is not None:
            f, ms = timed(lambda: fetch_file(target.proof_file))
        else:
            url = target.proof_url or target.url("output_bridge", rules["proof_path"])
            f, ms = timed(lambda: fetch_url(url, client, limit))
        run.checks.append(mrt2_proof_check(f, ms, run.times))
    t = time.perf_counter()
    check, topo = topology_check(target.topology, lambda: (time.perf_counter() - t) * 1000, run.times)
    if topo is not None:
        run.documents.append(topo)
    run.checks.append(check)
    return run


# --- watch --------------------------------------------------------------------------------------

def watch(target: Mac4Target, *, max_attempts: int, interval_s: float, log: Path,
          on_attempt: Callable[[dict[str, Any]], None] | None = None,
          sleep: Callable[[float], None] = time.sleep, timeout_s: float | None = None) -> CompletionRun:
    """Retry the preflight up to `max_attempts` times (one JSONL line per attempt in `log`);
    run the full gate on the first attempt whose preflight is ready. Returns the last run."""
    if max_attempts < 1:
        raise ValueError("--max-attempts must be at least 1")
    run: CompletionRun | None = None
    for attempt in range(1, max_attempts + 1):
        start = time.perf_counter()
        probes = preflight(target, timeout_s)
        ready = all(p["reachable"] for p in probes)
        record: dict[str, Any] = {"attempt": attempt, "max_attempts": max_attempts, "at": now_iso(),
                                  "host": target.host, "preflight_ready": ready,
                                  "ports": [{**_port_probe(p), **({"error": p["error"]} if "error" in p else {})}
                                            for p in probes]}
        if ready:
            run = run_completion_gate(target, timeout_s=timeout_s)
            record.update(full_audit_ran=run.full_audit_ran, completion_ready=run.completion_ready,
                          failed_checks=[c.id for c in run.checks if c.status != "pass"])
        else:
            checks = [preflight_check(target, probes, (time.perf_counter() - start) * 1000),
                      skipped_audit_check("preflight failed; full audit not attempted")]
            run = CompletionRun(target, probes, checks, full_audit_ran=False)
        _append_jsonl(log, record)
        if on_attempt:
            on_attempt(record)
        if ready:
            break
        if attempt < max_attempts:
            sleep(interval_s)
    assert run is not None
    return run


def _append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one line and flush it to disk (a watch log is read while it grows)."""
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as fh:
        fh.write(orjson.dumps(record) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())

