"""Compatibility of a JSON Schema change, with the set semantics schema registries use.

A change is *backward* compatible when the new schema accepts every document the old one
accepted (new readers read old data) and *forward* compatible when the old schema accepts
every document the new one accepts (old readers read new data); both is *full*. The
comparison walks both schemas side by side (following `$ref`s, also into other contracts) and
reports each difference as a `Change` with both answers, `None` where it cannot be decided
(e.g. an `if` condition changed): a reviewer must look, and verdicts treat it as unproven.

Closed objects matter: under `additionalProperties: false` a key that is not declared is
rejected, so a new optional field widens the object (backward, not forward) and removing an
optional field narrows it (forward, not backward). In an open object it is the reverse.

A contract of documents other programs write (`x-lume.producer: external`) is read tolerantly:
readers ignore unknown keys and treat new fields as optional (seed 004 Q2, failure mode E). Its
comparer is `tolerant`: adding or removing an optional field, and opening or closing an object,
is compatible both ways (a reader only warns about a key it does not know); required fields and
the types of known fields are compared as for every contract.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

# Keywords that never change which documents validate.
ANNOTATIONS = frozenset({
    "title", "description", "examples", "default", "$comment", "deprecated", "readOnly",
    "writeOnly", "$schema", "$id", "$anchor", "$dynamicAnchor", "$defs", "definitions",
    "contentEncoding", "contentMediaType", "contentSchema", "x-lume",
})
MIN_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains")
MAX_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains")
# Keywords compared by dedicated code below; anything else that differs is "changed, unknown".
HANDLED = frozenset({
    "type", "const", "enum", "pattern", "format", "multipleOf", "uniqueItems", "required",
    "properties", "additionalProperties", "unevaluatedProperties", "patternProperties",
    "propertyNames", "items", "prefixItems", "contains", "unevaluatedItems", "anyOf", "oneOf",
    "allOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas", "$ref",
    *MIN_BOUNDS, *MAX_BOUNDS,
})
_TYPE_OF = {bool: "boolean", str: "string", type(None): "null", list: "array", dict: "object"}


@dataclass(frozen=True)
class Change:
    """One difference: where (`path`), what (`change`), and whether it is backward / forward compatible.

    `backward` / `forward` are None when undecidable. `table_value` marks a changed value in a
    rule table (reviewed by a person, breaking only under FULL); `review_only` marks envelope
    changes a person must look at that no mode forbids (e.g. the mode itself).
    """

    path: str
    change: str
    backward: bool | None
    forward: bool | None
    table_value: bool = False
    review_only: bool = False


def and3(values: list[bool | None]) -> bool | None:
    """Three-valued AND: False wins, then None (unknown), else True."""
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def summarize(changes: list[Change]) -> tuple[bool | None, bool | None]:
    return and3([c.backward for c in changes]), and3([c.forward for c in changes])


def show(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _canon(value: Any) -> str:
    """Identity of a JSON value (True and 1 stay distinct, 1 and 1.0 do not)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _json_types(value: Any) -> set[str]:
    if isinstance(value, bool) or value is None or isinstance(value, (str, list, dict)):
        return {_TYPE_OF[type(value)]}
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return {"integer", "number"}
    return {"number"}


# --- regular expressions ---------------------------------------------------------------------

def _split_anchors(pattern: str) -> tuple[str, bool, bool] | None:
    """(body, anchored at start, anchored at end), or None when anchors sit anywhere else."""
    depth, in_class, escaped, top_alt = 0, False, False, False
    anchors: list[int] = []
    for i, ch in enumerate(pattern):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            top_alt = True
        elif ch in "^$":
            anchors.append(i)
    start = bool(anchors) and anchors[0] == 0 and pattern[0] == "^"
    end = bool(anchors) and anchors[-1] == len(pattern) - 1 and pattern[-1] == "$"
    inner = [i for i in anchors if not ((start and i == 0) or (end and i == len(pattern) - 1))]
    if inner or ((start or end) and top_alt):
        return None
    return pattern[1 if start else 0: len(pattern) - 1 if end else len(pattern)], start, end


