"""`lume contracts diff BASE [HEAD]`: classify every contract change between two git refs.

Both versions of every `contracts/*.yaml` and `contracts/meta/*.yaml` are read from git
(`git ls-tree` + `git cat-file --batch`; HEAD None = the working tree). Schemas are compared
with set semantics (schema_compat), rule tables entry by entry (table_diff). Each change is
judged against its contract's declared mode (`x-lume.compatibility`: BACKWARD by default,
FULL for the LUMF layout and director frames; a meta-schema takes the strictest mode of the
tables it validates). A change that breaks the mode is `breaking` (exit 1) unless the
contract got a new version: a new versioned file or a new `$id`, which may break freely.
"""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

from lume.runtime.core import ENVELOPE_KEYS

from ._schema_compat import Change, Resolver, SchemaComparer, _canon, show
from ._table_diff import diff_table

WORKTREE = "WORKTREE"
MODES = {"BACKWARD": ("backward",), "FORWARD": ("forward",), "FULL": ("backward", "forward"), "NONE": ()}
_FILE = re.compile(r"^(?P<name>[a-z0-9_]+)\.v(?P<version>[0-9]+)\.yaml$")
_LUME_REF = re.compile(r'"\$ref":\s*"(lume:[^"#]+)')
BREAKING = "breaking"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~20x faster on 100 files


class DiffInputError(Exception):
    """A git ref, repository or contract file that cannot be read (bad input: exit 2)."""


# --- reading both versions -------------------------------------------------------------------

def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise DiffInputError("git is not installed") from exc
    if done.returncode != 0:
        raise DiffInputError(f"git {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def repo_root(path: Path) -> Path:
    return Path(_git(path, "rev-parse", "--show-toplevel").decode().strip())


_PARSED: dict[str, dict[str, Any]] = {}  # content digest -> parsed YAML (both refs share most files)


def _parse(text: bytes, where: str) -> dict[str, Any]:
    digest = hashlib.sha256(text).hexdigest()
    if digest in _PARSED:
        return _PARSED[digest]
    try:
        raw = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise DiffInputError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise DiffInputError(f"{where}: a contract is a YAML mapping")
    if len(_PARSED) > 4096:
        _PARSED.clear()
    _PARSED[digest] = raw
    return raw


def _wanted(rel: str, folder: str) -> bool:
    parts = rel.split("/")
    top = folder.strip("/").split("/")
    rest = parts[len(top):]
    return parts[: len(top)] == top and (
        (len(rest) == 1 or (len(rest) == 2 and rest[0] == "meta")) and _FILE.match(rest[-1]) is not None)


def read_snapshot(repo: Path, ref: str | None, folder: str = "contracts") -> dict[str, dict[str, Any]]:
    """Every contract file at `ref` (None = working tree): repo-relative path -> parsed YAML."""
    if ref is None:
        base = repo / folder
        paths = sorted([*base.glob("*.yaml"), *base.glob("meta/*.yaml")])
        return {p.relative_to(repo).as_posix(): _parse(p.read_bytes(), str(p))
                for p in paths if _wanted(p.relative_to(repo).as_posix(), folder)}
    try:
        commit = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    except DiffInputError as exc:
        raise DiffInputError(f"{ref!r} is not a commit in {repo} (a branch, tag or commit id)") from exc
    listing = _git(repo, "ls-tree", "-r", "-z", commit, "--", f"{folder}/")
    entries = []
    for item in listing.split(b"\0"):
        if not item:
            continue
        meta, _, path = item.decode().partition("\t")
        _, kind, sha = meta.split()
        if kind == "blob" and _wanted(path, folder):
            entries.append((path, sha))
    if not entries:
        return {}
    out = _git(repo, "cat-file", "--batch", stdin="".join(f"{sha}\n" for _, sha in entries).encode())
    files, pos = {}, 0
    for path, _ in entries:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        body = out[header_end + 1: header_end + 1 + size]
        pos = header_end + 1 + size + 1
        files[path] = _parse(body, f"{ref}:{path}")
    return files


# --- the result ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    contract: str  # "body_truth.v0" or "meta/label_table.v1"
    mode: str
    path: str
    change: str
    backward: bool | None
    forward: bool | None
    verdict: str

    @property
    def failing(self) -> bool:
        return self.verdict == BREAKING


@dataclass
class DiffResult:
    base: str
    head: str
    compared: int = 0
    rows: list[Row] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(r.failing for r in self.rows)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.verdict] = out.get(r.verdict, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base, "head": self.head, "ok": not self.failed, "contracts_compared": self.compared,
                "contracts_changed": len({r.contract for r in self.rows}), "verdicts": self.counts(),
                "changes": [asdict(r) for r in self.rows]}

    def to_markdown(self) -> str:
        changed = len({r.contract for r in self.rows})
        counts = ", ".join(f"{n} {v}" for v, n in sorted(self.counts().items())) or "no changes"
        lines = [f"# Contract diff: `{self.base}` → `{self.head}`", "",
                 f"{self.compared} contracts compared, {changed} changed: {counts}. "
                 f"{'**Breaking changes without a new contract version: fails.**' if self.failed else 'OK.'}",
                 "", "backward = new readers accept every old document; "
                 "forward = old readers accept every new document.", ""]
        if not self.rows:
            return "\n".join(lines) + "\nNo contract changes.\n"
        lines += ["| contract | path | change | backward | forward | verdict |", "|---|---|---|---|---|---|"]
        for r in self.rows:
            verdict = f"**{r.verdict}**" if r.failing else r.verdict
            cells = [f"`{r.contract}` ({r.mode})", f"`{r.path}`", r.change, yes_no(r.backward),
                     yes_no(r.forward), verdict]
            lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
        return "\n".join(lines) + "\n"


