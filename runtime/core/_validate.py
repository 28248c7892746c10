"""Validate JSON documents and JSONL records against the contract they belong to.

Validation runs on jsonschema-rs over the bundled schemas in `generated/schemas/`: it keeps
bulk JSONL validation close to the speed of parsing (benches/README.md). A contract of
documents other programs write (`x-lume.producer: external`, tolerant.py) is validated with its
objects opened, and its unknown keys come back as warnings (`tolerated`, `FileResult.warnings`).
"""
from __future__ import annotations

import fnmatch
import functools
import importlib
import itertools
import os
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import orjson

from lume.generated.constants import INPUT_JSONL_STREAM

from ._contracts import REGISTRY, Contract, ContractError, get, meta_for
from ._files import input_limit, open_input
from ._forked import Forked, can_fork
from ._gc import paused_gc
from ._inline import self_contained
from ._jsonl import SLICE, InputError, iter_jsonl, line_slices, read_json
from ._tolerant import is_tolerant, opened, unknown_keys


class UnknownContract(ContractError):
    """A document names a schema/type no contract declares, or `--contract` names none."""


class Unreadable(ContractError):
    """A file cannot be read or parsed as JSON."""


@dataclass(frozen=True)
class Problem:
    """One validation error: where (file, line, JSON path) and against which contract."""

    file: str
    line: int | None
    path: str
    message: str
    contract: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message} [{self.contract}]"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def one_line(found: list[Problem]) -> str:
    """The first problem and how many more: the one wording of an invalid input, e.g.
    `FILE:LINE: $.path: message [contract] (and 2 more)`."""
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return f"{found[0]}{more}"


def json_path(parts: list[Any]) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def bundled_schema(c: Contract) -> dict[str, Any]:
    """The self-contained schema: the committed generated copy, or inlined from contracts."""
    generated = _schemas_dir() / f"{c.module}.json"
    try:
        return orjson.loads(generated.read_bytes())
    except OSError:
        return self_contained(c)


@functools.cache
def _schemas_dir() -> Path:
    # the generated package's folder on disk, without importing importlib.resources
    return Path(importlib.import_module("lume.generated").__file__).parent / "schemas"  # type: ignore[arg-type]


@functools.cache
def validator(stem: str) -> Any:
    import jsonschema_rs  # a bulk JSONL file the fast path accepts never loads it

    c = get(stem)
    schema_of = meta_for(c) if c.kind == "table" else c
    schema = bundled_schema(schema_of)
    return jsonschema_rs.validator_for(opened(schema) if is_tolerant(c) else schema, validate_formats=True)


_DISCRIMINATORS = ("Constant", "Enum")


def _explained(error: Any) -> list[tuple[str, str]]:
    """(JSON path, message) of one error; a `oneOf` / `anyOf` that no branch satisfies is
    explained by the errors of the branch the value was meant for (the one its discriminator
    const matches, else the one with the fewest errors), not a bare "not valid under any"."""
    branches = getattr(error.kind, "context", None)
    if type(error.kind).__name__ in ("OneOfNotValid", "AnyOf") and branches:
        depth = len(list(error.instance_path)) + 1

        def score(errors: list[Any]) -> tuple[bool, int]:
            missed = any(type(e.kind).__name__ in _DISCRIMINATORS and len(list(e.instance_path)) == depth
                         for e in errors)
            return missed, len(errors)
        best = min(branches, key=score)
        if best and not score(best)[0]:
            return [item for e in best for item in _explained(e)]
    return [(json_path(list(error.instance_path)), error.message)]


def problems(instance: Any, contract: Contract, *, file: str = "<memory>",
             line: int | None = None) -> list[Problem]:
    v = validator(contract.stem)
    if v.is_valid(instance):
        return []
    found = [Problem(file, line, path, message, contract.stem)
             for e in v.iter_errors(instance) for path, message in _explained(e)]
    return list(dict.fromkeys(found))


@functools.cache
def _strict_schema(stem: str) -> dict[str, Any]:
    return bundled_schema(get(stem))


