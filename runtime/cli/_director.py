"""`lume director serve | send | watch`: run the director bus, send one command, follow the state."""
from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import NoReturn

import click
from rich.markup import escape

from lume.runtime.core import InputError
from lume.runtime.director import default_state_dir, load_ownership

from ._output import FAILED, OK, console, emit_json, err_console
from ._output import fail_input as _fail_input

_RULES = load_ownership()
DEFAULT_STATE_DIR = default_state_dir()


def fail_input(message: str) -> NoReturn:
    _fail_input(escape(message))  # messages name contracts in [brackets]: not rich markup


@click.group()
def director() -> None:
    """The director bus (seed 004 Q2): one server-authoritative state, single writer per field."""


@director.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=_RULES.rules.port, show_default=True,
              help="Port (director_ownership.v1 rules.port); 0 picks a free one.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_STATE_DIR, show_default=True,
              help="Where every applied version and the consent signing key are kept.")
@click.option("--log-level", default="warning", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the start-up line as JSON.")
def serve(host: str, port: int, state_dir: Path, log_level: str, as_json: bool) -> None:
    """Run the bus until Ctrl-C (SIGINT / SIGTERM)."""
    from lume.runtime.director import BusServer, KeyFileError, bind
    from lume.runtime.director import serve as run

    try:
        server = BusServer(state_dir)
    except (KeyFileError, OSError) as exc:
        fail_input(str(exc))
    try:
        sock = bind(host, port)
    except OSError as exc:
        fail_input(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    bound = sock.getsockname()[1]
    url = f"ws://{host}:{bound}"
    report = server.load_report
    assert report is not None
    info = {"url": url, "control": url + _RULES.rules.control_path, "state": url + _RULES.rules.state_path,
            "state_dir": str(state_dir), "version": server.bus.version, "start": report.source,
            "notes": report.describe(), "public_key": server.public_key_text}
    if as_json:
        sys.stdout.write(json.dumps(info) + "\n")
    else:
        console.print(f"director bus on [bold]{url}{_RULES.rules.path}[/] "
                      f"(schema {_RULES.rules.schema_version}); {report.describe()}", highlight=False)
        console.print(f"consent token public key (ed25519): {server.public_key_text}", highlight=False)
    sys.stdout.flush()
    try:
        run(server, sock, log_level=log_level)
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down gracefully for
        pass
    if not as_json:
        console.print(f"director bus stopped at version {server.bus.version}", highlight=False)


@director.command()
@click.argument("role", type=click.Choice(list(_RULES.roles)))
@click.argument("command", type=click.Choice([c for c in _RULES.commands if c != "identify"]))
@click.argument("args", nargs=-1)
@click.option("--json-args", default=None, help="The command's fields as one JSON object.")
@click.option("--url", default=None, help="Bus address, ws://HOST:PORT (default: loopback, rules.port).")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Take the bus address from a machine_config.v1 file.")
@click.option("--timeout", type=float, default=5.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the server's reply frame as JSON.")
def send(role: str, command: str, args: tuple[str, ...], json_args: str | None, url: str | None,
         config: Path | None, timeout: float, as_json: bool) -> None:
    """Send one COMMAND as ROLE (fields as KEY=VALUE or --json-args); exit 1 if refused.

    Identifying as ROLE supersedes that role's live director (one connection per role).
    """
    from lume.runtime.director import frame_from_args, resolve_url

    try:
        frame = frame_from_args(command, args, json_args)
        target = resolve_url(url, config)
    except InputError as exc:
        fail_input(str(exc))
    try:
        reply = asyncio.run(_send(role, target, frame, timeout))
    except ValueError as exc:
        fail_input(str(exc))
    if as_json:
        emit_json(reply)
    elif reply["type"] == "ack":
        console.print(f"[green]ack[/] {command} from {role}: version {reply['version']}", highlight=False)
    elif reply["type"] == "sent":
        console.print(f"sent {command} from {role} (no reply expected)", highlight=False)
    else:
        err_console.print(f"[red]{reply.get('code', 'error')}[/]: {escape(str(reply.get('message')))}",
                          highlight=False)
    raise SystemExit(OK if reply["type"] in ("ack", "sent") else FAILED)


async def _send(role: str, url: str, frame: dict, timeout: float) -> dict:
    from lume.runtime.director import CommandRefused, DirectorClient

    # One-shot: the reconnect loop's retry warnings are noise here; the outcome is reported.
    logging.getLogger("lume.runtime.director.client").setLevel(logging.ERROR)
    client = DirectorClient(role, url, heartbeat=False, open_timeout=timeout)
    try:
        if not await client.connect(timeout):
            return {"type": "unreachable", "code": "unreachable",
                    "message": f"director bus at {client.control_url} unreachable: {client.last_error}"}
        try:
            version = await client.send(frame, check=False, timeout=timeout)
        except CommandRefused as exc:
            return exc.frame
        return {"type": "ack", "version": version} if version is not None else {"type": "sent"}
    finally:
        await client.close()


@director.command()
@click.option("--url", default=None, help="Bus address, ws://HOST:PORT (default: loopback, rules.port).")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Take the bus address from a machine_config.v1 file.")
@click.option("--count", type=int, default=None, help="Stop after this many state frames.")
@click.option("--json", "as_json", is_flag=True, help="One JSON frame per line (JSONL).")
def watch(url: str | None, config: Path | None, count: int | None, as_json: bool) -> None:
    """Follow the state endpoint: one line per state version (read-only, identifies as nobody)."""
    from lume.runtime.director import resolve_url

    try:
        target = resolve_url(url, config)
    except InputError as exc:
        fail_input(str(exc))
    try:
        asyncio.run(_watch(target, count, as_json))
    except KeyboardInterrupt:
        pass
    except ValueError as exc:
        fail_input(str(exc))
    except OSError as exc:
        err_console.print(f"[red]error:[/] director bus at {target} unreachable: {escape(str(exc))}",
                          highlight=False)
        raise SystemExit(FAILED) from exc
    raise SystemExit(OK)


async def _watch(url: str, count: int | None, as_json: bool) -> None:
    import websockets

    from lume.runtime.director import summary
    from lume.runtime.director import watch as frames_of

    seen = 0
    try:
        async for frame in frames_of(url):
            if as_json:
                sys.stdout.write(json.dumps(frame, separators=(",", ":")) + "\n")
                sys.stdout.flush()
            elif frame.get("type") == "state":
                console.print(summary(frame["state"]), highlight=False, markup=False)
            elif frame.get("type") == "schema":
                console.print(f"[dim]schema {frame.get('version')}[/]", highlight=False)
            elif frame.get("type") == "kicked":
                console.print(f"[yellow]closed by the bus: {frame.get('reason')}[/]", highlight=False)
            if frame.get("type") == "state":
                seen += 1
                if count is not None and seen >= count:
                    return
    except websockets.exceptions.InvalidURI as exc:
        raise ValueError(str(exc)) from exc
    except (TimeoutError, websockets.exceptions.WebSocketException) as exc:
        raise OSError(str(exc)) from exc

