"""One error policy for every verb: exceptions become exit codes and one-line messages.

A verb returns its exit status (0 or 1; None is 0) or raises. `LumeCommand.invoke` maps what
it raises: bad input or usage (`BadInput`, the core's `InputError` and `ContractError`, the
components' input errors, an `OSError` on a file, a missing extra) exits 2; a refusal or a
failed check (`Refused`, a rejected report, a refused handoff, a broken MIDI output) exits 1.
The message is printed once, escaped once (messages name contracts as `[stem]`, which rich
would read as markup), without a traceback; under `--json` it is a JSON object on stdout
instead. Anything else is a bug of ours and keeps its traceback.
"""
from __future__ import annotations

import functools
import re
import sys
from typing import Any

import click

from ._output import BAD_INPUT, FAILED, emit_json, err_console, escape

DISTRIBUTION = "lume"

# Exceptions by their public name; a module not imported yet cannot have raised its own.
BAD_INPUT_ERRORS = (
    "lume.runtime.core:InputError",
    "lume.runtime.core:ContractError",
    "lume.runtime.core:UnknownLabel",
    "lume.runtime.airdeck:RulesError",
    "lume.runtime.director:KeyFileError",
    "lume.runtime.lumf:AudioInputError",
    "lume.runtime.lumf:NonFiniteInput",
    "lume.runtime.pose:PoseUnavailable",
    "lume.runtime.pose:ZonesError",
    "lume.runtime.san:SanError",
    "lume.runtime.tooling:DiffInputError",
    "lume.verifiers:UnknownCheck",
)
REFUSALS = (
    "lume.runtime.core:ReportRejected",
    "lume.runtime.airdeck:DispatchFailed",
    "lume.runtime.airdeck:LiveRefused",
    "lume.runtime.airdeck:MidiOpenError",
    "lume.runtime.completion:CompletionRefused",
    "lume.runtime.director:BusUnreachable",
    "lume.runtime.director:DirectorBusy",
    "lume.runtime.storage:Mac5Refused",
    "lume.runtime.storage:RootBusy",
)


class BadInput(Exception):
    """Bad input or usage: exit 2 with this message."""


class Refused(Exception):
    """Refused, or a check failed: exit 1 with this message."""


def _loaded(names: tuple[str, ...]) -> tuple[type[BaseException], ...]:
    found = []
    for name in names:
        module, attr = name.split(":")
        try:  # a lazily exported name may import its module now: never fail while reporting
            cls = getattr(sys.modules.get(module), attr, None)
        except Exception:  # noqa: BLE001
            cls = None
        if isinstance(cls, type):
            found.append(cls)
    return tuple(found)


@functools.cache
def extras() -> dict[str, str]:
    """Importable module -> the extra that installs it, from this distribution's metadata."""
    import importlib.metadata  # only when a missing extra is explained

    out: dict[str, str] = {}
    try:
        requires = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return out
    for req in requires:
        m = re.match(r"\s*([A-Za-z0-9._-]+).*extra\s*==\s*['\"]([A-Za-z0-9_-]+)['\"]", req)
        if m and m.group(2) != "test":  # the test extra bundles the others' modules
            out.setdefault(m.group(1).lower().replace("-", "_").replace(".", "_"), m.group(2))
    return out


def install_hint(module: str | None) -> str | None:
    """`pip install 'lume[extra]'` for a module an extra provides, else None."""
    extra = extras().get((module or "").split(".")[0].lower())
    return f"pip install '{DISTRIBUTION}[{extra}]'" if extra else None


def missing_module_message(exc: ModuleNotFoundError) -> str:
    """`<what failed>: install the 'audio' extra: pip install 'lume[audio]'`."""
    extra = extras().get((exc.name or "").split(".")[0].lower())
    return f"{exc}: install the {extra!r} extra: {install_hint(exc.name)}" if extra else str(exc)


def classify(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, message) for an exception the CLI reports, None for a bug (re-raised)."""
    if isinstance(exc, BadInput):
        return BAD_INPUT, str(exc)
    if isinstance(exc, Refused):
        return FAILED, str(exc)
    if isinstance(exc, ModuleNotFoundError):
        if install_hint(exc.name) is None:
            return None  # a module we depend on unconditionally: a broken install, show it all
        return BAD_INPUT, missing_module_message(exc)
    bad = _loaded(BAD_INPUT_ERRORS)
    if bad and isinstance(exc, bad):  # first: a malformed envelope is refused AND bad input (2)
        return BAD_INPUT, str(exc)
    refusals = _loaded(REFUSALS)
    if refusals and isinstance(exc, refusals):
        return FAILED, getattr(exc, "reason", None) or str(exc)
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return BAD_INPUT, where + (exc.strerror or str(exc))
    return None


def report(ctx: click.Context, code: int, message: str) -> None:
    """Print the message once: JSON on stdout under `--json`, else one escaped line on stderr."""
    if ctx.params.get("as_json"):
        emit_json({"ok": False, ("error" if code == BAD_INPUT else "refused"): message})
    else:
        from lume.runtime.core import printable  # noqa: PLC0415 - the CLI imports core lazily

        label = "error" if code == BAD_INPUT else "refused"  # one line, whatever the input held
        err_console.print(f"[bold red]{label}:[/] {escape(printable(message))}", highlight=False)


class LumeCommand(click.Command):
    """A verb: its return value is the exit status; its exceptions are mapped by `classify`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            status = super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click prints usage errors itself (exit 2)
        except Exception as exc:  # noqa: BLE001 - mapped or re-raised just below
            mapped = classify(exc)
            if mapped is None:
                raise
            report(ctx, *mapped)
            ctx.exit(mapped[0])
        if isinstance(status, int) and not isinstance(status, bool) and status:
            ctx.exit(status)
        return status


class LumeGroup(click.Group):
    """A group whose subcommands are `LumeCommand`s and subgroups `LumeGroup`s."""

    command_class = LumeCommand
    group_class = type  # subgroups made with @group.group() are of this same class