def tolerated(instance: Any, contract: Contract, *, file: str = "<memory>",
             line: int | None = None) -> list[Problem]:
    """The unknown keys of a document of a tolerant contract (none for a closed one): each a
    Problem naming the file, line and the key's JSON path, to be listed, never refused."""
    if not is_tolerant(contract):
        return []
    return [Problem(file, line, f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]",
                    f"unknown key {key!r} accepted and kept ({contract.stem} is written by another "
                    "program and read tolerantly)", contract.stem)
            for path, key in unknown_keys(instance, _strict_schema(contract.stem))]


def table_problems(contract: Contract) -> list[Problem]:
    return problems(contract.table_data(), contract, file=str(contract.path))


@functools.cache
def _matchers() -> tuple[dict[str, str], dict[str, str], list[tuple[str, str]]]:
    """schema -> stem, type -> stem, (file pattern, stem): from the generated index, so that
    matching a document reads only the one contract it matches."""
    by_schema: dict[str, str] = {}
    by_type: dict[str, str] = {}
    by_file: list[tuple[str, str]] = []
    for stem, entry in REGISTRY.items():
        m = entry["match"]
        if "schema" in m:
            by_schema[m["schema"]] = stem
        if "type" in m:
            by_type[m["type"]] = stem
        by_file += [(pattern, stem) for pattern in m.get("files", [])]
    by_file.sort(key=lambda pc: -len(pc[0]))  # most specific pattern first
    return by_schema, by_type, by_file


def contract_for(doc: Any, path: Path | None) -> Contract | None:
    """Pick the contract from the document's `schema`, then `type`, then the file path."""
    by_schema, by_type, by_file = _matchers()
    if isinstance(doc, dict):
        schema = doc.get("schema")
        if isinstance(schema, str) and schema.startswith("lume."):
            if schema not in by_schema:
                raise UnknownContract(f"no contract declares schema {schema!r}")
            return get(by_schema[schema])
        kind = doc.get("type")
        if isinstance(kind, str) and kind in by_type:
            return get(by_type[kind])
    if path is not None:
        posix = path.as_posix()
        for pattern, stem in by_file:
            if fnmatch.fnmatch(posix, pattern) or fnmatch.fnmatch(posix, f"*/{pattern}"):
                return get(stem)
    return None


@dataclass
class FileResult:
    file: str
    contract: str | None
    documents: int
    problems: list[Problem]
    skipped: str | None = None  # why the file was not validated (no contract matches)
    warnings: list[Problem] = field(default_factory=list)  # unknown keys of a tolerant contract

    @property
    def ok(self) -> bool:
        return not self.problems


BLOCK = 1 << 20  # bytes read at a time by the fast path: memory is flat in the file's length
# A regular JSONL file at least this large is decoded by two processes, a half each (forked.py):
# below it the fork and the second process's page tables cost more than the half saves.
SPLIT_BYTES = 8 << 20


def _maybe_too_deep(chunk: bytes, max_depth: int | None) -> bool:
    """Whether a line of `chunk` opens more than `max_depth` arrays or objects (an upper bound of
    its nesting, counted in C: brackets inside strings only make it cautious)."""
    if not max_depth or chunk.count(b"{") + chunk.count(b"[") <= max_depth:
        return False
    return any(line.count(b"{") + line.count(b"[") > max_depth for line in chunk.split(b"\n"))


def _line_chunks(read: Callable[[int], bytes], path: Path, limit: Any, state: dict[str, bool],
                 start: int = 0) -> Iterator[bytes | memoryview]:
    """The file (from offset `start`, which begins a line), read BLOCK bytes at a time with
    `read`, as views of whole lines (about SLICE bytes each: decoding a slice at a time keeps
    its records in cache; a block at a time was 1.1-1.6x slower, per contract). Stops early with
    `state["breach"]` set when the file or a line may break the jsonl_stream limits: the exact
    path then names the line. With blocks no longer than the line limit, only the line that
    spans two blocks can be too long, so no chunk is split to measure its lines."""
    max_line = limit.max_line_bytes or limit.max_bytes
    block_size = min(BLOCK, max_line)
    total = start
    pending = b""
    while True:
        try:
            block = read(block_size)
        except OSError as exc:
            raise Unreadable(f"{path}: cannot read: {exc.strerror or exc}") from exc
        total += len(block)
        if total > limit.max_bytes:
            state["breach"] = True
            return
        if not block:
            if pending:
                yield pending
            return
        first = block.find(b"\n")
        if first < 0:
            pending += block
            if len(pending) > max_line:
                state["breach"] = True
                return
            continue
        if len(pending) + first > max_line:  # the line that spans blocks, CR included: cautious
            state["breach"] = True
            return
        buf = pending + block if pending else block  # the one copy of the bytes
        cut = len(pending) + block.rfind(b"\n") + 1
        yield from line_slices(buf, cut, SLICE)  # decoded a cache-sized slice at a time
        pending = buf[cut:]