def _escape_class_dashes(pattern: str) -> str:
    """`[a-z_-]` -> `[a-z_\\-]`: a literal dash at either end of a class (greenery needs it escaped)."""
    out, in_class, escaped, start = [], False, False, 0
    for i, ch in enumerate(pattern):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif not in_class and ch == "[":
            in_class, start = True, i + 1 + (pattern[i + 1: i + 2] == "^")
        elif in_class and ch == "]" and i > start:
            in_class = False
        elif in_class and ch == "-" and (i == start or pattern[i + 1: i + 2] == "]"):
            out.append("\\-")
            continue
        out.append(ch)
    return "".join(out)


def _language(pattern: str) -> Any | None:
    """The set of strings a JSON Schema `pattern` (a search, not a full match) accepts, as an FSM."""
    try:
        from greenery import parse
    except ImportError:  # pragma: no cover - greenery is a dependency
        return None
    split = _split_anchors(pattern)
    if split is None or len(pattern) > 300:
        return None
    body, start, end = split
    body = _escape_class_dashes(body)
    try:
        return parse(("" if start else ".*") + f"({body})" + ("" if end else ".*")).to_fsm()
    except Exception:  # noqa: BLE001 - lookarounds, backreferences: not a regular language here
        return None


_QUANT = re.compile(r"(?<!\\)\{(\d+)(?:(,)(\d*))?\}")
# greenery builds one state per repetition: beyond this bound the automata get too big to be quick.
MAX_AUTOMATON_REPEAT = 16


def _bounds_of(pattern: str) -> tuple[str, list[tuple[int, float]]]:
    """The pattern with its `{m,n}` quantifiers blanked out, and their (min, max) intervals."""
    bounds = []
    for m in _QUANT.finditer(pattern):
        low = int(m.group(1))
        high = float(m.group(3)) if m.group(3) else (math.inf if m.group(2) else float(low))
        bounds.append((low, high))
    return _QUANT.sub("{}", pattern), bounds


def _same_shape(old: str, new: str) -> tuple[bool, bool] | None:
    """Patterns that differ only in repetition bounds: a wider interval is a superset (regular
    operators are monotone), so each direction holding for every interval is proven."""
    so, bo = _bounds_of(old)
    sn, bn = _bounds_of(new)
    if so != sn or len(bo) != len(bn):
        return None
    back = all(n[0] <= o[0] and o[1] <= n[1] for o, n in zip(bo, bn))
    fwd = all(o[0] <= n[0] and n[1] <= o[1] for o, n in zip(bo, bn))
    return back, fwd


def pattern_inclusion(old: str, new: str) -> tuple[bool | None, bool | None]:
    """(new accepts all old strings, old accepts all new strings); None when undecidable."""
    if old == new:
        return True, True
    shape = _same_shape(old, new)
    if shape is not None and (shape[0] or shape[1]):
        # one direction is proven; the other may still hold (e.g. `(a*){0,3}`), so it stays open
        return (True if shape[0] else None), (True if shape[1] else None)
    big = [hi for p in (old, new) for lo, hi in _bounds_of(p)[1] if max(lo, hi) > MAX_AUTOMATON_REPEAT]
    if big:
        return None, None
    a, b = _language(old), _language(new)
    if a is None or b is None:
        return None, None
    return a.issubset(b), b.issubset(a)


# --- the comparison ----------------------------------------------------------------------------

class Resolver:
    """Follows `$ref`s within one version of the contracts (local `#/...` and `lume:` ids)."""

    def __init__(self, docs_by_id: dict[str, Any]):
        self.docs = docs_by_id

    def resolve(self, ref: str, doc: Any) -> tuple[Any, Any]:
        uri, _, pointer = ref.partition("#")
        target_doc = doc if not uri else self.docs.get(uri)
        if target_doc is None:
            raise LookupError(f"unresolvable $ref {ref!r}")
        node = target_doc
        for part in [p for p in pointer.split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError, TypeError) as exc:
                raise LookupError(f"unresolvable $ref {ref!r}") from exc
        return node, target_doc


@dataclass
class _Side:
    node: Any
    doc: Any  # the document local refs resolve against


