"""The options every verb shares, declared once: one spelling, one help text, one parser.

- `--json` (`json_option`), `--config` (`config_option`), `-o/--out` (`out_option`);
- addresses: `HOST:PORT`, or a URL where the scheme matters (`tcp://HOST:PORT` for a MIDI
  socket port, `ws://HOST:PORT` for the director bus) - `ADDRESS` types and `address_option`;
- durations with a unit (`24h`, `90s`, `500ms`, `1h30m`; a bare number other than 0 is
  refused: is `24` seconds or hours?) - `Duration`;
- choices read from the contracts only when a value is checked or help is shown (`LazyChoice`),
  so importing a verb reads no contract.

Old spellings (`--report`, `--output`, `--to`, `--listen`, `--url`, `--host`/`--port`, …) stay
accepted for a release as hidden aliases: they parse as before and are not shown in `--help`.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import urlsplit

import click

JSON_HELP = "Print machine-readable JSON on stdout instead of text."
CONFIG_HELP = ("Machine configuration (machine_config.v1); default: $LUME_CONFIG, else "
               "~/.config/lume/config.json when it exists.")
DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d|w)")


class AliasOption(click.Option):
    """An option that also answers to old spellings, which `--help` does not show."""

    def __init__(self, param_decls: Sequence[str], *, hidden_aliases: Iterable[str] = (),
                 **attrs: Any) -> None:
        self.hidden_aliases = tuple(hidden_aliases)
        super().__init__([*param_decls, *self.hidden_aliases], **attrs)

    def _shown(self):
        return [o for o in self.opts if o not in self.hidden_aliases]

    def get_help_record(self, ctx: click.Context):
        saved = self.opts
        self.opts = self._shown()
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = saved

    def get_error_hint(self, ctx: click.Context) -> str:
        return " / ".join(f"'{o}'" for o in self._shown())


def hidden_flag(name: str) -> Callable:
    """A flag kept only so old command lines still parse (`--dry-run`, `--bagit`): ignored."""
    return click.option(name, is_flag=True, hidden=True, expose_value=False,
                        help="Accepted for compatibility; it changes nothing.")


# ---------------------------------------------------------------------------- shared options
def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help=JSON_HELP)(fn)


def config_option(fn: Callable) -> Callable:
    return click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                        default=None, metavar="FILE", help=CONFIG_HELP)(fn)


def out_option(help: str, *, required: bool = False, folder: bool = False,
               allow_dash: bool = False, default: Path | None = None,
               old: Iterable[str] = ()) -> Callable:
    """`-o/--out PATH`, the one output flag (`old`: hidden spellings of earlier releases)."""
    kind = click.Path(path_type=Path, file_okay=not folder, dir_okay=folder, allow_dash=allow_dash)
    return click.option("-o", "--out", "out", cls=AliasOption, hidden_aliases=old, type=kind,
                        required=required, metavar="DIR" if folder else "PATH", help=help,
                        **_default(default))


def _default(value: Any) -> dict[str, Any]:
    """`default=` only when there is one: click 8.3+ treats an explicit `default=None` as a
    value, so a required option with it would never be reported missing."""
    return {} if value is None else {"default": value, "show_default": True}


# ---------------------------------------------------------------------------- addresses
@dataclass(frozen=True)
class Address:
    """A parsed `HOST:PORT` (or `scheme://HOST:PORT`)."""

    host: str
    port: int
    scheme: str | None = None
    path: str = ""  # only where a URL may name an endpoint (`ws://HOST:PORT/director`)

    @property
    def hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return (f"{self.scheme}://{self.hostport}" if self.scheme else self.hostport) + self.path

    def __str__(self) -> str:
        return self.url


def parse_address(text: str, *, default_port: int | None = None, schemes: Sequence[str] = (),
                  default_host: str | None = None, allow_path: bool = False) -> Address:
    """`HOST[:PORT]`, `[IPv6]:PORT` or `SCHEME://HOST[:PORT]`; ValueError naming the problem."""
    raw = text.strip()
    scheme = None
    if "://" in raw:
        scheme = raw.split("://", 1)[0].lower()
        if scheme not in schemes:
            allowed = f"HOST:PORT or {', '.join(s + '://HOST:PORT' for s in schemes)}" if schemes \
                else "HOST:PORT (no scheme)"
            raise ValueError(f"{text!r}: scheme {scheme}:// not accepted here; use {allowed}")
    try:
        parts = urlsplit(raw if scheme else "//" + raw)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{text!r}: not HOST:PORT ({exc}; PORT is a number 0-65535)") from None
    path = parts.path.rstrip("/")
    if (path and not (allow_path and scheme)) or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{text!r}: expected HOST:PORT only (no path, query or user)")
    host = parts.hostname or default_host
    if not host:
        raise ValueError(f"{text!r}: no host (use HOST:PORT, e.g. 127.0.0.1:{default_port or 9000})")
    if port is None:
        if default_port is None:
            raise ValueError(f"{text!r}: no port (use HOST:PORT)")
        port = default_port
    return Address(host, port, scheme, path)


class AddressType(click.ParamType):
    """HOST:PORT (port optional when the contract defines one), or a URL with an allowed scheme."""

    name = "address"

    def __init__(self, *, default_port: int | Callable[[], int] | None = None,
                 schemes: Sequence[str] = (), default_scheme: str | None = None,
                 default_host: str | None = None, port_names: bool = False,
                 allow_path: bool = False) -> None:
        self._default_port = default_port
        self.schemes = tuple(schemes)
        self.default_scheme = default_scheme
        self.default_host = default_host
        self.port_names = port_names  # a MIDI output may also be named, not addressed
        self.allow_path = allow_path

    def default_port(self) -> int | None:
        return self._default_port() if callable(self._default_port) else self._default_port

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Address) or value is None:
            return value
        text = str(value)
        if self.port_names and "://" not in text:
            return text  # a port name (rtmidi), not an address
        try:
            address = parse_address(text, default_port=None if self.port_names else self.default_port(),
                                    schemes=self.schemes, default_host=self.default_host,
                                    allow_path=self.allow_path)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if address.scheme is None and self.default_scheme:
            address = Address(address.host, address.port, self.default_scheme, address.path)
        return address


def address_option(*names: str, help: str, type: AddressType, default: str | None = None,
                   old: Iterable[str] = (), host_port: bool = False, metavar: str = "HOST:PORT",
                   required: bool = False) -> Callable:
    """The address option of a verb, with hidden old spellings.

    `host_port=True` also accepts the old `--host H` and `--port N` pair (hidden): each
    replaces its half of the address (or of the default).
    """
    names = names or ("--address",)
    dest = names[-1].lstrip("-").replace("-", "_")

    def decorate(fn: Callable) -> Callable:
        if host_port:
            @functools.wraps(fn)
            def merged(*args: Any, **kwargs: Any) -> Any:
                host, port = kwargs.pop("_old_host"), kwargs.pop("_old_port")
                if host is not None or port is not None:
                    base = kwargs[dest]
                    host = host or (base.host if base else type.default_host)
                    port = port if port is not None else (base.port if base else type.default_port())
                    if not host or port is None:
                        raise click.UsageError(f"give {names[0]} HOST:PORT")
                    kwargs[dest] = Address(host, port, base.scheme if base else type.default_scheme)
                return fn(*args, **kwargs)

            target = click.option("--host", "_old_host", hidden=True, default=None,
                                  help="Old spelling: the HOST of the address.")(merged)
            target = click.option("--port", "_old_port", hidden=True, default=None,
                                  type=click.IntRange(0, 65535),
                                  help="Old spelling: the PORT of the address.")(target)
        else:
            target = fn
        return click.option(*names, dest, cls=AliasOption, hidden_aliases=old, type=type,
                            metavar=metavar, required=required, help=help, **_default(default))(target)

    return decorate


# ---------------------------------------------------------------------------- durations
def parse_duration(text: str) -> float:
    """Seconds of `24h`, `90s`, `500ms`, `1h30m`, `2d`; `0` alone needs no unit."""
    compact = str(text).strip().lower().replace(" ", "")
    if compact in ("0", "0.0"):
        return 0.0
    parts = list(_DURATION_PART.finditer(compact))
    if not parts or "".join(m.group(0) for m in parts) != compact:
        if re.fullmatch(r"\d+(\.\d+)?|\.\d+", compact):
            raise ValueError(f"{text!r} has no unit: write e.g. {compact}s, {compact}m or "
                             f"{compact}h (units: {', '.join(DURATION_UNITS)})")
        raise ValueError(f"{text!r} is not a duration (e.g. 24h, 90s, 500ms, 1h30m)")
    return sum(float(m.group(1)) * DURATION_UNITS[m.group(2)] for m in parts)


class Duration(click.ParamType):
    """A duration with a unit, in seconds (float). `positive=True` refuses 0."""

    name = "duration"

    def __init__(self, *, positive: bool = False) -> None:
        self.positive = positive

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)  # a default given in seconds by the code, not typed by a person
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if self.positive and seconds <= 0:
            self.fail(f"{value!r}: must be more than 0", param, ctx)
        return seconds


# ---------------------------------------------------------------------------- lazy choices
class LazyChoice(click.Choice):
    """A Choice whose values come from a loader called on first use (help or a check), not at
    import: verb modules read no contract until a command needs one."""

    def __init__(self, load: Callable[[], Iterable[str]], case_sensitive: bool = True) -> None:
        self._load = load
        self._loaded: tuple[str, ...] | None = None
        super().__init__((), case_sensitive)

    @property  # type: ignore[override]
    def choices(self) -> tuple[str, ...]:
        if self._loaded is None:
            self._loaded = tuple(self._load())
        return self._loaded

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:  # click.Choice.__init__ assigns ()
        pass


class HiddenArgument(click.Argument):
    """A positional argument kept for old command lines only: parsed, not shown in the usage."""

    def get_usage_pieces(self, ctx: click.Context) -> list[str]:
        return []
