"""`lume director serve | send | watch | commands | enroll | devices | revoke`: run the director
bus, send one command as an enrolled device, follow the state, list the commands, manage the
devices allowed to identify."""
from __future__ import annotations

from pathlib import Path

import click

from ._errors import BadInput, LumeCommand, LumeGroup, Refused
from ._options import (
    AddressType,
    Duration,
    LazyChoice,
    address_option,
    config_option,
    json_option,
    out_option,
)
from ._output import FAILED, OK, console, emit_json, emit_jsonl, err_console, escape

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
STATE_DIR_HELP = ("The bus's state folder: every applied version, the consent signing key and the "
                  "enrolled devices (default: director/ in the LUME config home, ~/.config/lume/director).")
DEVICES_HELP = ("The enrolled-devices file (director_devices.v1; default: director_devices.json in the "
                "state folder).")


def _state_dir_option(fn):
    return click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help=STATE_DIR_HELP)(fn)


def _devices_option(fn):
    return click.option("--devices", "devices_path", type=click.Path(dir_okay=False, path_type=Path),
                        default=None, metavar="FILE", help=DEVICES_HELP)(fn)


def _devices_file(state_dir: Path | None, devices_path: Path | None, wait_s: float = 0.0):
    from lume.runtime.director import DeviceFile, default_state_dir

    return DeviceFile(devices_path or (state_dir or default_state_dir()) / _rules().identify.devices_file,
                      wait_s=wait_s)


class _LateDefault(click.Option):
    """An option whose default is a function reading a contract: called when the command runs or
    shows its help (which then shows the value, not "(dynamic)"), never when the CLI is
    imported, so `lume --help` reads no contract and starts no component."""

    def get_default(self, ctx: click.Context, call: bool = True):  # type: ignore[override]
        return super().get_default(ctx, call=True)


def _lock_wait() -> str:
    return f"{_rules().identify.enroll_lock_wait_s:g}s"


def _wait_option(fn):
    return click.option("--wait", "wait_s", cls=_LateDefault, type=Duration(), default=_lock_wait,
                        show_default=True,
                        help="How long to wait while another enroll or revoke holds the device list's "
                             "lock (then exit 1 naming who holds it), e.g. 5s or 0.")(fn)


@click.group(cls=LumeGroup)
def director() -> None:
    """The director bus: one server-authoritative state, single writer per field, enrolled devices."""


@director.command()
@address_option(help="Address to listen on; the port defaults to director_ownership.v2 rules.port, "
                     ":0 picks a free one.",
                type=AddressType(default_port=_port), default="127.0.0.1", host_port=True)
@_state_dir_option
@_devices_option
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="warning", show_default=True,
              help="uvicorn's log level (connections, requests).")
@json_option
def serve(address, state_dir: Path | None, devices_path: Path | None, log_level: str, as_json: bool) -> int:
    """Run the bus until Ctrl-C (SIGINT / SIGTERM).

    Only devices enrolled with `lume director enroll` can identify; the device list is re-read
    when it changes.
    """
    from lume.runtime.director import BusServer, bind, default_state_dir
    from lume.runtime.director import serve as run

    state_dir = state_dir or default_state_dir()
    rules = _rules().rules
    devices = _devices_file(state_dir, devices_path)
    enrolled = devices.devices()  # DeviceListError: exit 2 before listening
    server = BusServer(state_dir, devices=devices)  # KeyFileError, OSError: exit 2; DirectorBusy: exit 1
    try:
        sock = bind(address.host, address.port)
    except OSError as exc:
        raise BadInput(f"cannot listen on {address.hostport}: {exc.strerror or exc}") from exc
    url = f"ws://{address.host}:{sock.getsockname()[1]}"
    report = server.load_report
    assert report is not None
    info = {"url": url, "control": url + rules.control_path, "state": url + rules.state_path,
            "state_dir": str(state_dir), "devices": str(devices.path), "enrolled": len(enrolled),
            "version": server.bus.version, "start": report.source, "notes": report.describe(),
            "public_key": server.public_key_text}
    if as_json:
        emit_jsonl(info)
    else:
        console.print(f"director bus on [bold]{url}{rules.path}[/] (schema {rules.schema_version}); "
                      f"{escape(report.describe())}", highlight=False)
        console.print(f"server key (ed25519, signs consent tokens; devices sign it into identify): "
                      f"{server.public_key_text}", highlight=False)
        roles = ", ".join(f"{d.device_id} ({d.role})" for d in enrolled)
        console.print(f"enrolled devices ({escape(str(devices.path))}): {escape(roles) or 'none'}",
                      highlight=False)
        if not enrolled:
            err_console.print("[yellow]no device is enrolled: every identify is refused until one is "
                              "(lume director enroll ROLE DEVICE_ID …)[/]", highlight=False)
    try:
        run(server, sock, log_level=log_level)
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down gracefully for
        pass
    if not as_json:
        console.print(f"director bus stopped at version {server.bus.version}", highlight=False)
    return OK


