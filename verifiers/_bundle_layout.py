"""bundle.layout: every rehearsal bundle's folder against bundle_layout.v1 (issue 15).

For each `bundle.json` of the root, the folder around it: the files the layout requires are
there (top level, each source and derived folder that exists, each instance folder, and the
derived folders a source type requires, e.g. `derived/mac4_first/` in a bundle with a Mac4 long
take); a sidecar found anywhere but its declared folder (`sources/mac4_tier0/derived/mac4_first/
device_topology.json`) is out of place; every file under `derived/` is registered in
`bundle.json` `derived[].outputs` (so `storage.integrity` checksums it); any other file the
layout does not name is reported as the layout's `unknown_files` says (a warning by default).
"""
from __future__ import annotations

import functools
import posixpath
import re
from typing import Any, Iterator

from lume.runtime.core import InputError
from lume.runtime.storage import layout

from ._context import Context
from ._framework import Evidence, held, verifier, violated, warned

ID = "bundle.layout"
CONTRACT = "bundle_layout.v1"


@functools.lru_cache(maxsize=None)
def _glob(pattern: str) -> re.Pattern[str]:
    """A layout path glob as a regex: `**` any depth, `*` inside one segment."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


@functools.lru_cache(maxsize=None)
def _any_of(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for a spec's file globs: one match per file, not one per pattern."""
    files = [_glob(p).pattern for p in patterns if not p.endswith("/")]
    return re.compile("|".join(f"(?:{f})" for f in files) if files else r"(?!)")


def _named(rel: str, spec: dict[str, Any]) -> bool:
    """Whether the layout names `rel` (relative to the folder) among its required or allowed files."""
    return _any_of((*spec.get("required", []), *spec.get("allowed", []))).match(rel) is not None


def _folder(spec: dict[str, Any]) -> str:
    return spec["folder"].rstrip("/")


def _instance_ok(name: str, instances: dict[str, Any]) -> bool:
    if instances.get("names"):
        return name in instances["names"]
    pattern = instances.get("pattern")
    return bool(re.fullmatch(pattern, name)) if pattern else True


class _Bundle:
    """One bundle folder and what its layout says about each of its files."""

    def __init__(self, ctx: Context, rel: str, doc: dict[str, Any]):
        self.rel, self.doc = rel, doc
        self.folder = posixpath.dirname(rel)
        prefix = self.folder + "/" if self.folder else ""
        self.files = [f[len(prefix):] for f in ctx.files if f.startswith(prefix)]
        self.lay = layout()
        self.registered = {o.get("path") for d in doc.get("derived") or [] if isinstance(d, dict)
                           for o in d.get("outputs") or [] if isinstance(o, dict)}

    def where(self, rel: str) -> str:
        return posixpath.join(self.folder, rel) if self.folder else rel

    def place(self, rel: str) -> tuple[str, dict[str, Any] | None, str]:
        """(kind, spec, path inside the folder) of a bundle file: kind is top, source, derived,
        reports, or unknown (spec None)."""
        parts = rel.split("/")
        lay = self.lay
        if len(parts) == 1:
            return ("top", lay["top_level"], rel) if _named(rel, lay["top_level"]) else ("unknown", None, rel)
        if parts[0] == "sources" and len(parts) > 2 and parts[1] in lay["sources"]:
            spec = lay["sources"][parts[1]]
            inner = parts[2:]
            if spec.get("instances"):
                if len(inner) < 2 or not _instance_ok(inner[0], spec["instances"]):
                    return "unknown", None, rel
                inner = inner[1:]
            inside = "/".join(inner)
            return ("source", spec, inside) if _named(inside, spec) else ("unknown", None, rel)
        if parts[0] == "derived" and len(parts) > 2 and parts[1] in lay["derived"]:
            spec = lay["derived"][parts[1]]
            inside = "/".join(parts[2:])
            return ("derived", spec, inside) if _named(inside, spec) else ("unknown", None, rel)
        reports = lay["reports"]
        if rel.startswith(_folder(reports) + "/") and _named(rel[len(_folder(reports)) + 1:], reports):
            return "reports", reports, rel
        return "unknown", None, rel

    def misplaced(self, rel: str) -> str | None:
        """Where a sidecar found at `rel` belongs (`derived/<folder>/<file>`), or None."""
        for spec in self.lay["derived"].values():
            folder = _folder(spec)
            at = rel.find(folder + "/")
            if at > 0 and rel[at - 1] == "/" and _named(rel[at + len(folder) + 1:], spec):
                return rel[at:]
        return None


