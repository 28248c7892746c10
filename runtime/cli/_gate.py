"""`lume gate mac4-first | watch`: the Mac4-first completion gate, as a signed readiness report."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from ._errors import BadInput, LumeGroup
from ._options import Duration, config_option, json_option, out_option
from ._output import FAILED, OK, console, emit_json, err_console, escape, status_cell, step

STATUS_STYLE = {"pass": "[green]pass[/]", "fail": "[red]FAIL[/]", "inconclusive": "[yellow]INCONCLUSIVE[/]"}
PORT = click.IntRange(1, 65535)


def target_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options both subcommands share: where Mac4 is and where the proof and topology come from.

    Mac4 is one host with several services, so it is a host and a port per service, each
    defaulting to the machine configuration's `mac4` block, then to machine_config.v1.
    """
    opts = [
        click.option("--host", default=None, metavar="MAC4_HOST",
                     help="Mac4 host (default: `mac4.host` of the machine configuration)."),
        click.option("--ssh-port", type=PORT, default=None,
                     help="SSH port (default: configuration, else the machine_config.v1 default)."),
        click.option("--bodytruth-port", type=PORT, default=None,
                     help="BodyTruth port (default: configuration, else the machine_config.v1 default)."),
        click.option("--bridge-port", type=PORT, default=None,
                     help="Output bridge port (default: configuration, else the machine_config.v1 default)."),
        click.option("--proof-url", default=None, metavar="URL",
                     help="Fetch the MRT2 browser proof here, http://HOST:PORT/PATH "
                          "(default: the bridge's /mrt2-proof)."),
        click.option("--proof-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="Read the MRT2 browser proof from a local copy of mrt2_browser_proof.json."),
        click.option("--topology", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="The bundle's derived/mac4_first/device_topology.json."),
        out_option("Where to write the signed report (Markdown and HTML beside it).", required=True,
                   old=("--output",)),
        config_option,
        json_option,
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _target(host, ssh_port, bodytruth_port, bridge_port, proof_url, proof_file, topology, config_path):
    from lume.runtime.completion import resolve_target
    from lume.runtime.core import load_machine_config

    if proof_url and proof_file:
        raise BadInput("give --proof-url or --proof-file, not both")
    config = load_machine_config(config_path)
    return resolve_target(config, host=host, proof_url=proof_url, proof_file=proof_file, topology=topology,
                          ports={"ssh": ssh_port, "bodytruth": bodytruth_port, "output_bridge": bridge_port})


def _sign_and_write(run, out: Path, say) -> str:
    """Sign the gate's report with this machine's key and write it; returns the key id."""
    from lume.verifiers import sign_completion_report

    from ._verify import signing_key, write_failed

    key = signing_key(lambda text: say.print(text, highlight=False))
    try:
        sign_completion_report(run, key, out)
    except OSError as exc:
        raise write_failed(out, exc) from exc
    return key.keyid


def _finish(run, out: Path, as_json: bool, keyid: str, ok: bool) -> int:
    from lume.verifiers import completion_predicate

    predicate = completion_predicate(run)
    verdicts = predicate["verdicts"]
    if as_json:
        emit_json({"host": run.target.host, "preflight_ready": run.preflight_ready,
                   "full_audit_ran": run.full_audit_ran, "completion_ready": verdicts["completion_ready"],
                   "mac5_heavy_reconstruction_allowed": verdicts["mac5_heavy_reconstruction_allowed"],
                   "report": str(out), "keyid": keyid, "checks": [c.to_dict() for c in run.checks]})
        return OK if ok else FAILED
    from ._verify import print_next

    for c in run.checks:
        console.print(f"{status_cell(STATUS_STYLE[c.status])}  {c.id}", highlight=False)
        bad = [e for e in c.evidence if e.ok is not True]
        for e in bad:
            where = ": ".join(x for x in (e.file, e.field) if x)
            console.print(f"      {where + ': ' if where else ''}{e.message}", markup=False, highlight=False)
        print_next(c, bad, predicate["root"])
    if not run.full_audit_ran and not run.preflight_ready:
        console.print(f"[bold]MAC4 UNREACHABLE[/] at {escape(run.target.host)}: the full audit did not run "
                      "(rig_safe and data_sound were not judged)", highlight=False)
    for cause in predicate["causes"]:
        console.print(f"  why: {escape(cause)}", highlight=False)
    colour = "green" if verdicts["completion_ready"] else "red"
    console.print(f"[bold {colour}]completion_ready={verdicts['completion_ready']}[/] "
                  f"mac5_heavy_reconstruction_allowed={verdicts['mac5_heavy_reconstruction_allowed']} "
                  f"full_audit_ran={run.full_audit_ran}", highlight=False)
    console.print(f"signed report: {escape(str(out))} (+ .md, .html), key {keyid}", highlight=False)
    return OK if ok else FAILED


@click.group(cls=LumeGroup)
def gate() -> None:
    """The Mac4-first completion gate Mac5 heavy reconstruction waits for."""


@gate.command("mac4-first")
@click.option("--preflight-only", is_flag=True, help="Only the cheap reachability pass (never completion_ready).")
@target_options
def mac4_first(preflight_only: bool, host, ssh_port, bodytruth_port, bridge_port, proof_url, proof_file,
               topology, out: Path, config_path, as_json: bool) -> int:
    """Preflight Mac4's ports, then audit BodyTruth, the read-only bridge, the MRT2 proof and the
    topology; write a signed report. Exit 0 when completion_ready (with --preflight-only: when
    every port is reachable), 1 otherwise, 2 on bad input."""
    from lume.runtime.completion import run_completion_gate

    target = _target(host, ssh_port, bodytruth_port, bridge_port, proof_url, proof_file, topology, config_path)
    with step(f"auditing Mac4 at {escape(target.host)}", enabled=not as_json):
        run = run_completion_gate(target, preflight_only=preflight_only)
    keyid = _sign_and_write(run, out, err_console if as_json else console)
    return _finish(run, out, as_json, keyid, run.preflight_ready if preflight_only else run.completion_ready)


@gate.command("watch")
@click.option("--max-attempts", type=click.IntRange(min=1), default=1, show_default=True,
              help="Preflight attempts before giving up.")
@click.option("--interval", type=Duration(), default="30s", show_default=True,
              help="Time between attempts, e.g. 30s or 2m.")
@click.option("--watch-log", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="JSONL log: one line appended per attempt.")
@target_options
def watch_cmd(max_attempts: int, interval: float, watch_log: Path, host, ssh_port, bodytruth_port, bridge_port,
              proof_url, proof_file, topology, out: Path, config_path, as_json: bool) -> int:
    """Retry the preflight up to --max-attempts times; run the full gate once Mac4 is reachable.
    The report at --out is the full gate's, or the last fast preflight failure."""
    from lume.runtime.completion import watch

    target = _target(host, ssh_port, bodytruth_port, bridge_port, proof_url, proof_file, topology, config_path)
    say = err_console if as_json else console

    def said(record: dict[str, Any]) -> None:
        state = "ready" if record["preflight_ready"] else "unreachable: " + ", ".join(
            p["name"] for p in record["ports"] if not p["reachable"])
        say.print(f"attempt {record['attempt']}/{record['max_attempts']}: preflight {state}", highlight=False)

    try:
        run = watch(target, max_attempts=max_attempts, interval_s=interval, log=watch_log, on_attempt=said)
    except OSError as exc:
        raise BadInput(f"{watch_log}: cannot append to the watch log: {exc.strerror or exc}") from exc
    keyid = _sign_and_write(run, out, say)
    return _finish(run, out, as_json, keyid, run.completion_ready)
