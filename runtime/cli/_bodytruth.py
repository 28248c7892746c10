"""`lume bodytruth`: the BodyTruth service, replay of recorded streams, scenario fixtures."""
from __future__ import annotations

from pathlib import Path

import click

from ._errors import BadInput, LumeGroup
from ._options import AddressType, address_option, config_option, json_option, out_option
from ._output import FAILED, OK, console, emit_json, emit_jsonl, err_console, escape, progress

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _default_tick_ms() -> int:
    from lume.runtime.bodytruth import DEFAULT_TICK_MS

    return DEFAULT_TICK_MS


def _default_port() -> int:
    from lume.runtime.bodytruth import default_port

    return default_port()


TICK_MS = click.option("--tick-ms", type=click.IntRange(min=1), default=_default_tick_ms,
                       show_default="the BodyTruth replay tick", metavar="MS",
                       help="Fusion tick in milliseconds: one BodyTruth frame per tick.")


@click.group(cls=LumeGroup)
def bodytruth() -> None:
    """BodyTruth v0: fusion service, replay, scenario fixtures."""


@bodytruth.command()
@address_option(help="Address to listen on; the port defaults to machine_config.v1's BodyTruth "
                     "port (9405).",
                type=AddressType(default_port=_default_port), default="127.0.0.1", host_port=True)
@click.option("--replay", "replay_files", type=FILE, multiple=True,
              help="Feed a recorded observation / gesture JSONL in real time (repeatable).")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Replay speed factor.")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path),
              help="Append every emitted frame to this JSONL file.")
@TICK_MS
@click.option("--allow-origin", "origins", multiple=True, metavar="ORIGIN",
              help="A web origin (e.g. http://mac4.local:9415) whose pages may POST; repeatable. "
                   "Default: the configuration's bodytruth.write_origins.")
@click.option("--token-file", type=FILE, default=None,
              help="A file holding the write token clients send as `Authorization: Bearer "
                   "TOKEN`. Default: the configuration's bodytruth.write_token_file.")
@config_option
@json_option
def serve(address, replay_files: tuple[Path, ...], speed: float, record: Path | None, tick_ms: int,
          origins: tuple[str, ...], token_file: Path | None, config_path: Path | None,
          as_json: bool) -> int:
    """Serve GET /body-truth (and POST /observations, /gestures) on a real ASGI server.

    Reads are open to every origin. Writes are taken only as application/json, from an
    allowed origin or with the write token; with no token, from local tools that send no
    Origin (body_truth_inputs.v0).
    """
    from lume.runtime.bodytruth import WriteAccess, plan_service, run_service
    from lume.runtime.core import load_machine_config

    access = WriteAccess.configure(load_machine_config(config_path), origins=origins,
                                   token_file=token_file)
    plan = plan_service(replay=replay_files, speed=speed, record=record, tick_ms=tick_ms,
                        access=access)
    url = f"http://{address.hostport}/body-truth"
    if as_json:  # the start-up line, for a supervisor
        emit_jsonl({"url": url, "openapi": f"http://{address.hostport}/openapi.json",
                    "record": str(record) if record else None, "replaying": {
                        "observations": plan.observations, "gestures": plan.gestures},
                    **access.summary})
        run_service(plan.app, address.host, address.port)
        return OK
    console.print(f"BodyTruth: {url}  (OpenAPI: /openapi.json)"
                  + (f"  recording to {escape(str(record))}" if record else "")
                  + (f"  replaying {plan.observations} observations, {plan.gestures} gestures"
                     if replay_files else ""), highlight=False)
    console.print("writes: " + (", ".join(escape(o) for o in sorted(access.origins)) or "no browser origin")
                  + (" and clients with the token" if access.token else
                     " and local tools (no token configured)"), highlight=False)
    if access.token is None and address.host not in ("127.0.0.1", "::1", "localhost"):
        err_console.print("[yellow]warning:[/] no write token on a network address: any tool "
                          "that can reach it may write (set --token-file)", highlight=False)
    run_service(plan.app, address.host, address.port)
    return OK


@bodytruth.command()
@click.argument("streams", type=FILE, nargs=-1)
@click.option("--scenario", metavar="NAME",
              help="Replay a shipped scenario fixture instead of (or with) files.")
