"""`lume san`: send and listen to the SAN OSC side channel (contracts/san_osc.v1.yaml)."""
from __future__ import annotations

import click

from ._errors import BadInput, LumeCommand, LumeGroup
from ._options import AddressType, Duration, address_option, json_option
from ._output import FAILED, OK, console, emit_json, emit_jsonl, escape


def _default_port() -> int:
    from lume.runtime import san as osc

    return osc.default_port()


def _option_name(address: str) -> str:
    return "--" + address.rsplit("/", 1)[-1].replace("_", "-")  # /san/pattern_id -> --pattern-id


def _dest(address: str) -> str:
    return address.strip("/").replace("/", "_")  # /san/pattern_id -> san_pattern_id


def _value_options() -> list[click.Option]:
    """One option per address of san_osc.v1, built from the contract when first needed."""
    from lume.runtime import san as osc

    options = []
    for row in osc.spec()["messages"]:
        if row["values"]:
            kind, text = str, " or ".join(f"{c['name']} ({c['value']})" for c in row["values"])
        else:
            kind = {"int32": int, "float32": float}[row["value_type"]]
            text = f"{kind(row['min'])}..{kind(row['max'])}"
        options.append(click.Option([_option_name(row["address"]), _dest(row["address"])], type=kind,
                                    help=f"{row['address']} ,{row['type_tag']}: {text}."))
    return options


class ContractOptionsCommand(LumeCommand):
    """A command whose value options come from the contract on first use, not at import."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._contract_options_added = False

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        if not self._contract_options_added:
            self._contract_options_added = True
            self.params[:0] = _value_options()
        return super().get_params(ctx)


@click.group(cls=LumeGroup)
def san() -> None:
    """SAN OSC channel: /san/pattern_id ,i  /san/confidence ,f  /san/cluster ,i."""


@san.command(cls=ContractOptionsCommand)
@address_option(help="OSC receiver; the port defaults to san_osc.v1's 9050.",
                type=AddressType(default_port=_default_port), default="127.0.0.1", old=("--to",))
@json_option
def send(address, as_json: bool, **values) -> int:
    """Send one OSC message per given value; out-of-range values are refused (exit 2)."""
    from lume.runtime import san as osc

    addresses = {_dest(a): a for a in osc.messages()}
    given = {addresses[k]: v for k, v in values.items() if v is not None}
    if not given:
        raise BadInput("give at least one value: " + ", ".join(_option_name(a) for a in addresses.values()))
    sent = osc.send_values(address.host, address.port, given)  # SanError: exit 2, nothing sent
    if as_json:
        emit_json({"to": address.hostport, "sent": sent})
    else:
        for m in sent:
            console.print(f"sent {m['address']} {m['value']} -> {address.hostport}", highlight=False)
    return OK


@san.command()
@address_option(help="Address to bind; the port defaults to san_osc.v1's 9050.",
                type=AddressType(default_port=_default_port), default="127.0.0.1", old=("--listen",))
@click.option("--count", type=click.IntRange(min=1), help="Stop after N datagrams.")
@click.option("--timeout", type=Duration(positive=True),
              help="Stop after this long without a datagram, e.g. 10s.")
@json_option
def listen(address, count: int | None, timeout: float | None, as_json: bool) -> int:
    """Receive SAN OSC datagrams (messages or bundles) and decode them against san_osc.v1.

    With --json: one object per message ({"valid": true, "address", "value", "extras_field",
    "name"} or {"valid": false, "reason", "detail"}), then a summary. Exit 0 when nothing was
    refused (and --count datagrams arrived), 1 otherwise.
    """
    from lume.runtime import san as osc

    try:
        listener = osc.Listener.bind(address.host, address.port)
    except OSError as exc:
        raise BadInput(f"cannot listen on {address.hostport}: {exc.strerror or exc}") from exc
    if not as_json:
        console.print(f"listening on udp://{address.host}:{listener.port}", highlight=False)
    try:
        for result in listener.results(count=count, timeout=timeout):
            _show(result, as_json)
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
    summary = listener.summary()
    if as_json:
        emit_jsonl({"summary": summary})
    else:
        console.print("  ".join(f"{k} {v}" for k, v in listener.counts.items()), highlight=False)
    short = count is not None and listener.counts["datagrams"] < count
    return OK if listener.counts["rejected"] == 0 and not short else FAILED


def _show(result: dict, as_json: bool) -> None:
    if as_json:
        emit_jsonl(result)
    elif result["valid"]:
        name = f" ({result['name']})" if result["name"] else ""
        console.print(f"{result['address']} {result['value']}{name} -> {result['extras_field']}",
                      highlight=False)
    else:
        console.print(f"[bold red]refused[/] {result['reason']} {escape(_shown(result['address']))}: "
                      f"{escape(_shown(result['detail']))}", highlight=False)


def _shown(text: object) -> str:
    """Text from a datagram, safe for a terminal: control characters (ANSI escapes, newlines
    that would forge lines) are shown escaped, never sent raw."""
    text = str(text)
    return text if text.isprintable() else ascii(text)[1:-1]