class SchemaComparer:
    def __init__(self, old: Resolver, new: Resolver, *, tolerant: bool = False):
        self.old, self.new = old, new
        self.tolerant = tolerant  # the documents are read tolerantly (x-lume.producer: external)
        self._chain: list[tuple[str, str]] = []

    # The public entry point.
    def compare(self, old: Any, new: Any, old_doc: Any, new_doc: Any, path: str = "$") -> list[Change]:
        return list(self._cmp(_Side(old, old_doc), _Side(new, new_doc), path))

    def _deref(self, side: _Side, resolver: Resolver) -> tuple[_Side, str | None]:
        """The node with its `$ref` merged in (siblings kept), and the ref followed."""
        node = side.node
        if node is True:
            return _Side({}, side.doc), None
        if node is False:
            return _Side({"not": {}}, side.doc), None
        if not isinstance(node, dict) or not isinstance(node.get("$ref"), str):
            return side, None
        ref = node["$ref"]
        target, doc = resolver.resolve(ref, side.doc)
        inner, _ = self._deref(_Side(target, doc), resolver)
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        if any(k in inner.node for k in siblings if k not in ANNOTATIONS):
            # Both constrain the same keyword: keep them as a conjunction. Local refs inside the
            # target must still resolve against its own document, so inline it only if same doc.
            return _Side({**{k: v for k, v in siblings.items() if k in ANNOTATIONS},
                          "allOf": [inner.node, {k: v for k, v in siblings.items() if k not in ANNOTATIONS}]},
                         inner.doc), ref
        return _Side({**inner.node, **siblings}, inner.doc), ref

    def _cmp(self, o: _Side, n: _Side, path: str) -> Iterator[Change]:
        try:
            od, oref = self._deref(o, self.old)
            nd, nref = self._deref(n, self.new)
        except LookupError as exc:
            yield Change(path, str(exc), None, None)
            return
        key = (f"{id(od.doc)}{oref}", f"{id(nd.doc)}{nref}")
        if (oref or nref) and key in self._chain:
            return  # recursive schema: this pair is already being compared further up
        if not isinstance(od.node, dict) or not isinstance(nd.node, dict):
            if od.node != nd.node:
                yield Change(path, f"schema {show(od.node)} → {show(nd.node)}", None, None)
            return
        if (oref or nref):
            self._chain.append(key)
        try:
            yield from self._cmp_nodes(od, nd, path)
        finally:
            if oref or nref:
                self._chain.pop()

    def _cmp_nodes(self, o: _Side, n: _Side, path: str) -> Iterator[Change]:
        old, new = o.node, n.node
        if _is_false(old) and _is_false(new):
            return
        if _is_false(old) or _is_false(new):
            yield Change(path, "now accepts nothing" if _is_false(new) else "now accepts values (was nothing)",
                         _is_false(old), _is_false(new))
            return
        old, new = _wrap_alternatives(old, new)
        o, n = _Side(old, o.doc), _Side(new, n.doc)
        yield from self._values(old, new, path)
        yield from self._bounds(old, new, path)
        yield from self._object(o, n, path)
        yield from self._arrays(o, n, path)
        yield from self._combinators(o, n, path)
        for kw in sorted((set(old) | set(new)) - HANDLED - ANNOTATIONS):
            if kw.startswith("x-"):
                continue
            if old.get(kw) != new.get(kw):
                yield Change(path, f"`{kw}` {show(old.get(kw))} → {show(new.get(kw))}", None, None)

    # value domain: type, const, enum
    def _values(self, old: dict, new: dict, path: str) -> Iterator[Change]:
        ot, nt = _types(old), _types(new)
        ov, nv = _finite(old, ot), _finite(new, nt)
        if ov is None and nv is None:
            if ot != nt:
                yield Change(path, f"type {_show_types(ot)} → {_show_types(nt)}",
                             _covers(nt, ot), _covers(ot, nt))
            return
        if ov is not None and nv is not None:
            if set(ov) == set(nv):
                return
            added = [nv[k] for k in nv if k not in ov]
            removed = [ov[k] for k in ov if k not in nv]
            if len(ov) == 1 and len(nv) == 1 and "const" in old and "const" in new:
                what = f"const {show(old['const'])} → {show(new['const'])}"
            elif not any(k in node for node in (old, new) for k in ("const", "enum")):
                what = f"type {_show_types(ot)} → {_show_types(nt)}"
            else:
                parts = []
                if added:
                    parts.append("value(s) added " + ", ".join(show(v, 30) for v in added))
                if removed:
                    parts.append("value(s) removed " + ", ".join(show(v, 30) for v in removed))
                what = "enum " + "; ".join(parts)
            yield Change(path, what, not removed, not added)
            return
        if ov is not None:  # finite -> open
            fits = all(_json_types(v) & _expand(nt) for v in ov.values()) if nt is not None else True
            yield Change(path, f"{_domain(old)} removed (now {_show_types(nt)})", fits, False)
        else:  # open -> finite
            fits = all(_json_types(v) & _expand(ot) for v in nv.values()) if ot is not None else True
            yield Change(path, f"{_domain(new)} added (was {_show_types(ot)})", False, fits)

    def _bounds(self, old: dict, new: dict, path: str) -> Iterator[Change]:
        for kw in (*MIN_BOUNDS, *MAX_BOUNDS):
            a, b = old.get(kw), new.get(kw)
            if a == b:
                continue
            is_min = kw in MIN_BOUNDS
            if a is None:
                tighter = True
            elif b is None:
                tighter = False
            else:
                tighter = (b > a) if is_min else (b < a)
            yield Change(path, f"{kw} {show(a)} → {show(b)} ({'tightened' if tighter else 'loosened'})",
                         not tighter, tighter)
        a, b = old.get("multipleOf"), new.get("multipleOf")
        if a != b:
            if a is None:
                yield Change(path, f"multipleOf {b} added (tightened)", False, True)
            elif b is None:
                yield Change(path, f"multipleOf {a} removed (loosened)", True, False)
            else:
                yield Change(path, f"multipleOf {a} → {b}", _divides(b, a), _divides(a, b))
        if bool(old.get("uniqueItems")) != bool(new.get("uniqueItems")):
            tighter = bool(new.get("uniqueItems"))
            yield Change(path, f"uniqueItems {'added' if tighter else 'removed'}", not tighter, tighter)
        a, b = old.get("pattern"), new.get("pattern")
        if a != b:
            if a is None:
                yield Change(path, f"pattern {show(b)} added (tightened)", False, True)
            elif b is None:
                yield Change(path, f"pattern {show(a)} removed (loosened)", True, False)
            else:
                back, fwd = pattern_inclusion(a, b)
                how = ("equivalent" if back and fwd else "loosened" if back else "tightened" if fwd
                       else "changed" if (back, fwd) == (False, False) else "changed, undecidable")
                yield Change(path, f"pattern {show(a)} → {show(b)} ({how})", back, fwd)
        a, b = old.get("format"), new.get("format")
        if a != b:
            if a is None:
                yield Change(path, f"format {b} added (tightened)", False, True)
            elif b is None:
                yield Change(path, f"format {a} removed (loosened)", True, False)
            else:
                yield Change(path, f"format {a} → {b}", None, None)

    def _object(self, o: _Side, n: _Side, path: str) -> Iterator[Change]:
        old, new = o.node, n.node
        op, np_ = old.get("properties") or {}, new.get("properties") or {}
        oreq, nreq = set(old.get("required") or []), set(new.get("required") or [])
        for name in sorted(set(op) | set(np_)):
            sub = f"{path}.{name}"
            if name in op and name in np_:
                yield from self._cmp(_Side(op[name], o.doc), _Side(np_[name], n.doc), sub)
                if name in nreq and name not in oreq:
                    yield Change(sub, "field became required", False, True)
                elif name in oreq and name not in nreq:
                    yield Change(sub, "field became optional", True, False)
            elif name in np_:
                yield self._added_field(o, _Side(np_[name], n.doc), name, name in nreq and name not in oreq, sub)
            else:
                yield self._removed_field(_Side(op[name], o.doc), n, name, name in oreq and name not in nreq, sub)
        for name in sorted((nreq - oreq) - set(op) - set(np_)):
            yield Change(f"{path}.{name}", "field became required", False, True)
        for name in sorted((oreq - nreq) - set(op) - set(np_)):
            yield Change(f"{path}.{name}", "field became optional", True, False)
        for kw in ("additionalProperties", "unevaluatedProperties"):
            if kw in old or kw in new:
                yield from self._open_closed(o, n, kw, path)
        opp, npp = old.get("patternProperties") or {}, new.get("patternProperties") or {}
        for pat in sorted(set(opp) | set(npp)):
            sub = f"{path}.<{pat}>"
            if pat in opp and pat in npp:
                yield from self._cmp(_Side(opp[pat], o.doc), _Side(npp[pat], n.doc), sub)
            elif pat in npp:
                b, f = summarize(list(self._cmp(_Side(old.get("additionalProperties", {}), o.doc),
                                                _Side(npp[pat], n.doc), sub)))
                yield Change(sub, "patternProperties entry added", b, f)
            else:
                b, f = summarize(list(self._cmp(_Side(opp[pat], o.doc),
                                                _Side(new.get("additionalProperties", {}), n.doc), sub)))
                yield Change(sub, "patternProperties entry removed", b, f)
        if "propertyNames" in old or "propertyNames" in new:
            yield from self._cmp(_Side(old.get("propertyNames", {}), o.doc),
                                 _Side(new.get("propertyNames", {}), n.doc), f"{path}.<names>")
        odr, ndr = old.get("dependentRequired") or {}, new.get("dependentRequired") or {}
        for name in sorted(set(odr) | set(ndr)):
            a, b = set(odr.get(name, [])), set(ndr.get(name, []))
            if a != b:
                yield Change(f"{path}.{name}", f"dependentRequired {sorted(a)} → {sorted(b)}", b <= a, a <= b)
        ods, nds = old.get("dependentSchemas") or {}, new.get("dependentSchemas") or {}
        for name in sorted(set(ods) | set(nds)):
            yield from self._cmp(_Side(ods.get(name, {}), o.doc), _Side(nds.get(name, {}), n.doc),
                                 f"{path}.<if {name}>")

    def _effective(self, side: _Side, name: str) -> Any:
        """The schema a key that the object does not declare in `properties` must match."""
        node = side.node
        for pat, schema in (node.get("patternProperties") or {}).items():
            if re.search(pat, name):
                return schema
        return node.get("additionalProperties", True)

    def _added_field(self, o: _Side, new_field: _Side, name: str, required: bool, path: str) -> Change:
        if self.tolerant and not required:
            return Change(path, "field added (optional; read tolerantly: old readers skip it)", True, True)
        before = self._effective(o, name)
        closed = before is False
        b, f = summarize(list(self._cmp(_Side(before, o.doc), new_field, path)))
        if required:
            b = False  # old documents may lack it
        kind = "required" if required else "optional"
        where = " to closed object" if closed else (" to open object" if before is True else "")
        return Change(path, f"field added ({kind}){where}", b, f)

    def _removed_field(self, old_field: _Side, n: _Side, name: str, was_required: bool, path: str) -> Change:
        if self.tolerant and not was_required:
            return Change(path, "field removed (was optional; read tolerantly: it is kept as an "
                                "unknown key)", True, True)
        after = self._effective(n, name)
        closed = after is False
        b, f = summarize(list(self._cmp(old_field, _Side(after, n.doc), path)))
        if was_required:
            f = False  # new documents may lack it, old readers require it
        kind = "required" if was_required else "optional"
        where = " from closed object" if closed else (" from open object" if after is True else "")
        return Change(path, f"field removed (was {kind}){where}", b, f)

    def _open_closed(self, o: _Side, n: _Side, kw: str, path: str) -> Iterator[Change]:
        a, b = o.node.get(kw, True), n.node.get(kw, True)
        if self.tolerant and (_is_false(a) or _is_false(b)) and (a is True or b is True or a == b):
            if a != b:  # readers open every object of a tolerant contract: only warnings change
                yield Change(f"{path}.*", f"{kw} {show(a)} → {show(b)} (read tolerantly either way)",
                             True, True)
            return
        if _is_false(a) and not _is_false(b):
            yield Change(f"{path}.*", f"{kw} false → {show(b)} (object opened)", True, False)
        elif _is_false(b) and not _is_false(a):
            yield Change(f"{path}.*", f"{kw} {show(a)} → false (object closed)", False, True)
        elif a != b:
            yield from self._cmp(_Side(a, o.doc), _Side(b, n.doc), f"{path}.*")

    def _arrays(self, o: _Side, n: _Side, path: str) -> Iterator[Change]:
        old, new = o.node, n.node
        opre, npre = old.get("prefixItems") or [], new.get("prefixItems") or []
        for i in range(max(len(opre), len(npre))):
            a = opre[i] if i < len(opre) else old.get("items", True)
            b = npre[i] if i < len(npre) else new.get("items", True)
            yield from self._cmp(_Side(a, o.doc), _Side(b, n.doc), f"{path}[{i}]")
        if "items" in old or "items" in new:
            yield from self._cmp(_Side(old.get("items", True), o.doc), _Side(new.get("items", True), n.doc),
                                 f"{path}[]")
        for kw, label in (("contains", "contains"), ("unevaluatedItems", "unevaluated")):
            if kw in old and kw in new:
                yield from self._cmp(_Side(old[kw], o.doc), _Side(new[kw], n.doc), f"{path}[<{label}>]")
            elif kw in old or kw in new:
                yield Change(f"{path}[<{label}>]", f"{kw} {'added' if kw in new else 'removed'}",
                             kw in old, kw in new)

    def _combinators(self, o: _Side, n: _Side, path: str) -> Iterator[Change]:
        old, new = o.node, n.node
        for kw in ("anyOf", "oneOf"):
            yield from self._branches(o, n, kw, path, union=True)
        yield from self._branches(o, n, "allOf", path, union=False)
        if "not" in old or "not" in new:
            for c in self._cmp(_Side(old.get("not", False), o.doc), _Side(new.get("not", False), n.doc),
                               f"{path}<not>"):
                yield Change(c.path, f"inside `not`: {c.change}", c.forward, c.backward)
        if _canon(old.get("if")) != _canon(new.get("if")) and ("if" in old and "if" in new):
            yield Change(f"{path}<if>", "condition of if/then/else changed", None, None)
        elif ("if" in old) != ("if" in new):
            added = "if" in new
            yield Change(f"{path}<if>", f"if/then/else {'added' if added else 'removed'}",
                         not added, added)
            return
        if "if" in old and "if" in new:
            for kw in ("then", "else"):
                if kw in old or kw in new:
                    yield from self._cmp(_Side(old.get(kw, True), o.doc), _Side(new.get(kw, True), n.doc),
                                         f"{path}<{kw}>")

    def _branches(self, o: _Side, n: _Side, kw: str, path: str, *, union: bool) -> Iterator[Change]:
        a, b = list(o.node.get(kw) or []), list(n.node.get(kw) or [])
        if not a and not b:
            return
        if not a or not b:
            added = bool(b)
            # A new union restricts (or a removed one frees); a new conjunct restricts likewise.
            yield Change(f"{path}<{kw}>", f"{kw} {'added' if added else 'removed'}", not added, added)
            return
        pairs, left, right = _match(a, b, lambda x: _type_key(self, x, o.doc, self.old),
                                    lambda y: _type_key(self, y, n.doc, self.new))
        for i, j in pairs:
            yield from self._cmp(_Side(a[i], o.doc), _Side(b[j], n.doc), f"{path}<{kw} {j + 1}>")
        for j in right:
            what = "alternative" if union else "constraint"
            yield Change(f"{path}<{kw} {j + 1}>", f"{kw} {what} added: {show(b[j], 40)}", union, not union)
        for i in left:
            what = "alternative" if union else "constraint"
            yield Change(f"{path}<{kw} {i + 1}>", f"{kw} {what} removed: {show(a[i], 40)}", not union, union)