class _SendCommand(LumeCommand):
    """`send`, whose help ends with every command, its senders and fields (from the contracts,
    read only when the help is shown)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from lume.runtime.director import command_line, describe_commands

        with formatter.section("Commands (ROLE may send; FIELD=values; [optional])"):
            formatter.write_dl([(c["command"], command_line(c).split(" ", 1)[1])
                                for c in describe_commands()])


@director.command(cls=_SendCommand)
@click.argument("role", type=LazyChoice(_roles))
@click.argument("command", type=LazyChoice(_commands))
@click.argument("args", nargs=-1)
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              metavar="FILE", help="The device's private key (PEM) to answer the bus's challenge with.")
@click.option("--device", "device_id", default=None, metavar="ID",
              help="The enrolled device id (default: the key file's name without its suffix).")
@click.option("--json-args", default=None, metavar="JSON",
              help="The command's fields as one JSON object.")
@address_option(help=BUS_HELP, type=BUS, old=("--url",))
@config_option
@click.option("--timeout", type=Duration(positive=True), default="5s", show_default=True,
              help="How long to wait to connect and for the reply, e.g. 5s or 500ms.")
@json_option
def send(role: str, command: str, args: tuple[str, ...], key_path: Path, device_id: str | None,
         json_args: str | None, address, config_path: Path | None, timeout: float, as_json: bool) -> int:
    """Send one COMMAND as ROLE, signed in as an enrolled device; exit 1 if refused.

    Fields are KEY=VALUE (VALUE parsed as JSON when it is JSON; dotted KEYs fill objects:
    cue.id=c7 cue.kind=capture cue.payload.camera=cam_a) or --json-args. The device must be
    enrolled for ROLE on the bus (`lume director enroll`); identifying supersedes the role's
    live director. `lume director commands` describes every command.
    """
    import asyncio

    from lume.runtime.director import DeviceKey, frame_from_args, resolve_url, send_once

    frame = frame_from_args(command, args, json_args)  # InputError: exit 2
    key = DeviceKey.load(key_path, device_id)  # DeviceListError: exit 2
    target = resolve_url(address.url if address else None, config_path)
    try:
        reply = asyncio.run(send_once(role, target, frame, timeout, key))
    except ValueError as exc:  # a URL websockets cannot use
        raise BadInput(str(exc)) from exc
    ok = reply["type"] == "ack"
    if as_json:
        emit_json(reply)
    elif ok:
        console.print(f"[green]ack[/] {command} from {role} ({escape(key.device_id)}): version "
                      f"{reply['version']}", highlight=False)
    else:
        err_console.print(f"[red]{escape(str(reply.get('code', 'error')))}[/]: "
                          f"{escape(str(reply.get('message')))}", highlight=False)
    return OK if ok else FAILED


@director.command()
@address_option(help=BUS_HELP, type=BUS, old=("--url",))
@config_option
@click.option("--count", type=click.IntRange(min=1), default=None, help="Stop after this many state frames.")
@click.option("--timeout", type=Duration(positive=True), default=None,
              help="Stop after this long, e.g. 30s (default: 10s with --count, else follow until Ctrl-C); "
                   "exit 1 if --count state frames did not come in time.")
@json_option
def watch(address, config_path: Path | None, count: int | None, timeout: float | None, as_json: bool) -> int:
    """Follow the state endpoint: one line per state version (read-only, identifies as nobody).

    With --json one JSON frame per line (JSONL). Exit 1 when the bus is unreachable.
    """
    import asyncio

    from lume.runtime.director import WatchTimedOut, resolve_url

    target = resolve_url(address.url if address else None, config_path)
    if timeout is None and count is not None:
        timeout = 10.0
    try:
        asyncio.run(_watch(target, count, timeout, as_json))
    except KeyboardInterrupt:
        pass
    except ValueError as exc:  # a URL websockets cannot use
        raise BadInput(str(exc)) from exc
    except WatchTimedOut as exc:
        raise Refused(str(exc)) from exc
    return OK


async def _watch(url: str, count: int | None, timeout: float | None, as_json: bool) -> None:
    from lume.runtime.director import follow, summary

    async for frame in follow(url, count, timeout):  # BusUnreachable: exit 1
        if as_json:
            emit_jsonl(frame)
        elif frame.get("type") == "state":
            console.print(summary(frame["state"]), highlight=False, markup=False)
        elif frame.get("type") == "schema":
            console.print(f"[dim]schema {escape(str(frame.get('version')))}[/]", highlight=False)
        elif frame.get("type") == "kicked":
            console.print(f"[yellow]closed by the bus: {escape(str(frame.get('reason')))}[/]",
                          highlight=False)


@director.command()
@click.option("--role", type=LazyChoice(_roles), default=None, help="Only the commands this role may send.")
@json_option
def commands(role: str | None, as_json: bool) -> int:
    """Every command a director sends: who may send it, its fields and their values, what it writes."""
    from lume.runtime.director import describe_commands

    rows = [c for c in describe_commands() if role is None or role in c["senders"]]
    if as_json:
        emit_json({"contract": "director_ownership.v2", "commands": rows})
        return OK
    for c in rows:
        writes = f"; writes {', '.join(c['writes'])}" if c["writes"] else ""
        console.print(f"[bold]{c['command']}[/]  sent by {', '.join(c['senders'])}{writes}", highlight=False)
        for f in c["fields"]:
            name = f["name"] if f["required"] else f"[{f['name']}]"
            console.print(f"    {escape(f'{name:<22}')} {escape(f['accepts'])}", highlight=False)
    return OK


@director.command()
@click.argument("role", type=LazyChoice(_roles))
@click.argument("device_id")
@click.option("--public-key", default=None, metavar="KEY",
              help="The device's Ed25519 public key (32 bytes, unpadded base64url).")
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="Enrol the public half of this private key file (PEM).")
@click.option("--new-key", is_flag=True,
              help="Generate the device's key into --out (mode 0600) and enrol it.")
@out_option("With --new-key: where the new private key is written (never overwritten).")
@click.option("--name", default=None, help="Who or what the device is (free text, for people).")
@click.option("--replace", is_flag=True, help="Replace the entry of a device id that is already enrolled.")
@_state_dir_option
@_devices_option
@_wait_option
@json_option
def enroll(role: str, device_id: str, public_key: str | None, key_path: Path | None, new_key: bool,
           out: Path | None, name: str | None, replace: bool, state_dir: Path | None,
           devices_path: Path | None, wait_s: float, as_json: bool) -> int:
    """Allow DEVICE_ID to identify as ROLE on the bus, with its Ed25519 public key.

    Give the key with --public-key (from the device), --key (a private key file here), or
    generate one with --new-key -o FILE. Small-order and malformed keys are refused.
    """
    from lume.runtime.core import now_iso
    from lume.runtime.director import Device, DeviceKey, public_key_from_text

    if sum(x is not None and x is not False for x in (public_key, key_path, new_key or None)) != 1:
        raise BadInput("give exactly one of --public-key, --key or --new-key")
    if new_key and out is None:
        raise BadInput("--new-key needs -o/--out FILE for the private key")
    if out is not None and not new_key:
        raise BadInput("-o/--out is only for --new-key")
    _check_device_id(device_id)
    if public_key is not None:
        raw = public_key_from_text(public_key, "--public-key")
    elif key_path is not None:
        raw = DeviceKey.load(key_path, device_id).public_key
    else:
        fresh = DeviceKey.generate(device_id)
        raw = fresh.public_key
    devices = _devices_file(state_dir, devices_path, wait_s)
    device = Device(device_id, role, raw, now_iso(), name)
    if new_key:
        # The key file first (never overwritten: an existing one is refused before anything is
        # enrolled), then the enrolment; a refused enrolment takes the new key file back, so a
        # device is never enrolled without its private half, nor a key left for nothing.
        fresh.save(out)  # type: ignore[arg-type]
        try:
            devices.enroll(device, replace=replace)
        except BaseException:
            out.unlink(missing_ok=True)  # type: ignore[union-attr]
            raise
    else:
        devices.enroll(device, replace=replace)
    if as_json:
        emit_json({"devices": str(devices.path), "enrolled": device.entry(),
                   "key_file": str(out) if new_key else None})
    else:
        console.print(f"enrolled {escape(device_id)} as {role} in {escape(str(devices.path))} "
                      f"(public key {device.public_key_text})", highlight=False)
        if new_key:
            console.print(f"private key: {escape(str(out))} (send with --key {escape(str(out))})",
                          highlight=False)
    return OK


def _check_device_id(device_id: str) -> None:
    import re

    from lume.runtime.core import get

    pattern = get("director_state.v2").raw["$defs"]["DeviceId"]["pattern"]
    if not re.match(pattern, device_id):
        raise BadInput(f"device id {device_id!r} does not match {pattern} [director_state.v2]")


@director.command()
@_state_dir_option
@_devices_option
@json_option
def devices(state_dir: Path | None, devices_path: Path | None, as_json: bool) -> int:
    """The devices enrolled on the bus, with their role and public key."""
    from rich import box
    from rich.table import Table

    found = _devices_file(state_dir, devices_path)
    rows = found.devices()
    if as_json:
        emit_json({"devices": str(found.path), "enrolled": [d.entry() for d in rows]})
        return OK
    console.print(f"{escape(str(found.path))}: {len(rows)} device(s)", highlight=False)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in ("device", "role", "public key", "enrolled"):
        table.add_column(column, overflow="fold")
    for d in rows:
        table.add_row(escape(d.device_id) + (f"\n[dim]{escape(d.name)}[/]" if d.name else ""), d.role,
                      d.public_key_text, d.enrolled_at)
    if rows:
        console.print(table, soft_wrap=False)
    return OK


@director.command()
@click.argument("device_id")
@_state_dir_option
@_devices_option
@_wait_option
@json_option
def revoke(device_id: str, state_dir: Path | None, devices_path: Path | None, wait_s: float,
           as_json: bool) -> int:
    """Remove DEVICE_ID from the enrolled devices: it can no longer identify, and the bus
    refuses the next command of a connection it still holds."""
    found = _devices_file(state_dir, devices_path, wait_s)
    gone = found.revoke(device_id)  # DeviceListError: exit 2; DirectorBusy: exit 1
    if as_json:
        emit_json({"devices": str(found.path), "revoked": gone.entry()})
    else:
        console.print(f"revoked {escape(gone.device_id)} ({gone.role}) from {escape(str(found.path))}",
                      highlight=False)
    return OK
