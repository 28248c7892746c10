"""`lume gate mac4-first | watch`: the Mac4-first completion gate, as a signed readiness report."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click
from rich.markup import escape

from ._output import FAILED, OK, console, emit_json, err_console
from ._output import fail_input as _fail_input


def fail_input(message: str):
    _fail_input(escape(message))  # messages name contracts as `[stem]`: not rich markup


STATUS_STYLE = {"pass": "[green]pass[/]", "fail": "[red]FAIL[/]", "inconclusive": "[yellow]INCONCLUSIVE[/]"}


def target_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options both subcommands share: where Mac4 is and where the proof and topology come from."""
    opts = [
        click.option("--host", default=None, metavar="MAC4_HOST",
                     help="Mac4 host (default: `mac4.host` of the machine configuration)."),
        click.option("--ssh-port", type=click.IntRange(1, 65535), default=None,
                     help="SSH port (default: configuration, else the machine_config.v1 default)."),
        click.option("--bodytruth-port", type=click.IntRange(1, 65535), default=None,
                     help="BodyTruth port (default: configuration, else the machine_config.v1 default)."),
        click.option("--bridge-port", type=click.IntRange(1, 65535), default=None,
                     help="Output bridge port (default: configuration, else the machine_config.v1 default)."),
        click.option("--proof-url", default=None, metavar="URL",
                     help="Fetch the MRT2 browser proof here (default: the bridge's /mrt2-proof)."),
        click.option("--proof-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="Read the MRT2 browser proof from a local copy of mrt2_browser_proof.json."),
        click.option("--topology", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="The bundle's derived/mac4_first/device_topology.json."),
        click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
                     help="Where to write the signed report (Markdown and HTML beside it)."),
        click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     default=None, help="Machine configuration (default: LUME_CONFIG or ~/.config/lume/config.json)."),
        click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _target(host, ssh_port, bodytruth_port, bridge_port, proof_url, proof_file, topology, config_path):
    from lume.runtime.completion import resolve_target
    from lume.runtime.core import InputError, load_machine_config

    if proof_url and proof_file:
        fail_input("give --proof-url or --proof-file, not both")
    try:
        config = load_machine_config(config_path)
        return resolve_target(config, host=host, proof_url=proof_url, proof_file=proof_file, topology=topology,
                              ports={"ssh": ssh_port, "bodytruth": bodytruth_port, "output_bridge": bridge_port})
    except InputError as exc:
        fail_input(str(exc))


def _sign_and_write(run, output: Path, out) -> dict[str, Any]:
    from lume.runtime.core import InputError
    from lume.verifiers import sign_completion_report

    from ._verify import signing_key

    try:
        key = signing_key(lambda text: out.print(text, highlight=False))
        sign_completion_report(run, key, output)
    except InputError as exc:
        fail_input(str(exc))
    except OSError as exc:
        fail_input(f"{output}: cannot write the report: {exc.strerror or exc}")
    return {"keyid": key.keyid}


def _finish(run, output: Path, as_json: bool, signed: dict[str, Any], ok: bool) -> None:
    from lume.verifiers import completion_predicate

    predicate = completion_predicate(run)
    verdicts = predicate["verdicts"]
    if as_json:
        emit_json({"host": run.target.host, "preflight_ready": run.preflight_ready,
                   "full_audit_ran": run.full_audit_ran, "completion_ready": verdicts["completion_ready"],
                   "mac5_heavy_reconstruction_allowed": verdicts["mac5_heavy_reconstruction_allowed"],
                   "report": str(output), "keyid": signed["keyid"],
                   "checks": [c.to_dict() for c in run.checks]})
    else:
        for c in run.checks:
            console.print(f"{STATUS_STYLE[c.status]:>28}  {c.id}", highlight=False)
            for e in c.evidence:
                if e.ok is not True:
                    where = ": ".join(x for x in (e.file, e.field) if x)
                    console.print(f"      {where + ': ' if where else ''}{e.message}", markup=False, highlight=False)
        colour = "green" if verdicts["completion_ready"] else "red"
        console.print(f"[bold {colour}]completion_ready={verdicts['completion_ready']}[/] "
                      f"mac5_heavy_reconstruction_allowed={verdicts['mac5_heavy_reconstruction_allowed']} "
                      f"full_audit_ran={run.full_audit_ran}", highlight=False)
        console.print(f"signed report: {output} (+ .md, .html), key {signed['keyid']}", highlight=False)
    raise SystemExit(OK if ok else FAILED)


@click.group()
def gate() -> None:
    """The Mac4-first completion gate Mac5 heavy reconstruction waits for."""


@gate.command("mac4-first")
@click.option("--preflight-only", is_flag=True, help="Only the cheap reachability pass (never completion_ready).")
@target_options
def mac4_first(preflight_only: bool, host, ssh_port, bodytruth_port, bridge_port, proof_url, proof_file,
               topology, output: Path, config_path, as_json: bool) -> None:
    """Preflight Mac4's ports, then audit BodyTruth, the read-only bridge, the MRT2 proof and the
    topology; write a signed report. Exit 0 when completion_ready (with --preflight-only: when
    every port is reachable), 1 otherwise, 2 on bad input."""
    from lume.runtime.completion import run_completion_gate

    target = _target(host, ssh_port, bodytruth_port, bridge_port, proof_url, proof_file, topology, config_path)
    run = run_completion_gate(target, preflight_only=preflight_only)
    out = err_console if as_json else console
    signed = _sign_and_write(run, output, out)
    _finish(run, output, as_json, signed, run.preflight_ready if preflight_only else run.completion_ready)


@gate.command("watch")
@click.option("--max-attempts", type=click.IntRange(min=1), default=1, show_default=True,
              help="Preflight attempts before giving up.")
@click.option("--interval", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds between attempts.")
@click.option("--watch-log", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="JSONL log: one line appended per attempt.")
@target_options
def watch_cmd(max_attempts: int, interval: float, watch_log: Path, host, ssh_port, bodytruth_port, bridge_port,
              proof_url, proof_file, topology, output: Path, config_path, as_json: bool) -> None:
    """Retry the preflight up to --max-attempts times; run the full gate once Mac4 is reachable.
    The report at --output is the full gate's, or the last fast preflight failure."""
    from lume.runtime.completion import watch

    target = _target(host, ssh_port, bodytruth_port, bridge_port, proof_url, proof_file, topology, config_path)
    out = err_console if as_json else console

    def said(record: dict[str, Any]) -> None:
        state = "ready" if record["preflight_ready"] else "unreachable: " + ", ".join(
            p["name"] for p in record["ports"] if not p["reachable"])
        out.print(f"attempt {record['attempt']}/{record['max_attempts']}: preflight {state}", highlight=False)

    try:
        run = watch(target, max_attempts=max_attempts, interval_s=interval, log=watch_log, on_attempt=said)
    except OSError as exc:
        fail_input(f"{watch_log}: cannot append to the watch log: {exc.strerror or exc}")
    signed = _sign_and_write(run, output, out)
    _finish(run, output, as_json, signed, run.completion_ready)
