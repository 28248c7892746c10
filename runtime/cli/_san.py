"""`lume san`: send and listen to the SAN OSC side channel (contracts/san_osc.v1.yaml)."""
from __future__ import annotations

import json
import socket
import sys

import click
from rich.markup import escape

from ._output import FAILED, OK, console, emit_json, fail_input


@click.group()
def san() -> None:
    """SAN OSC channel (seed 004 Q1): /san/pattern_id ,i  /san/confidence ,f  /san/cluster ,i."""


def _value_options(command):
    """One option per address of san_osc.v1: /san/pattern_id -> --pattern-id, and so on."""
    from lume.runtime import san as osc  # noqa: PLC0415

    for row in reversed(osc.spec()["messages"]):
        option = "--" + row["address"].rsplit("/", 1)[-1].replace("_", "-")
        if row["values"]:
            kind, text = str, " or ".join(f"{c['name']} ({c['value']})" for c in row["values"])
        else:
            kind = {"int32": int, "float32": float}[row["value_type"]]
            text = f"{kind(row['min'])}..{kind(row['max'])}"
        command = click.option(option, _dest(row["address"]), type=kind,
                               help=f"{row['address']} ,{row['type_tag']}: {text}.")(command)
    return command


def _dest(address: str) -> str:
    return address.strip("/").replace("/", "_")  # /san/pattern_id -> san_pattern_id


@san.command()
@click.option("--to", "target", metavar="HOST[:PORT]", default="127.0.0.1", show_default=True,
              help="OSC receiver (port default: san_osc.v1's 9050).")
@_value_options
@click.option("--json", "as_json", is_flag=True, help="Print what was sent as JSON.")
def send(target: str, as_json: bool, **values) -> None:
    """Send one OSC message per given value; out-of-range values are refused (exit 2)."""
    from lume.runtime import san as osc  # noqa: PLC0415
    from lume.runtime.lumf import parse_endpoint  # noqa: PLC0415

    addresses = {_dest(a): a for a in osc.messages()}
    given = {addresses[k]: v for k, v in values.items() if v is not None}
    if not given:
        fail_input("give at least one value: " + ", ".join(
            "--" + a.rsplit("/", 1)[-1].replace("_", "-") for a in addresses.values()))
    try:
        host, port = parse_endpoint(target, osc.default_port())
        given = {a: osc.code_for(a, v) if isinstance(v, str) else v for a, v in given.items()}
        for address, value in given.items():  # refuse everything before sending anything
            osc.encode(address, value)
        with osc.SanSender(host, port) as sender:
            for address, value in given.items():
                sender.send(address, value)
    except (osc.SanError, ValueError, OSError) as exc:
        fail_input(str(exc))
    sent = [{"address": a, "value": v} for a, v in given.items()]
    if as_json:
        emit_json({"to": f"{host}:{port}", "sent": sent})
    else:
        for m in sent:
            console.print(f"sent {m['address']} {m['value']} -> {host}:{port}", highlight=False)
    raise SystemExit(OK)


@san.command()
@click.option("--listen", "listen", metavar="HOST[:PORT]", default="127.0.0.1", show_default=True,
              help="Address to bind (port default: san_osc.v1's 9050).")
@click.option("--count", type=click.IntRange(min=1), help="Stop after N datagrams.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              help="Stop after S seconds without a datagram.")
@click.option("--json", "as_json", is_flag=True,
              help='One JSON object per message ({"valid": true, "address", "value", '
                   '"extras_field", "name"} or {"valid": false, "reason", "detail"}), then a summary.')
def listen(listen: str, count: int | None, timeout: float | None, as_json: bool) -> None:
    """Receive SAN OSC datagrams (messages or bundles) and decode them against san_osc.v1.

    Exit 0 when nothing was refused (and --count datagrams arrived), 1 otherwise.
    """
    from lume.runtime import san as osc  # noqa: PLC0415
    from lume.runtime.lumf import parse_endpoint  # noqa: PLC0415

    try:
        host, port = parse_endpoint(listen, osc.default_port())
        family = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0][0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((host, port))
    except (ValueError, OSError) as exc:
        fail_input(f"cannot listen on {listen}: {exc}")
    sock.settimeout(timeout)
    counts = {"datagrams": 0, "valid": 0, "ignored": 0, "rejected": 0}
    by_reason: dict[str, int] = {}
    if not as_json:
        console.print(f"listening on udp://{host}:{sock.getsockname()[1]}", highlight=False)
    try:
        while count is None or counts["datagrams"] < count:
            try:
                data = sock.recv(65_536)
            except TimeoutError:
                break
            counts["datagrams"] += 1
            for result in _decode_all(osc, data):
                if result is None:
                    counts["ignored"] += 1
                    continue
                key = "valid" if result["valid"] else "rejected"
                counts[key] += 1
                if not result["valid"]:
                    by_reason[result["reason"]] = by_reason.get(result["reason"], 0) + 1
                _show(result, as_json)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    summary = counts | {"rejected_by_reason": by_reason}
    if as_json:
        sys.stdout.write(json.dumps({"summary": summary}) + "\n")
    else:
        console.print("  ".join(f"{k} {v}" for k, v in counts.items()), highlight=False)
    short = count is not None and counts["datagrams"] < count
    raise SystemExit(OK if counts["rejected"] == 0 and not short else FAILED)


def _decode_all(osc, data: bytes):
    """Per message of the datagram: a result dict, or None for an ignored address."""
    try:
        raws = list(osc.iter_messages(data))
    except osc.SanError as exc:
        yield {"valid": False, "reason": exc.reason, "address": exc.address, "detail": exc.detail}
        return
    for raw in raws:
        try:
            message = osc.decode(raw)
        except osc.SanError as exc:
            yield {"valid": False, "reason": exc.reason, "address": exc.address,
                   "detail": exc.detail}
            continue
        yield None if message is None else {"valid": True, **message.as_dict()}


def _show(result: dict, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    elif result["valid"]:
        name = f" ({result['name']})" if result["name"] else ""
        console.print(f"{result['address']} {result['value']}{name} -> {result['extras_field']}",
                      highlight=False)
    else:
        console.print(f"[bold red]refused[/] {result['reason']} {escape(str(result['address']))}: "
                      f"{escape(result['detail'])}", highlight=False)