def _is_false(node: Any) -> bool:
    return node is False or (isinstance(node, dict) and node.get("not") in ({}, True)
                             and not (set(node) - ANNOTATIONS - {"not"}))


def _wrap_alternatives(old: dict, new: dict) -> tuple[dict, dict]:
    """`{type: string}` vs `{anyOf: [{type: string}, {type: null}]}`: compare as unions."""
    for kw in ("anyOf", "oneOf"):
        for a, b, swap in ((old, new, False), (new, old, True)):
            if kw in b and not any(k in a for k in ("anyOf", "oneOf")) \
                    and not (set(b) - ANNOTATIONS - {kw}) and (set(a) - ANNOTATIONS):
                wrapped = {**{k: v for k, v in a.items() if k in ANNOTATIONS},
                           kw: [{k: v for k, v in a.items() if k not in ANNOTATIONS}]}
                return (b, wrapped) if swap else (wrapped, b)
    return old, new


def _type_key(cmp: SchemaComparer, node: Any, doc: Any, resolver: Resolver) -> str:
    try:
        side, _ = cmp._deref(_Side(node, doc), resolver)
    except LookupError:
        return "?"
    n = side.node if isinstance(side.node, dict) else {}
    t = _types(n)
    return ",".join(sorted(t)) if t is not None else ("enum" if ("enum" in n or "const" in n) else "*")