def yes_no(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "?"}[value]


def verdict_of(change: Change, mode: str, new_version: bool) -> str:
    needs = MODES.get(mode, MODES["BACKWARD"])
    if change.review_only:
        return "review"
    if change.table_value:
        breaks = len(needs) == 2  # a changed rule value is breaking only under FULL
        if not breaks:
            return "review" if needs else "allowed"
    else:
        breaks = not all(getattr(change, n) is True for n in needs)
        if not needs:
            return "compatible" if change.backward and change.forward else "allowed"
    if not breaks:
        return "compatible"
    return "breaking, new version" if new_version else BREAKING


# --- comparing ----------------------------------------------------------------------------------

def _split(path: str) -> tuple[str, str, int, bool]:
    """(display name, contract name, version, is meta) of `contracts/[meta/]NAME.vN.yaml`."""
    parts = path.split("/")
    m = _FILE.match(parts[-1])
    assert m is not None
    is_meta = len(parts) >= 2 and parts[-2] == "meta"
    stem = parts[-1].removesuffix(".yaml")
    return (f"meta/{stem}" if is_meta else stem), m.group("name"), int(m.group("version")), is_meta


def _mode(raw: dict[str, Any] | None) -> str:
    return ((raw or {}).get("x-lume") or {}).get("compatibility", "BACKWARD")


def _meta_mode(stem: str, *snapshots: dict[str, dict[str, Any]]) -> str:
    """A meta-schema is held to the strictest mode of the tables it validates."""
    needs: set[str] = set()
    for snap in snapshots:
        for raw in snap.values():
            x = raw.get("x-lume") or {}
            if x.get("kind") == "table" and x.get("meta") == stem:
                needs |= set(MODES.get(x.get("compatibility", "BACKWARD"), ()))
    if not needs:
        return "BACKWARD"
    return {("backward",): "BACKWARD", ("forward",): "FORWARD"}.get(tuple(sorted(needs)), "FULL")


