"""authority.k11_only.static: every declaration in the root says K11 alone commands Rekordbox.

Reads the expected values from the safety invariants, never from literals: the bundle safety
block and the device-topology fields of SAFE-AUTHORITY-K11, the machines of
SAFE-NEVER-COMMAND, `mac4_sends_rekordbox_commands` of SAFE-MAC4-READONLY. Checked: every
bundle.json safety block; every device-topology sidecar (`command_authority_changed`,
`k11_only_command_gate`, `command_authority`, and no live command source off the authority
machine); every Mac4 live output state (Mac4 sends no Rekordbox commands, read-only, K11
safety lock held); every machine configuration in the root, and this installation's own
configuration when one is set (`can_command_rekordbox` and a MIDI output only on K11).
"""
from __future__ import annotations

from typing import Any, Iterator

from lume.generated.constants import SAFE_AUTHORITY_K11, SAFE_MAC4_READONLY, SAFE_NEVER_COMMAND
from lume.runtime.core import InputError, config_path, load_machine_config, parameters

from ._context import Context
from ._framework import Evidence, held, verifier, violated

ID = "authority.k11_only.static"
AUTHORITY, NEVER, READONLY = SAFE_AUTHORITY_K11, SAFE_NEVER_COMMAND, SAFE_MAC4_READONLY
TOPOLOGIES = ("device_topology_mac4_first.v1", "device_topology_reconstruction.v1")
_MISSING = object()


def _expect(doc: dict[str, Any], rel: str, prefix: str, expected: dict[str, Any],
            what: str) -> Iterator[Evidence]:
    for key, want in expected.items():
        found = doc.get(key, _MISSING) if isinstance(doc, dict) else _MISSING
        field = f"{prefix}{key}"
        if found is _MISSING:
            yield violated(f"{what}: `{key}` is missing", file=rel, field=field, expected=want, found=None)
        elif found != want:
            yield violated(f"{what}: not K11-only", file=rel, field=field, expected=want, found=found)
        else:
            yield held(f"{what} declared", file=rel, field=field, expected=want, found=found)


def _bundle(ctx: Context, rel: str, doc: Any) -> Iterator[Evidence]:
    expected = parameters(AUTHORITY)["bundle_safety"]
    safety = doc.get("safety") if isinstance(doc, dict) else None
    if not isinstance(safety, dict):
        yield violated("bundle has no safety block", file=rel, field="safety", expected=expected, found=safety)
        return
    yield from _expect(safety, rel, "safety.", expected, "bundle safety")


def _topology(ctx: Context, rel: str, doc: Any) -> Iterator[Evidence]:
    p = parameters(AUTHORITY)
    authority = p["authority_machine"]
    if not isinstance(doc, dict):
        yield violated("device topology is not an object", file=rel, expected="object", found=type(doc).__name__)
        return
    yield from _expect(doc, rel, "", p["topology_fields"], "device topology")
    if "command_authority" in doc and doc["command_authority"] != authority:
        yield violated("device topology names another command authority", file=rel,
                       field="command_authority", expected=authority, found=doc["command_authority"])
    for i, device in enumerate(doc.get("devices") or []):
        if isinstance(device, dict) and device.get("live_command_source") is True \
                and device.get("machine") != authority:
            yield violated(f"a {device.get('machine')} device is a live command source", file=rel,
                           field=f"devices[{i}].live_command_source", expected=False, found=True)


def _live_state(ctx: Context, rel: str, doc: Any) -> Iterator[Evidence]:
    p = parameters(READONLY)
    if not isinstance(doc, dict):
        yield violated("live output state is not an object", file=rel, expected="object", found=type(doc).__name__)
        return
    yield from _expect(doc, rel, "", p["state_fields"], "Mac4 live output state")


def _machine_config(rel: str, doc: Any) -> Iterator[Evidence]:
    p = parameters(AUTHORITY)
    field, authority = p["config_field"], p["authority_machine"]
    never = set(parameters(NEVER)["machines"])
    if not isinstance(doc, dict):
        yield violated("machine configuration is not an object", file=rel, expected="object",
                       found=type(doc).__name__)
        return
    machine = doc.get("machine")
    may = doc.get(field)
    if machine != authority or machine in never:
        if may is not False:
            yield violated(f"{machine} may command Rekordbox", file=rel, field=field, expected=False, found=may)
        else:
            yield held(f"{machine} cannot command Rekordbox", file=rel, field=field, expected=False, found=may)
        if doc.get("midi_output") is not None:
            yield violated(f"{machine} has a MIDI output for AirDeck dispatch", file=rel,
                           field="midi_output", expected=None, found=doc["midi_output"])
    else:
        yield held(f"{authority} is the command authority", file=rel, field="machine",
                   expected=authority, found=machine)


@verifier(ID, "Only K11 may command Rekordbox in every config, topology and manifest",
          invariants=(AUTHORITY, NEVER, READONLY), domain="rig")
def k11_only_static(ctx: Context) -> Iterator[Evidence]:
    checks = [(("rehearsal_bundle.v1",), _bundle), (TOPOLOGIES, _topology),
              (("mac4_live_output_state.v1",), _live_state)]
    for stems, check in checks:
        for rel in ctx.documents_of(*stems):
            try:
                doc = ctx.json(rel)
            except InputError as exc:
                yield violated(f"cannot read: {exc}", file=rel, expected="valid JSON", found="unreadable")
                continue
            yield from check(ctx, rel, doc)
    for rel in ctx.documents_of("machine_config.v1"):
        try:
            yield from _machine_config(rel, ctx.json(rel))
        except InputError as exc:
            yield violated(f"cannot read: {exc}", file=rel, expected="valid JSON", found="unreadable")
    try:
        own = load_machine_config()
    except InputError as exc:
        yield violated(f"this installation's configuration is invalid: {exc}", file=str(config_path()),
                       expected="a valid machine configuration", found="invalid")
        own = None
    if own is not None:
        yield from _machine_config(str(config_path()), own)
