"""`lume director serve | send | watch`: run the director bus, send one command, follow the state."""
from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from ._errors import BadInput, LumeGroup
from ._options import AddressType, Duration, LazyChoice, address_option, config_option, json_option
from ._output import FAILED, OK, console, emit_json, emit_jsonl, err_console

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def _rules():
    from lume.runtime.director import load_ownership

    return load_ownership()


def _port() -> int:
    return _rules().rules.port


def _roles() -> list[str]:
    return list(_rules().roles)


def _commands() -> list[str]:
    return [c for c in _rules().commands if c != "identify"]


BUS = AddressType(default_port=_port, schemes=("ws",), default_scheme="ws", allow_path=True)
BUS_HELP = ("Bus address, HOST:PORT or ws://HOST:PORT (default: loopback on director_ownership.v2 "
            "rules.port).")


@click.group(cls=LumeGroup)
def director() -> None:
    """The director bus: one server-authoritative state, single writer per field."""


@director.command()
@address_option(help="Address to listen on; the port defaults to director_ownership.v2 rules.port, "
                     ":0 picks a free one.",
                type=AddressType(default_port=_port), default="127.0.0.1", host_port=True)
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              default=None,
              help="Where every applied version and the consent signing key are kept "
                   "(default: director/ in the LUME config home, ~/.config/lume/director).")
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="warning", show_default=True,
              help="uvicorn's log level (connections, requests).")
@json_option
def serve(address, state_dir: Path | None, log_level: str, as_json: bool) -> int:
    """Run the bus until Ctrl-C (SIGINT / SIGTERM)."""
    from lume.runtime.director import BusServer, bind, default_state_dir
    from lume.runtime.director import serve as run

    state_dir = state_dir or default_state_dir()
    rules = _rules().rules
    server = BusServer(state_dir)  # KeyFileError, OSError: exit 2
    try:
        sock = bind(address.host, address.port)
    except OSError as exc:
        raise BadInput(f"cannot listen on {address.hostport}: {exc.strerror or exc}") from exc
    url = f"ws://{address.host}:{sock.getsockname()[1]}"
    report = server.load_report
    assert report is not None
    info = {"url": url, "control": url + rules.control_path, "state": url + rules.state_path,
            "state_dir": str(state_dir), "version": server.bus.version, "start": report.source,
            "notes": report.describe(), "public_key": server.public_key_text}
    if as_json:
        emit_jsonl(info)
    else:
        console.print(f"director bus on [bold]{url}{rules.path}[/] (schema {rules.schema_version}); "
                      f"{escape(report.describe())}", highlight=False)
        console.print(f"consent token public key (ed25519): {server.public_key_text}", highlight=False)
    try:
        run(server, sock, log_level=log_level)
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down gracefully for
        pass
    if not as_json:
        console.print(f"director bus stopped at version {server.bus.version}", highlight=False)
    return OK


@director.command()
@click.argument("role", type=LazyChoice(_roles))
@click.argument("command", type=LazyChoice(_commands))
@click.argument("args", nargs=-1)
@click.option("--json-args", default=None, metavar="JSON",
              help="The command's fields as one JSON object.")
@address_option(help=BUS_HELP, type=BUS, old=("--url",))
@config_option
@click.option("--timeout", type=Duration(positive=True), default="5s", show_default=True,
              help="How long to wait to connect and for the reply, e.g. 5s or 500ms.")
@json_option
def send(role: str, command: str, args: tuple[str, ...], json_args: str | None, address,
         config_path: Path | None, timeout: float, as_json: bool) -> int:
    """Send one COMMAND as ROLE (fields as KEY=VALUE or --json-args); exit 1 if refused.

    Identifying as ROLE supersedes that role's live director (one connection per role).
    With --json the server's reply frame is printed.
    """
    import asyncio

    from lume.runtime.director import frame_from_args, resolve_url, send_once

    frame = frame_from_args(command, args, json_args)  # InputError: exit 2
    target = resolve_url(address.url if address else None, config_path)
    try:
        reply = asyncio.run(send_once(role, target, frame, timeout))
    except ValueError as exc:  # a URL websockets cannot use
        raise BadInput(str(exc)) from exc
    ok = reply["type"] in ("ack", "sent")
    if as_json:
        emit_json(reply)
    elif reply["type"] == "ack":
        console.print(f"[green]ack[/] {command} from {role}: version {reply['version']}", highlight=False)
    elif reply["type"] == "sent":
        console.print(f"sent {command} from {role} (no reply expected)", highlight=False)
    else:
        err_console.print(f"[red]{escape(str(reply.get('code', 'error')))}[/]: "
                          f"{escape(str(reply.get('message')))}", highlight=False)
    return OK if ok else FAILED


@director.command()
@address_option(help=BUS_HELP, type=BUS, old=("--url",))
@config_option
@click.option("--count", type=click.IntRange(min=1), default=None, help="Stop after this many state frames.")
@json_option
def watch(address, config_path: Path | None, count: int | None, as_json: bool) -> int:
    """Follow the state endpoint: one line per state version (read-only, identifies as nobody).

    With --json one JSON frame per line (JSONL). Exit 1 when the bus is unreachable.
    """
    import asyncio

    from lume.runtime.director import resolve_url

    target = resolve_url(address.url if address else None, config_path)
    try:
        asyncio.run(_watch(target, count, as_json))
    except KeyboardInterrupt:
        pass
    except ValueError as exc:  # a URL websockets cannot use
        raise BadInput(str(exc)) from exc
    return OK


async def _watch(url: str, count: int | None, as_json: bool) -> None:
    from lume.runtime.director import follow, summary

    async for frame in follow(url, count):  # BusUnreachable: exit 1
        if as_json:
            emit_jsonl(frame)
        elif frame.get("type") == "state":
            console.print(summary(frame["state"]), highlight=False, markup=False)
        elif frame.get("type") == "schema":
            console.print(f"[dim]schema {escape(str(frame.get('version')))}[/]", highlight=False)
        elif frame.get("type") == "kicked":
            console.print(f"[yellow]closed by the bus: {escape(str(frame.get('reason')))}[/]",
                          highlight=False)