def _fast_jsonl(path: Path, contract: Contract | None,
                tap: Callable[[bytes], None] | None = None) -> FileResult | None:
    """A valid JSONL file accepted in one streaming msgspec pass (fastpath.py), or None: the
    exact path then decides and reports every error with its line (and every limit breach).
    A large file is decoded by two processes, this one and a forked child, half each."""
    from ._fastpath import accepts_chunks, decoder, matches_all

    limit = input_limit(INPUT_JSONL_STREAM)
    try:
        fh = open_input(path, INPUT_JSONL_STREAM)
    except InputError as exc:
        raise Unreadable(str(exc)) from exc
    with fh:
        state = {"breach": False}
        cut = _halfway(fh, limit) if tap is None else None
        read = fh.read if cut is None else _reader(fh.fileno(), 0, cut)
        stream: Iterator[bytes | memoryview] = _line_chunks(read, path, limit, state)
        if contract is None:
            first_chunk = next(stream, b"")
            first = next((line for line in bytes(first_chunk).split(b"\n", 64)[:64] if line.strip()), None)
            if first is None:
                return None
            try:
                contract = contract_for(orjson.loads(first), path)
            except (orjson.JSONDecodeError, ContractError):
                return None
            if contract is None:
                return None
            stream = itertools.chain([first_chunk], stream)
        stem = contract.stem
        fast = decoder(stem)
        if fast is None:
            return None
        stream = _bounded(stream, fast, limit, state)
        if tap is not None:
            stream = _tapped(stream, tap)
        second = None
        if cut is not None:
            for _, pattern in fast.deferred:  # built here: the child then imports and compiles nothing
                matches_all(pattern)
            fd = fh.fileno()
            try:
                second = Forked(lambda: _accepts_from(fd, cut, stem, path, limit))
            except OSError:  # no process to be had (a process limit, memory): this one reads it all
                pass
        try:
            count = accepts_chunks(stem, stream)
        except BaseException:
            if second is not None:
                second.cancel()
            raise
        if cut is not None:
            if count is None or state["breach"]:
                if second is not None:
                    second.cancel()
                return None
            rest = (second.result() if second is not None
                    else _accepts_from(fh.fileno(), cut, stem, path, limit))
            count = None if rest is None else count + rest
    if count is None or state["breach"]:
        return None
    return FileResult(str(path), stem, count, [])


def _halfway(fh: Any, limit: Any) -> int | None:
    """Where a second process takes over: just after the line end nearest past the middle of a
    regular file of at least SPLIT_BYTES, when forking is safe; None to read it all here."""
    if not can_fork():
        return None
    fd = fh.fileno()
    st = os.fstat(fd)
    size = st.st_size
    if size < SPLIT_BYTES or not stat.S_ISREG(st.st_mode):
        return None
    max_line = limit.max_line_bytes or limit.max_bytes
    middle = size // 2
    try:
        around = os.pread(fd, min(max_line, BLOCK) + 2, middle)  # a line end within a block, or no split
    except OSError:
        return None
    end = around.find(b"\n")
    return None if end < 0 else middle + end + 1  # no line end near: one process finds the breach


def _reader(fd: int, start: int, stop: int | None) -> Callable[[int], bytes]:
    """`read(n)` over the bytes of `fd` from `start` to `stop` (EOF when None), by offset: the
    two processes share the file descriptor, never its position."""
    at = start

    def read(n: int) -> bytes:
        nonlocal at
        n = n if stop is None else min(n, stop - at)
        if n <= 0:
            return b""
        data = os.pread(fd, n, at)
        at += len(data)
        return data
    return read


