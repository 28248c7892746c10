"""Find and read the YAML contracts that ship as the `lume.contracts` package data.

Which file a key names (a stem, a name's newest version, an `$id`) and which generated model
and match rules a contract has come from the generated index `lume.generated.registry`; the
YAML itself is read here. Codegen also writes every contract as JSON (`generated/bundle/`, a
file per contract, each with the SHA-256 of its YAML file): a file whose bytes still have that
digest is taken from there (a JSON parse instead of a YAML one); any other file is parsed as
YAML, so an edited contract is read as edited before codegen runs again. A shipped contract
looked up by key is read when its content is first needed: a command that only needs its
generated schema (`lume validate FILE.jsonl`) reads no contract file at all, and the YAML
parser (libyaml's loader when present) is imported only for a file the bundle does not hold.
"""
from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from lume.generated.registry import CONTRACTS as REGISTRY

ENVELOPE_KEYS = frozenset({"$schema", "$id", "title", "description", "x-lume", "examples"})
_STEM = re.compile(r"^(?P<name>[a-z0-9_]+)\.v(?P<version>[0-9]+)$")
CONTRACT_BUNDLE = "bundle"  # in lume.generated: bundle/NAME.vN.json = {sha256, raw} per contract file


class ContractError(Exception):
    """A contract file is missing, malformed or breaks the envelope rules."""


@dataclass(frozen=True)
class Contract:
    """One contract file: `contracts/NAME.vN.yaml` or a meta-schema under `contracts/meta/`."""

    stem: str  # "body_truth.v0"
    name: str  # "body_truth"
    version: int
    path: Path
    _raw: dict[str, Any] | None = field(default=None, repr=False, compare=False)  # None: read on use
    is_meta: bool = False
    # the generated index's entry of a shipped contract: its id and kind without reading the YAML
    _entry: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def raw(self) -> dict[str, Any]:
        if self._raw is None:
            object.__setattr__(self, "_raw", _parse(self.path))
        return self._raw  # type: ignore[return-value]

    @property
    def id(self) -> str:
        return self._entry["id"] if self._entry and self._raw is None else self.raw["$id"]

    @property
    def x(self) -> dict[str, Any]:
        return self.raw.get("x-lume", {})

    @property
    def kind(self) -> str:
        if self.is_meta:
            return "meta"
        return self._entry["kind"] if self._entry and self._raw is None else self.x["kind"]

    @property
    def producer(self) -> str:
        """Who writes its documents: `lume`, or `external` (read tolerantly, tolerant.py)."""
        if self._entry and self._raw is None:
            return self._entry["producer"]
        return self.x.get("producer", "lume")

    @property
    def compatibility(self) -> str:
        return self.x.get("compatibility", "BACKWARD")

    @property
    def module(self) -> str:
        """Module name of the generated model, e.g. `body_truth_v0` or `meta_label_table_v1`."""
        base = f"{self.name}_v{self.version}"
        return f"meta_{base}" if self.is_meta else base

    @property
    def model_name(self) -> str:
        explicit = self.x.get("model")
        if explicit:
            return explicit
        return "".join(part.capitalize() for part in self.name.split("_"))

    @property
    def match(self) -> dict[str, Any]:
        return self.x.get("match", {})

    @property
    def examples(self) -> list[Any]:
        return list(self.raw.get("examples", []))

    def table_data(self) -> dict[str, Any]:
        """The rule data of a table contract: every key but the envelope."""
        return {k: v for k, v in self.raw.items() if k not in ENVELOPE_KEYS}


@functools.cache
def contracts_dir() -> Path:
    # the package's folder (a regular package on disk), without importing importlib.resources
    return Path(importlib.import_module("lume.contracts").__file__).parent  # type: ignore[arg-type]


def bundle_path(rel: str) -> str:
    """Where codegen bundles the contract file `rel` (its path under contracts/) in
    lume.generated: `meta/x.v1.yaml` -> `bundle/meta/x.v1.json`."""
    return f"{CONTRACT_BUNDLE}/{rel.removesuffix('.yaml')}.json"


def _bundled(path: Path, data: bytes) -> dict[str, Any] | None:
    """The shipped file's contract as codegen bundled it, when the file is still those bytes.
    One small JSON file per contract: a command reads only the contracts it uses."""
    import hashlib

    try:
        rel = path.relative_to(contracts_dir()).as_posix()
        entry = orjson.loads((_generated() / bundle_path(rel)).read_bytes())
    except (ValueError, OSError, orjson.JSONDecodeError):
        return None  # not a shipped contract, or not bundled (yet): parsed as YAML
    if isinstance(entry, dict) and entry.get("sha256") == hashlib.sha256(data).hexdigest() \
            and isinstance(entry.get("raw"), dict):
        return entry["raw"]
    return None


def bundle_entry(c: Contract) -> dict[str, Any]:
    """What codegen writes into the bundle for `c`."""
    import hashlib

    return {"sha256": hashlib.sha256(c.path.read_bytes()).hexdigest(), "raw": c.raw}


