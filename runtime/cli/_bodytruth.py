"""`lume bodytruth`: the BodyTruth service, replay of recorded streams, scenario fixtures."""
from __future__ import annotations

from pathlib import Path

import click

from lume.runtime.bodytruth import DEFAULT_TICK_MS
from lume.runtime.core import InputError

from ._output import FAILED, OK, console, emit_json, fail_input

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def bodytruth() -> None:
    """BodyTruth v0 (seed 003): fusion service, replay, scenario fixtures."""


@bodytruth.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Default: the BodyTruth port of machine_config.v1 (9405).")
@click.option("--replay", "replay_files", type=FILE, multiple=True,
              help="Feed a recorded observation / gesture JSONL in real time (repeatable).")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Replay speed factor.")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path),
              help="Append every emitted frame to this JSONL file.")
@click.option("--tick-ms", type=click.IntRange(min=1), default=DEFAULT_TICK_MS, show_default=True)
def serve(host: str, port: int | None, replay_files: tuple[Path, ...], speed: float,
          record: Path | None, tick_ms: int) -> None:
    """Serve GET /body-truth (and POST /observations, /gestures) on a real ASGI server."""
    import uvicorn  # noqa: PLC0415 - only the service needs a web server

    from lume.runtime.bodytruth import (  # noqa: PLC0415
        BodyTruthService,
        create_app,
        default_port,
        merged,  # noqa: PLC0415
        read_streams,  # noqa: PLC0415
    )

    try:
        observations, gestures = read_streams(list(replay_files))
    except InputError as exc:
        fail_input(str(exc))
    port = default_port() if port is None else port
    service = BodyTruthService(tick_ms=tick_ms, record=record)
    app = create_app(service, replay_events=merged(observations, gestures), replay_speed=speed)
    console.print(f"BodyTruth: http://{host}:{port}/body-truth  (OpenAPI: /openapi.json)"
                  + (f"  recording to {record}" if record else "")
                  + (f"  replaying {len(observations)} observations, {len(gestures)} gestures"
                     if replay_files else ""), highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@bodytruth.command()
@click.argument("streams", type=FILE, nargs=-1)
@click.option("--scenario", help="Replay a shipped scenario fixture instead of (or with) files.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the frames as JSONL.")
@click.option("--tick-ms", type=click.IntRange(min=1), default=DEFAULT_TICK_MS, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
def replay(streams: tuple[Path, ...], scenario: str | None, out: Path | None, tick_ms: int,
           as_json: bool) -> None:
    """Run fusion over recorded observation (and gesture) JSONL files, deterministically.

    STREAMS are `*.obs.jsonl` / `*.gestures.jsonl` files (recognised by name or by content).
    Prints the time in each mode, the transitions and the commands that would have been allowed.
    """
    from rich.progress import Progress  # noqa: PLC0415

    from lume.fixtures import SCENARIOS, load_scenario  # noqa: PLC0415
    from lume.runtime.bodytruth import (  # noqa: PLC0415
        iter_replay,
        read_streams,  # noqa: PLC0415
        summarize,
    )
    from lume.runtime.core import write_jsonl  # noqa: PLC0415

    if not streams and not scenario:
        fail_input("give observation files or --scenario NAME "
                   f"(scenarios: {', '.join(SCENARIOS)})")
    try:
        observations, gestures = read_streams(list(streams))
        if scenario:
            o, g = load_scenario(scenario)
            observations, gestures = observations + o, gestures + g
    except (InputError, ValueError, FileNotFoundError) as exc:
        fail_input(str(exc))
    if not observations and not gestures:
        fail_input("the streams hold no records")
    stamps = [r["timestamp_ms"] for r in observations + gestures]
    frames = []
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("replaying", total=(max(stamps) - min(stamps)) // tick_ms + 1)
        for frame in iter_replay(observations, gestures, tick_ms=tick_ms):
            frames.append(frame)
            progress.advance(task)
    summary = summarize(frames, tick_ms=tick_ms)
    if out is not None:
        write_jsonl(out, frames)
        summary["out"] = str(out)
    code = FAILED if summary["illegal_transitions"] else OK
    if as_json:
        emit_json(summary)
        raise SystemExit(code)
    _print_summary(summary)
    raise SystemExit(code)


def _print_summary(s: dict) -> None:
    from rich.table import Table  # noqa: PLC0415

    console.print(f"{s['frames']} frames every {s['tick_ms']} ms, final mode [bold]{s['final_mode']}[/]"
                  + (f", written to {s['out']}" if s.get("out") else ""), highlight=False)
    modes = Table("mode", "time (ms)", title="time in each mode", title_justify="left")
    for mode, ms in s["time_in_mode_ms"].items():
        modes.add_row(mode, str(ms))
    console.print(modes)
    steps = Table("at (ms)", "from", "to", title="transitions", title_justify="left")
    first = s["first_timestamp"] or 0
    for t in s["transitions"]:
        steps.add_row(str(t["timestamp"] - first), t["from"], t["to"])
    console.print(steps)
    if s["commands_allowed"]:
        cmds = Table("at (ms)", "command", "label", "deck", "confidence",
                     title="commands BodyTruth would have allowed", title_justify="left")
        for c in s["commands_allowed"]:
            cmds.add_row(str(c["timestamp"] - first), c["command"], c["label"], str(c["deck"]),
                         f"{c['confidence']:.2f}")
        console.print(cmds)
    else:
        console.print("no command would have been allowed")
    for t in s["illegal_transitions"]:
        console.print(f"[red]illegal transition[/] {t['from']} -> {t['to']} at {t['timestamp']}")


@bodytruth.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Target folder (default: the package's fixtures/scenarios).")
@click.option("--check", is_flag=True, help="Exit 1 when the committed fixtures differ from a fresh render.")
def scenarios(out: Path | None, check: bool) -> None:
    """Regenerate the scenario fixtures (deterministic, seeded) or check they are current."""
    from importlib import resources  # noqa: PLC0415

    from lume.fixtures import SCENARIO_DIR, stale, write_all  # noqa: PLC0415

    folder = out or Path(str(resources.files("lume.fixtures"))) / SCENARIO_DIR
    if check:
        differ = stale(folder)
        for f in differ:
            console.print(f"[red]stale[/] {f}")
        console.print(f"{len(differ)} stale scenario file(s) under {folder}", highlight=False)
        raise SystemExit(FAILED if differ else OK)
    changed = write_all(folder)
    console.print(f"{len(changed)} scenario file(s) changed under {folder}", highlight=False)