def _accepts_from(fd: int, start: int, stem: str, path: Path, limit: Any) -> int | None:
    """The second half (from `start` to the end) through the fast path: its record count, or
    None when it is refused or may break a limit (the exact path then reads the whole file)."""
    from ._fastpath import accepts_chunks, decoder

    state = {"breach": False}
    stream = _bounded(_line_chunks(_reader(fd, start, None), path, limit, state, start), decoder(stem),
                      limit, state)
    count = accepts_chunks(stem, stream)
    return None if count is None or state["breach"] else count


def _bounded(stream: Iterator[bytes | memoryview], fast: Any, limit: Any, state: dict[str, bool]
             ) -> Iterator[bytes | memoryview]:
    max_depth = limit.max_depth
    if max_depth and (fast.max_depth is None or fast.max_depth > max_depth):
        # a free-form part takes any depth: the lines are counted, and a line that may nest
        # past the limit goes to the exact path, which refuses it as every reader does
        return _depth_checked(stream, max_depth, state)
    return stream


def _depth_checked(chunks: Iterator[bytes | memoryview], max_depth: int, state: dict[str, bool]
                   ) -> Iterator[bytes | memoryview]:
    for chunk in chunks:
        if _maybe_too_deep(bytes(chunk), max_depth):
            state["breach"] = True
            return
        yield chunk


def _tapped(chunks: Iterator[bytes | memoryview], tap: Callable[[bytes], None]
            ) -> Iterator[bytes | memoryview]:
    for chunk in chunks:
        tap(chunk if isinstance(chunk, bytes) else bytes(chunk))
        yield chunk


def validate_file(path: Path, contract: Contract | None = None, *,
                  tap: Callable[[bytes], None] | None = None) -> FileResult:
    """Validate one .json or .jsonl file. Raises Unreadable / UnknownContract for exit code 2.

    `tap(chunk)` sees the bytes of a JSONL file as the fast path reads them, in order and
    each once, in chunks that end at a line end: a caller picks fields from them in the same
    read. When the fast path stops early the tap has seen less than the whole file (the
    caller compares the byte count with the file's size)."""
    with paused_gc():
        return _validate_file(path, contract, tap)


def _validate_file(path: Path, contract: Contract | None,
                   tap: Callable[[bytes], None] | None = None) -> FileResult:
    if path.suffix == ".jsonl":
        fast = _fast_jsonl(path, contract, tap)
        if fast is not None:
            return fast
    # One record at a time: only problems are kept, never the records (flat memory).
    records = iter_jsonl(path) if path.suffix == ".jsonl" else None
    try:
        first = next(records, None) if records is not None else (None, read_json(path))
        if first is None:
            return FileResult(str(path), contract.stem if contract else None, 0, [])
        # A JSONL file is homogeneous: its first record (or its name) picks the contract.
        chosen = contract or contract_for(first[1], path)
        if chosen is None:
            count = 1 + sum(1 for _ in records) if records is not None else 1
            return FileResult(str(path), None, count, [], skipped="no contract matches")
        found: list[Problem] = []
        count = 0

        def warnings() -> Iterator[Problem]:  # grouped as they come: one per key and place
            nonlocal count
            for line, doc in itertools.chain([first], records or ()):
                count += 1
                found.extend(problems(doc, chosen, file=str(path), line=line))
                yield from tolerated(doc, chosen, file=str(path), line=line)
        noted = grouped(warnings())
    except InputError as exc:
        raise Unreadable(str(exc)) from exc
    return FileResult(str(path), chosen.stem, count, found, warnings=noted)


def grouped(found: Iterable[Problem]) -> list[Problem]:
    """One warning per unknown key and place: its first line, and on how many records it is."""
    first: dict[tuple[str, str], Problem] = {}
    count: dict[tuple[str, str], int] = {}
    for w in found:
        key = (w.path, w.message)
        first.setdefault(key, w)
        count[key] = count.get(key, 0) + 1
    return [w if count[k] == 1 else Problem(w.file, w.line, w.path, f"{w.message}; on {count[k]} records "
                                            f"from line {w.line}", w.contract)
            for k, w in first.items()]


def iter_documents(paths: list[Path]) -> Iterator[Path]:
    """Files to validate: the given files, and every .json / .jsonl below given folders."""
    for p in paths:
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*") if q.suffix in (".json", ".jsonl") and q.is_file())
        else:
            yield p