class ContractDiff:
    def __init__(self, base: dict[str, dict[str, Any]], head: dict[str, dict[str, Any]]):
        self.base, self.head = base, head
        self.old = Resolver({raw.get("$id"): raw for raw in base.values()})
        self.new = Resolver({raw.get("$id"): raw for raw in head.values()})
        # parsed documents are shared by content, so identity means "unchanged"
        changed_ids = {raw.get("$id") for p, raw in base.items() if head.get(p) is not raw}
        changed_ids |= {raw.get("$id") for p, raw in head.items() if base.get(p) is not raw}
        self.changed_ids = changed_ids

    def _depends_on_change(self, raw: dict[str, Any], seen: set[str] | None = None) -> bool:
        seen = seen or set()
        for uri in set(_LUME_REF.findall(json.dumps(raw))):
            if uri in self.changed_ids:
                return True
            if uri not in seen and uri in self.new.docs:
                seen.add(uri)
                if self._depends_on_change(self.new.docs[uri], seen):
                    return True
        return False

    def run(self, result: DiffResult) -> DiffResult:
        names_base: dict[tuple[bool, str], list[tuple[int, str]]] = {}
        for p in self.base:
            _, name, version, is_meta = _split(p)
            names_base.setdefault((is_meta, name), []).append((version, p))
        names_head: dict[tuple[bool, str], list[tuple[int, str]]] = {}
        for p in self.head:
            _, name, version, is_meta = _split(p)
            names_head.setdefault((is_meta, name), []).append((version, p))
        for path in sorted(set(self.base) | set(self.head)):
            display, name, version, is_meta = _split(path)
            mode = _meta_mode(display.removeprefix("meta/"), self.base, self.head) if is_meta \
                else _mode(self.base.get(path) or self.head.get(path))
            if path in self.base and path in self.head:
                result.compared += 1
                old, new = self.base[path], self.head[path]
                if (old is new or _canon(old) == _canon(new)) and not self._depends_on_change(new):
                    continue
                new_version = old.get("$id") != new.get("$id")
                changes = list(self._pair(old, new, is_meta))
            elif path in self.head:
                result.compared += 1
                earlier = [v for v in names_base.get((is_meta, name), []) if v[0] < version]
                if not earlier:
                    changes = [Change("$", f"contract added ({self.head[path].get('$id')})", True, True)]
                    new_version = True
                else:
                    _, prev = max(earlier)
                    old, new = self.base[prev], self.head[path]
                    mode = _mode(old) if not is_meta else mode
                    new_version = True
                    result.rows.append(Row(display, mode, "$", f"new version of {_split(prev)[0]} "
                                           f"({old.get('$id')} → {new.get('$id')}); its changes follow",
                                           None, None, "new version"))
                    changes = [c for c in self._pair(old, new, is_meta) if c.path != "$id"]
            else:
                later = [v for v in names_head.get((is_meta, name), []) if v[0] > version]
                if later:
                    changes = [Change("$", f"file removed, superseded by {_split(max(later)[1])[0]}",
                                      False, True, review_only=True)]
                else:
                    changes = [Change("$", "contract removed", False, True)]
                new_version = False
            for c in changes:
                result.rows.append(Row(display, mode, c.path, c.change, c.backward, c.forward,
                                       verdict_of(c, mode, new_version)))
        return result

    def _pair(self, old: dict[str, Any], new: dict[str, Any], is_meta: bool) -> Iterator[Change]:
        yield from _envelope(old, new)
        kind = (new.get("x-lume") or {}).get("kind")
        if is_meta or kind in ("document", "record"):
            tolerant = _producer(old) == _producer(new) == "external"
            yield from SchemaComparer(self.old, self.new, tolerant=tolerant).compare(old, new, old, new)
        elif kind == "definitions":
            odefs, ndefs = old.get("$defs") or {}, new.get("$defs") or {}
            cmp = SchemaComparer(self.old, self.new)
            for name in sorted(set(odefs) | set(ndefs)):
                path = f"$defs.{name}"
                if name not in ndefs:
                    yield Change(path, "definition removed", False, False)
                elif name not in odefs:
                    yield Change(path, "definition added", True, True)
                else:
                    yield from cmp.compare(odefs[name], ndefs[name], old, new, path)
        elif kind == "table":
            def data(raw: dict[str, Any]) -> dict[str, Any]:
                return {k: v for k, v in raw.items() if k not in ENVELOPE_KEYS}
            yield from diff_table(data(old), data(new))


def _producer(raw: dict[str, Any]) -> str:
    return (raw.get("x-lume") or {}).get("producer", "lume")


def _envelope(old: dict[str, Any], new: dict[str, Any]) -> Iterator[Change]:
    ox, nx = old.get("x-lume") or {}, new.get("x-lume") or {}
    if _producer(old) != _producer(new):
        opens = _producer(new) == "external"  # tolerant readers accept more: old data still reads
        yield Change("x-lume.producer", f"producer {_producer(old)} → {_producer(new)} (read "
                     f"{'tolerantly' if opens else 'closed'} from now on)", opens, not opens)
    if old.get("$id") != new.get("$id"):
        yield Change("$id", f"{old.get('$id')} → {new.get('$id')} (new version)", None, None, review_only=True)
    if ox.get("kind") != nx.get("kind"):
        yield Change("x-lume.kind", f"kind {ox.get('kind')} → {nx.get('kind')}", None, None)
    for key, why in (("compatibility", "compatibility mode"), ("match", "how `lume validate` recognises documents"),
                     ("model", "generated model class"), ("meta", "meta-schema of the table")):
        if _canon(ox.get(key)) != _canon(nx.get(key)):
            yield Change(f"x-lume.{key}", f"{why}: {show(ox.get(key))} → {show(nx.get(key))}", None, None,
                         review_only=True)


def diff_refs(repo: Path, base: str, head: str | None = None, folder: str = "contracts") -> DiffResult:
    """Compare the contracts at git ref `base` with `head` (None = the working tree)."""
    root = repo_root(repo)
    old = read_snapshot(root, base, folder)
    new = read_snapshot(root, head, folder)
    return ContractDiff(old, new).run(DiffResult(base, head or WORKTREE))