def _match(a: list, b: list, key_a: Callable[[Any], str], key_b: Callable[[Any], str]
           ) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Pair branches: equal ones first, then same type, then same position."""
    left, right, pairs = list(range(len(a))), list(range(len(b))), []
    for rule in (lambda i, j: _canon(a[i]) == _canon(b[j]),
                 lambda i, j: _label(a[i]) is not None and _label(a[i]) == _label(b[j]),
                 lambda i, j: key_a(a[i]) == key_b(b[j]),
                 lambda i, j: i == j):
        for i in list(left):
            for j in right:
                if rule(i, j):
                    pairs.append((i, j))
                    left.remove(i)
                    right.remove(j)
                    break
    if len(a) == len(b):  # the same number of branches: pair the rest in order
        pairs += list(zip(left, right))
        left, right = [], []
    return sorted(pairs), left, right


def _label(node: Any) -> str | None:
    """A branch's own name (description or title), when it has one."""
    if isinstance(node, dict):
        return node.get("description") or node.get("title")
    return None


ALL_TYPES = frozenset({"null", "boolean", "object", "array", "number", "string", "integer"})


def _types(node: dict) -> set[str] | None:
    t = node.get("type")
    if t is None:
        return None
    return {t} if isinstance(t, str) else set(t)


def _expand(types: set[str] | None) -> set[str]:
    if types is None:
        return set(ALL_TYPES)
    return types | ({"integer"} if "number" in types else set())