@out_option("Write the frames as JSONL (body_truth.v0).")
@TICK_MS
@json_option
def replay(streams: tuple[Path, ...], scenario: str | None, out: Path | None, tick_ms: int,
           as_json: bool) -> int:
    """Run fusion over recorded observation (and gesture) JSONL files, deterministically.

    STREAMS are `*.obs.jsonl` / `*.gestures.jsonl` files (recognised by name or by content).
    Prints the time in each mode, the transitions and the commands that would have been allowed;
    exit 1 when fusion made an illegal transition.
    """
    from lume.fixtures import SCENARIOS, load_scenario
    from lume.runtime.bodytruth import iter_replay, read_streams, summarize
    from lume.runtime.core import write_jsonl

    if not streams and not scenario:
        raise BadInput(f"give observation files or --scenario NAME (scenarios: {', '.join(SCENARIOS)})")
    observations, gestures = read_streams(list(streams))
    if scenario:
        try:
            o, g = load_scenario(scenario)
        except (ValueError, FileNotFoundError) as exc:
            raise BadInput(str(exc)) from exc
        observations, gestures = observations + o, gestures + g
    if not observations and not gestures:
        raise BadInput("the streams hold no records")
    stamps = [r["timestamp_ms"] for r in observations + gestures]
    frames = []
    with progress(enabled=not as_json) as bar:
        task = bar.add_task("replaying", total=(max(stamps) - min(stamps)) // tick_ms + 1)
        at = min(stamps) - tick_ms
        for frame in iter_replay(observations, gestures, tick_ms=tick_ms):
            frames.append(frame)
            bar.advance(task, (frame["timestamp"] - at) // tick_ms)  # a skipped gap at once
            at = frame["timestamp"]
    summary = summarize(frames, tick_ms=tick_ms)
    if out is not None:
        write_jsonl(out, frames)
        summary["out"] = str(out)
    if as_json:
        emit_json(summary)
    else:
        _print_summary(summary)
    return FAILED if summary["illegal_transitions"] else OK


def _print_summary(s: dict) -> None:
    from rich.table import Table

    console.print(f"{s['frames']} frames every {s['tick_ms']} ms, final mode [bold]{s['final_mode']}[/]"
                  + (f", written to {escape(s['out'])}" if s.get("out") else ""), highlight=False)
    if s.get("skipped_ms"):
        console.print(f"skipped {s['skipped_ms']} ms of quiet gaps (nothing left to change)", highlight=False)
    modes = Table("mode", "time (ms)", title="time in each mode", title_justify="left")
    for mode, ms in s["time_in_mode_ms"].items():
        modes.add_row(mode, str(ms))
    console.print(modes, soft_wrap=False)
    steps = Table("at (ms)", "from", "to", title="transitions", title_justify="left")
    first = s["first_timestamp"] or 0
    for t in s["transitions"]:
        steps.add_row(str(t["timestamp"] - first), t["from"], t["to"])
    console.print(steps, soft_wrap=False)
    if s["commands_allowed"]:
        cmds = Table("at (ms)", "command", "label", "deck", "confidence",
                     title="commands BodyTruth would have allowed", title_justify="left")
        for c in s["commands_allowed"]:
            cmds.add_row(str(c["timestamp"] - first), c["command"], c["label"], str(c["deck"]),
                         f"{c['confidence']:.2f}")
        console.print(cmds, soft_wrap=False)
    else:
        console.print("no command would have been allowed")
    for t in s["illegal_transitions"]:
        console.print(f"[red]illegal transition[/] {t['from']} -> {t['to']} at {t['timestamp']}")


@bodytruth.command()
@out_option("Target folder (default: the package's fixtures/scenarios).", folder=True)
@click.option("--check", is_flag=True, help="Exit 1 when the committed fixtures differ from a fresh render.")
@json_option
def scenarios(out: Path | None, check: bool, as_json: bool) -> int:
    """Regenerate the scenario fixtures (deterministic, seeded) or check they are current."""
    from importlib import resources

    from lume.fixtures import SCENARIO_DIR, stale, write_all

    folder = out or Path(str(resources.files("lume.fixtures"))) / SCENARIO_DIR
    if check:
        differ = stale(folder)
        if as_json:
            emit_json({"ok": not differ, "folder": str(folder), "stale": [str(f) for f in differ]})
            return FAILED if differ else OK
        for f in differ:
            console.print(f"[red]stale[/] {escape(str(f))}", highlight=False)
        console.print(f"{len(differ)} stale scenario file(s) under {escape(str(folder))}", highlight=False)
        return FAILED if differ else OK
    changed = write_all(folder)
    if as_json:
        emit_json({"ok": True, "folder": str(folder), "changed": [str(f) for f in changed]})
        return OK
    console.print(f"{len(changed)} scenario file(s) changed under {escape(str(folder))}", highlight=False)
    return OK
