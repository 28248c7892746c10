"""`lume sim mac4`: a simulated Mac4 on this machine, to try the completion gate, `lume mac5
process` and `lume verify --rig` end to end without the rig."""
from __future__ import annotations

import time
from pathlib import Path

import click

from ._errors import BadInput, LumeGroup
from ._options import Duration, json_option
from ._output import OK, console, emit_json, err_console, escape

SCENARIO_HELP = ("What Mac4 serves: healthy (the gate is completion_ready), no-proof (no MRT2 proof), "
                 "endpoint-smoke (a rejected proof kind), stale (every document older than its maximum "
                 "age), authority-violation (the bridge sends Rekordbox commands and is not read-only).")


@click.group(cls=LumeGroup)
def sim() -> None:
    """Simulated machines on loopback, for trying the rig's paths on one machine."""


@sim.command("mac4")
@click.option("--port-base", type=click.IntRange(0, 65533), default=0, show_default=True,
              help="SSH on N, BodyTruth on N+1, output bridge on N+2; 0 picks free ports (printed).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--scenario", type=click.Choice(["healthy", "no-proof", "endpoint-smoke", "stale",
                                               "authority-violation"]),
              default="healthy", show_default=True, help=SCENARIO_HELP)
@click.option("--for", "duration", type=Duration(positive=True), default=None, metavar="DURATION",
              help="Stop after this long, e.g. 30s (default: until Ctrl-C).")
@click.option("--config-out", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Also write a Mac5 machine configuration (machine_config.v1) whose `mac4` block points "
                   "here, for `lume gate mac4-first --config FILE`.")
@click.option("--topology-out", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Also write the bundle's device topology (device_topology_mac4_first.v1) as this scenario "
                   "has it, dated now, for `lume gate mac4-first --topology FILE`.")
@click.option("--rig-out", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Also run the rest of a rig on loopback (a director bus, a LUMF heartbeat file beside FILE, "
                   "a MIDI socket port) and write a rig.v1 file pointing the probes at it and at this BodyTruth, "
                   "for `lume verify --rig FILE`.")
@click.option("--gate-report", type=click.Path(dir_okay=False, path_type=Path), default=Path("reports/gate.json"),
              show_default=True, metavar="FILE",
              help="Where the suggested `lume gate mac4-first -o` writes its report (the rig file's completion_report).")
@json_option
def mac4(port_base: int, host: str, scenario: str, duration: float | None, config_out: Path | None,
         topology_out: Path | None, rig_out: Path | None, gate_report: Path, as_json: bool) -> int:
    """Serve Mac4's SSH port, BodyTruth GET /body-truth and the output bridge's GET /state and
    GET /mrt2-proof (contract examples, dated now on every request) until stopped. The files
    (--config-out, --topology-out, --rig-out) are written once everything listens. Exit 0 when
    stopped, 2 when a port is taken or a file cannot be written."""
    import contextlib

    from lume.fixtures import Mac4Simulator

    simulator = Mac4Simulator(scenario=scenario, host=host, port_base=port_base)
    if rig_out is not None:  # a rig file left by an earlier run must not say "ready" before this one listens
        try:
            rig_out.unlink(missing_ok=True)
        except OSError as exc:
            raise BadInput(f"{rig_out}: cannot replace the rig file: {exc.strerror or exc}") from exc
    try:
        simulator.start()
    except OSError as exc:
        raise BadInput(f"{host}:{port_base or 'free ports'}: cannot listen: {exc.strerror or exc}") from exc
    stack = contextlib.ExitStack()
    try:
        if config_out is not None:
            _write_config(config_out, simulator.machine_config())
        topology = []
        if topology_out is not None:
            try:
                simulator.write_topology(topology_out)
            except OSError as exc:
                raise BadInput(f"{topology_out}: cannot write the topology: {exc.strerror or exc}") from exc
            topology = ["--topology", str(topology_out)]
        rig = None  # written last: once the rig file exists, everything listens and every file is there
        if rig_out is not None:
            rig = _serve_rig(stack, rig_out, host, simulator, gate_report)
        gate = " ".join(["lume gate mac4-first", *simulator.gate_args(), *topology, f"-o {gate_report}"])
        if as_json:
            emit_json({"scenario": scenario, "host": host, "ports": simulator.ports,
                       "mac4": simulator.machine_config(), "gate_command": gate,
                       "config": str(config_out) if config_out else None,
                       "topology": str(topology_out) if topology_out else None,
                       "rig": str(rig_out) if rig_out else None, "rig_services": rig})
        else:
            say = console
            say.print(f"[bold]simulated Mac4[/] ({scenario}) on {escape(host)}: "
                      + ", ".join(f"{k} {v}" for k, v in simulator.ports.items()), highlight=False)
            say.print(f"try: {escape(gate)}", highlight=False)
            if config_out is not None:
                say.print(f"or:  lume gate mac4-first --config {escape(str(config_out))} "
                          f"{escape(' '.join(topology))} -o {escape(str(gate_report))}", highlight=False)
            if rig_out is not None:
                say.print(f"then: lume verify --rig {escape(str(rig_out))}  (director, LUMF heartbeat and "
                          f"MIDI port simulated too)", highlight=False)
            err_console.print("[dim]Ctrl-C stops it[/]", highlight=False)
        deadline = None if duration is None else time.monotonic() + duration
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2 if deadline is None else min(0.2, max(0.0, deadline - time.monotonic())))
        except KeyboardInterrupt:
            pass
    finally:
        stack.close()
        simulator.stop()
    return OK


def _serve_rig(stack, rig_out: Path, host: str, simulator, gate_report: Path) -> dict:
    """Start the rest of the rig (director, heartbeat, MIDI port) and write the rig.v1 file."""
    from lume.fixtures import RigServices, rig_document

    try:
        services = stack.enter_context(RigServices(rig_out.absolute().parent, host=host))
        rig_document(rig_out, bodytruth=(host, simulator.ports["bodytruth"]), services=services,
                     completion_report=gate_report)
    except OSError as exc:
        raise BadInput(f"{rig_out}: cannot start the simulated rig: {exc.strerror or exc}") from exc
    return {"director": "{}:{}".format(*services.director), "midi_output": services.midi_port,
            "heartbeat_file": str(services.heartbeat_file)}


def _write_config(path: Path, mac4_block: dict) -> None:
    """The Mac5 example of machine_config.v1 with its `mac4` block pointing at the simulator."""
    from lume.runtime.core import get, validated, write_json

    mac5 = next((e for e in get("machine_config.v1").examples if e.get("machine") == "Mac5"), None)
    if mac5 is None:
        raise BadInput("machine_config.v1 has no Mac5 example to start the configuration from")
    config = dict(mac5, mac4=mac4_block)
    config["bodytruth"] = {"host": mac4_block["host"], "port": mac4_block["bodytruth_port"]}
    try:
        write_json(path, validated(config, "machine_config.v1", file=str(path)))
    except OSError as exc:
        raise BadInput(f"{path}: cannot write the configuration: {exc.strerror or exc}") from exc