def _covers(a: set[str] | None, b: set[str] | None) -> bool:
    """Every value of a type in `b` has a type in `a`."""
    if a is None:
        return True
    if b is None:
        return False
    return all(t in _expand(a) for t in b)


def _finite(node: dict, types: set[str] | None) -> dict[str, Any] | None:
    """The finite set of values a node allows (const, enum, boolean, null), keyed by identity."""
    if "const" in node:
        values = [node["const"]]
    elif "enum" in node:
        values = list(node["enum"])
    elif types is not None and types <= {"boolean", "null"}:
        values = ([True, False] if "boolean" in types else []) + ([None] if "null" in types else [])
    else:
        return None
    if types is not None:
        values = [v for v in values if _json_types(v) & _expand(types)]
    return {_canon(v): v for v in values}


def _domain(node: dict) -> str:
    if "const" in node:
        return f"const {show(node['const'])}"
    if "enum" in node:
        return f"enum {show(node['enum'], 40)}"
    return f"type {_show_types(_types(node))}"


def _show_types(types: set[str] | None) -> str:
    if types is None:
        return "any"
    return "|".join(sorted(types))


def _divides(a: float, b: float) -> bool:
    """Is every multiple of b a multiple of a (a divides b)?"""
    if a == 0:
        return False
    q = b / a
    return math.isclose(q, round(q))
