"""Our small constants generator: names and values the contracts fix -> generated/constants.py.

Code compares against machines, BodyTruth modes, invariant ids, director roles and commands,
label names, observation source kinds, storage root names and the consts, patterns and defaults
a few documents fix. Each is listed once below (where in which contract), rendered as a Python
constant, and imported from `lume.generated.constants`, so a renamed value in a contract fails
at import instead of silently comparing against a stale literal.

A pointer is a JSON pointer into the contract file, with two extensions: `*` steps into every
item of a list (or value of a mapping) and `@keys` takes the keys of a mapping.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lume.runtime.core import Contract


@dataclass(frozen=True)
class Names:
    """A vocabulary: `ALL = (…)`, and one `PREFIX<VALUE>` constant per value."""

    all: str
    prefix: str
    stem: str
    pointer: str
    note: str


@dataclass(frozen=True)
class Value:
    """One value as the contract writes it (a list becomes a tuple)."""

    name: str
    stem: str
    pointer: str
    note: str


@dataclass(frozen=True)
class Consts:
    """The `const` of each property of an object schema that has one, as a mapping."""

    name: str
    stem: str
    pointer: str
    note: str


SPEC: tuple[Names | Value | Consts, ...] = (
    Names("MACHINES", "", "common.v1", "/$defs/Machine/enum", "machines of the rig"),
    Names("SOURCE_KINDS", "SOURCE_", "body_observation.v1", "/$defs/ObservationSource/enum",
          "body observation source kinds (body_observation.v1 `source`)"),
    Names("MODES", "MODE_", "body_truth_modes.v0", "/modes/@keys", "BodyTruth modes"),
    Names("INVARIANT_IDS", "", "safety_invariants.v1", "/invariants/*/id", "safety invariant ids"),
    Names("FRESHNESS_EVIDENCE", "FRESH_", "evidence_freshness.v1", "/evidence/*/evidence",
          "evidence with a maximum age (evidence_freshness.v1 rows)"),
    Names("LABELS", "LABEL_", "labels.v1", "/labels/*/name", "label names of the label table"),
    Names("LANES", "LANE_", "labels.v1", "/lanes/*/name", "label lanes"),
    Names("DIRECTOR_ROLES", "ROLE_", "director_ownership.v2", "/roles/*/role", "director roles"),
    Names("DIRECTOR_COMMANDS", "COMMAND_", "director_ownership.v2", "/commands/*/command",
          "director bus commands (frame `type`s a role sends)"),
    Names("INPUT_KINDS", "INPUT_", "input_limits.v1", "/kinds/@keys",
          "kinds of input file the core readers bound (input_limits.v1)"),
    Names("SERVICES", "SERVICE_", "service_connections.v1", "/services/@keys",
          "services LUME serves over HTTP/WebSocket (service_connections.v1)"),
    Names("SAN_RECEIVER_REASONS", "SAN_REJECT_", "san_receiver.v1", "/reject_reasons/@keys",
          "reasons a SAN OSC receiver rejects a datagram for (san_receiver.v1)"),
    Value("STORAGE_MANIFESTS_DIR", "storage_root.v2", "/manifests_dir", "K11 storage root names"),
    Value("STORAGE_EXPORTS_DIR", "storage_root.v2", "/exports_dir", ""),
    Value("STORAGE_LOGS_DIR", "storage_root.v2", "/logs_dir", ""),
    Value("STORAGE_INDEX_FILE", "storage_root.v2", "/index_file", ""),
    Value("STORAGE_INDEX_RECORDS_FILE", "storage_root.v2", "/index_records_file", ""),
    Value("ARCHIVE_SUFFIXES", "storage_root.v2", "/archive_suffixes", ""),
    Value("STORAGE_MEMBERS_DIR", "storage_root.v2", "/members_dir", ""),
    Value("STORAGE_LOCK_FILE", "storage_root.v2", "/lock_file", ""),
    Value("BUNDLE_FILE", "bundle_layout.v1", "/top_level/required/0", "the bundle manifest file name"),
    Value("STORAGE_INDEX_MACHINE", "storage_index.v1", "/properties/machine/const",
          "the machine that keeps the storage index and the canonical bundle copy"),
    Value("BUNDLE_STORAGE_MACHINE", "rehearsal_bundle.v1",
          "/$defs/PrimaryStorage/properties/machine/const", ""),
    Consts("BUNDLE_MACHINE_ROLES", "rehearsal_bundle.v1", "/$defs/MachineRoles",
           "fixed bundle fields (rehearsal_bundle.v1)"),
    Consts("BUNDLE_SAFETY", "rehearsal_bundle.v1", "/$defs/BundleSafety", ""),
    Consts("POSE_COACH_ENTRY_CONSTS", "rehearsal_bundle.v1", "/$defs/PoseCoachSourceEntry",
           "fixed fields of a Pose Coach source entry (rehearsal_bundle.v1)"),
    Value("POSE_COACH_INTENDED_USES", "rehearsal_bundle.v1",
          "/$defs/PoseCoachSourceEntry/properties/intended_use/items/enum", ""),
    Value("POSE_COACH_SOURCE_ID_PATTERN", "rehearsal_bundle.v1",
          "/$defs/PoseCoachSourceEntry/properties/source_id/pattern", "names the contracts accept"),
    Consts("POSE_COACH_MANIFEST_CONSTS", "pose_coach_session.v1", "",
           "the seed's Pose Coach session layout: what a manifest that omits them means"),
    Consts("POSE_COACH_VIDEOS", "pose_coach_session.v1", "/$defs/SessionVideos", ""),
    Consts("POSE_COACH_FRAMES", "pose_coach_session.v1", "/$defs/SessionFrames", ""),
    Value("ARCHIVE_NAME_PATTERN", "storage_index_record.v1",
          "/$defs/StorageIndexEntry/properties/archive_name/pattern", ""),
    Value("SESSION_ID_PATTERN", "transport_manifest.v1", "/properties/session_id/pattern", ""),
    Value("SHA256_PATTERN", "common.v1", "/$defs/Sha256/pattern", "a digest as LUME writes it"),
    Value("TIMELINE_COLUMNS", "gesture_templates.v1",
          "/properties/timeline/properties/columns/const", "timeline.csv header (gesture_templates.v1)"),
    Value("BODYTRUTH_PORT", "machine_config.v1", "/$defs/BodyTruthEndpoint/properties/port/default",
          "port defaults of machine_config.v1"),
    Value("DIRECTOR_PORT", "machine_config.v1", "/$defs/DirectorEndpoint/properties/port/default", ""),
    Value("MAC4_SSH_PORT", "machine_config.v1", "/$defs/Mac4Endpoints/properties/ssh_port/default", ""),
    Value("MAC4_BODYTRUTH_PORT", "machine_config.v1",
          "/$defs/Mac4Endpoints/properties/bodytruth_port/default", ""),
    Value("MAC4_BRIDGE_PORT", "machine_config.v1",
          "/$defs/Mac4Endpoints/properties/bridge_port/default", ""),
)


def resolve(doc: Any, pointer: str) -> Any:
    """The value at `pointer` (see the module docstring); KeyError naming the missing step."""
    if not pointer:
        return doc
    nodes, many = [doc], False
    for raw in pointer.strip("/").split("/"):
        step = raw.replace("~1", "/").replace("~0", "~")
        if step == "*":
            nodes = [v for n in nodes for v in (n.values() if isinstance(n, dict) else n)]
            many = True
        elif step == "@keys":
            nodes = [k for n in nodes for k in n]
            many = True
        else:
            nodes = [n[int(step)] if isinstance(n, list) else n[step] for n in nodes]
    return nodes if many else nodes[0]


def _ident(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", value).strip("_").upper()


def _py(value: Any) -> str:
    """A literal that fits a line, else one item per line."""
    if isinstance(value, list):
        value = tuple(value)
    flat = repr(value)
    if len(flat) <= 80:
        return flat
    if isinstance(value, tuple):
        return "(\n" + "".join(f"    {v!r},\n" for v in value) + ")"
    if isinstance(value, dict):
        return "{\n" + "".join(f"    {k!r}: {v!r},\n" for k, v in value.items()) + "}"
    return flat


def render_constants(contracts: tuple[Contract, ...]) -> str:
    by_stem = {c.stem: c for c in contracts if not c.is_meta}
    lines = [
        "# GENERATED by `nox -s codegen` from contracts/ (runtime/tooling/_constants_codegen.py)."
        " Do not edit.",
        '"""Names and values the contracts fix, as constants: import them, never spell them."""',
    ]
    for item in SPEC:
        value = resolve(by_stem[item.stem].raw, item.pointer)
        if item.note:
            lines += ["", f"# {item.note}"]
        lines.append(f"# {item.stem} {item.pointer}")
        if isinstance(item, Names):
            values = list(value)
            lines.append(f"{getattr(item, 'all')} = {_py(values)}")
            lines += [f"{item.prefix}{_ident(v)} = {v!r}" for v in values]
        elif isinstance(item, Consts):
            consts = {k: p["const"] for k, p in value["properties"].items() if "const" in p}
            lines.append(f"{item.name} = {_py(consts)}")
        else:
            lines.append(f"{item.name} = {_py(value)}")
    return "\n".join(lines) + "\n"