def _parse(path: Path) -> dict[str, Any]:
    """A contract file's content: from the bundle while the file has the bundled bytes, else
    parsed as YAML."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ContractError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    raw = _bundled(path, data)
    if raw is None:
        raw = _parse_yaml(path, data)
    if not isinstance(raw, dict) or "$id" not in raw:
        raise ContractError(f"{path}: a contract is a mapping with a `$id`")
    return raw


def _parse_yaml(path: Path, data: bytes) -> Any:
    import yaml

    try:
        return yaml.load(data.decode("utf-8"),  # noqa: S506 - a safe loader
                         Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except UnicodeDecodeError as exc:
        raise ContractError(f"{path}: not UTF-8: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: not valid YAML: {exc}") from exc


@functools.cache
def _generated() -> Path:
    return Path(importlib.import_module("lume.generated").__file__).parent  # type: ignore[arg-type]


def _named(path: Path) -> re.Match[str]:
    m = _STEM.match(path.name.removesuffix(".yaml"))
    if not m:
        raise ContractError(f"{path}: contract file names are NAME.vN.yaml")
    return m


def _read(path: Path, *, is_meta: bool) -> Contract:
    m = _named(path)
    return Contract(m.group(0), m.group("name"), int(m.group("version")), path, _parse(path), is_meta)


@functools.cache
def _meta(path: Path) -> Contract:
    return _read(path, is_meta=True)


@functools.cache
def load_all(root: Path | None = None) -> tuple[Contract, ...]:
    """Every contract (meta-schemas last), sorted by file name for deterministic output."""
    base = root or contracts_dir()
    shipped = {entry["source"]: stem for stem, entry in REGISTRY.items()} if root is None else {}
    found = [(_one(shipped[p.name]) if p.name in shipped else None) or _read(p, is_meta=False)
             for p in sorted(base.glob("*.yaml"))]
    found += [_meta(p) if root is None else _read(p, is_meta=True) for p in sorted((base / "meta").glob("*.yaml"))]
    ids: dict[str, Path] = {}
    for c in found:
        c.raw  # noqa: B018 - every file parsed and checked: its id and kind from the YAML, not the index
        if c.id in ids:
            raise ContractError(f"{c.path}: $id {c.id} already used by {ids[c.id]}")
        ids[c.id] = c.path
    return tuple(found)


def by_id(root: Path | None = None) -> dict[str, Contract]:
    return {c.id: c for c in load_all(root)}


@functools.cache
def _registry_keys() -> dict[str, str]:
    """Stem, `$id` and name (-> its newest version) of every indexed contract -> its stem."""
    keys: dict[str, str] = {}
    for stem in sorted(REGISTRY, key=lambda s: int(s.rsplit(".v", 1)[1])):
        keys[stem.rsplit(".v", 1)[0]] = stem  # in version order: the newest wins
    for stem, entry in REGISTRY.items():
        keys[stem] = keys[entry["id"]] = stem
    return keys


@functools.cache
def _one(stem: str) -> Contract | None:
    """One shipped contract, read alone and only when its content is used: a command that needs
    two contracts parses two files, not all of them. None when the index names a file that is not
    there (load_all decides)."""
    entry = REGISTRY[stem]
    path = contracts_dir() / entry["source"]
    if not path.is_file():
        return None
    m = _named(path)
    return Contract(m.group(0), m.group("name"), int(m.group("version")), path, None, False, entry)


def get(key: str, root: Path | None = None) -> Contract:
    """Look a contract up by stem (`body_truth.v0`), name (`body_truth`, newest version) or `$id`."""
    if root is None:
        stem = _registry_keys().get(key)
        found = _one(stem) if stem is not None else None
        if found is not None:
            return found
    contracts = [c for c in load_all(root) if not c.is_meta]
    for c in contracts:
        if key in (c.stem, c.id):
            return c
    named = sorted((c for c in contracts if c.name == key), key=lambda c: c.version)
    if named:
        return named[-1]
    for c in load_all(root):
        if c.is_meta and key in (c.stem, c.id, f"meta/{c.stem}"):
            return c
    raise ContractError(f"unknown contract {key!r} (see `lume contracts list`)")


def contract_ref(key: str | Contract, *, with_file: bool = False) -> dict[str, str]:
    """The one reference to a contract that the documents we write record: `{id, sha256}` (the
    SHA-256 of the file's bytes), with `file` (its path as `contracts/...`) when asked."""
    import hashlib

    c = key if isinstance(key, Contract) else get(key)
    digest = hashlib.sha256(c.path.read_bytes()).hexdigest()
    if not with_file:
        return {"id": c.id, "sha256": digest}
    return {"id": c.id, "file": f"contracts/{c.path.relative_to(contracts_dir()).as_posix()}",
            "sha256": digest}


def meta_for(table: Contract, root: Path | None = None) -> Contract:
    """The meta-schema that validates a table contract's data."""
    stem = table.x.get("meta")
    if root is None and isinstance(stem, str) and _STEM.match(stem):
        path = contracts_dir() / "meta" / f"{stem}.yaml"
        if path.is_file():
            return _meta(path)
    for c in load_all(root):
        if c.is_meta and c.stem == stem:
            return c
    raise ContractError(f"{table.path}: meta-schema meta/{stem}.yaml not found")