def _check(ctx: Context, rel: str, doc: dict[str, Any]) -> Iterator[Evidence]:
    b = _Bundle(ctx, rel, doc)
    policy = b.lay.get("unknown_files", "warning")
    placed = 0
    present_sources: dict[str, set[str]] = {}  # source folder (or instance folder) -> files
    present_derived: dict[str, set[str]] = {}
    for f in b.files:
        kind, spec, inside = b.place(f)
        if kind == "unknown":
            home = b.misplaced(f)
            if home is not None:
                yield violated(f"sidecar out of place: bundle_layout.v1 puts it at {home}", file=b.where(f),
                               expected=b.where(home), found=b.where(f))
            elif policy == "failure":
                yield violated("file the bundle layout does not name", file=b.where(f),
                               expected=f"a path of {CONTRACT}", found=f)
            else:
                yield warned("stray file: the bundle layout does not name it", file=b.where(f),
                             expected=f"a path of {CONTRACT}", found=f)
            continue
        placed += 1
        if kind == "source":
            home = f[: len(f) - len(inside) - 1]
            present_sources.setdefault(home, set()).add(inside)
        elif kind == "derived":
            present_derived.setdefault(_folder(spec), set()).add(inside)
            if f not in b.registered:
                yield violated("derived output not registered in bundle.json derived[] (no checksum "
                               "records it)", file=b.where(f), expected="an outputs[] entry with sha256",
                               found=None)
    for required in b.lay["top_level"]["required"]:
        if required not in b.files:
            yield violated("required file missing", file=b.where(required), expected=required, found=None)
    for home, have in sorted(present_sources.items()):
        spec = b.lay["sources"][home.split("/")[1]]
        for required in spec["required"]:
            if required not in have:
                yield violated("required file of a source folder missing", file=b.where(f"{home}/{required}"),
                               expected=required, found=None)
    types = {s.get("source_type") for s in doc.get("sources") or [] if isinstance(s, dict)}
    for key, spec in b.lay["derived"].items():
        folder = _folder(spec)
        have = present_derived.get(folder)
        needed = set(spec.get("required_with") or []) & types
        if have is None and needed:
            yield violated(f"{folder}/ missing: a bundle with a {', '.join(sorted(needed))} source carries "
                           "it", file=b.where(folder), expected=[f"{folder}/{r}" for r in spec["required"]],
                           found=None)
            continue
        for required in spec["required"] if have is not None else []:
            if required not in have:
                yield violated("required file of a derived folder missing", file=b.where(f"{folder}/{required}"),
                               expected=required, found=None)
    yield held(f"{placed} file(s) where bundle_layout.v1 puts them", file=rel,
               expected="the layout", found=placed)


def _has_bundles(ctx: Context) -> bool:
    return bool(ctx.documents_of("rehearsal_bundle.v1"))


@verifier(ID, "Every bundle holds what bundle_layout.v1 requires, where it says; derived outputs registered",
          domain="data", inputs=_has_bundles, needs="bundle.json")
def bundle_layout(ctx: Context) -> Iterator[Evidence]:
    for rel in ctx.documents_of("rehearsal_bundle.v1"):
        try:
            doc = ctx.json(rel)
        except InputError as exc:
            yield violated(f"cannot read: {exc}", file=rel, expected="valid JSON", found="unreadable")
            continue
        if isinstance(doc, dict):
            yield from _check(ctx, rel, doc)
