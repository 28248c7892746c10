"""A fast accept-path for bulk JSONL: the contract's schema compiled into a msgspec decoder.

msgspec parses and checks typed records in one pass, faster than parsing to dicts and then
validating (the budget, benches/README.md: bulk validation at >= 0.8x the speed of parsing).
The translation is deliberately conservative: it covers the JSON Schema subset our record
contracts use (objects with `additionalProperties: false`, required/optional properties,
types, enums and consts of strings, numeric bounds, string length and pattern, arrays with
length bounds, `$ref`, unions of distinct JSON types, enums with null, and the cross-field
rules of a record's top object: `allOf` of `if`/`then`/`else` and a top-level `if`/`then`,
whose conditions are consts, enums, types, `required` and nested `properties`, compiled into
one Python predicate run on the decoded records) and returns None for anything else.
Wherever a keyword is translated, the decoder accepts a subset of what the schema accepts
(e.g. `integer` refuses 1.0, patterns are ASCII-only and `$` means end of string), so a file
the decoder accepts is valid; a file it refuses goes through the exact jsonschema-rs path,
which reports every error with its line. Speed, never a different verdict.
"""
from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from operator import attrgetter
from typing import Annotated, Any, Iterable, Literal, Union, get_args, get_origin

import msgspec

from ._jsonl import line_slices

# keywords that never change validity
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment", "deprecated",
                          "readOnly", "writeOnly", "$schema", "$id", "x-lume", "$defs"})
_counter = itertools.count()


class Unsupported(Exception):
    """The schema uses something the fast path does not translate soundly."""


def _ecma_to_python(pattern: str) -> str:
    """An ECMA-262 pattern as a Python regex that accepts no more: ASCII classes, `$` = end."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            nxt = pattern[i + 1:i + 2]
            if nxt in ("Z", "A", "z") or not nxt:
                raise Unsupported(f"pattern escape \\{nxt}")
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "$":
            ch = r"\Z"
        elif ch == "(" and pattern[i + 1:i + 3] in ("?<", "?P") and pattern[i + 3:i + 4] not in ("=", "!"):
            raise Unsupported("named groups")
        out.append(ch)
        i += 1
    compiled = "(?a)" + "".join(out)
    try:
        re.compile(compiled)
    except re.error as exc:
        raise Unsupported(f"pattern: {exc}") from exc
    return compiled


class _Compiler:
    def __init__(self, root: dict[str, Any]):
        self.root = root
        self.active: set[str] = set()
        self.done: dict[str, Any] = {}
        # patterns of string fields reached from the top object through object fields only
        # (no arrays): (struct, steps, pattern), steps leading from a `struct` to the string.
        # They are checked once per distinct value after decoding (a regex call per record would
        # cost more than the whole decode, and real streams repeat their ids and names).
        self.deferred: list[tuple[Any, tuple[tuple[str, Any], ...], str]] = []
        self.deferring = True  # False inside arrays: a value there is not one attribute away
        self.top = True
        # the cross-field rules (if/then/else) of the top object, compiled after its struct
        self.rules: list[dict[str, Any]] = []
        self.fields: dict[Any, dict[str, tuple[str, Any]]] = {}  # struct -> name -> (attr, type)
        self.top_struct: Any = None
        self.consts: dict[str, Any] = {}

    def ref(self, ref: str) -> Any:
        if not ref.startswith("#/$defs/"):
            raise Unsupported(f"$ref {ref}")
        name = ref.removeprefix("#/$defs/")
        # a definition compiled where its patterns are deferred has no patterns of its own:
        # it is compiled again for each such place and shared only among the other places
        if name in self.done and not self.deferring:
            return self.done[name]
        if name in self.active:
            raise Unsupported("recursive $ref")
        self.active.add(name)
        t = self.type(self.definition(ref))
        if not self.deferring:
            self.done[name] = t
        self.active.discard(name)
        return t

    def definition(self, ref: str) -> Any:
        try:
            return self.root.get("$defs", {})[ref.removeprefix("#/$defs/")]
        except KeyError as exc:
            raise Unsupported(f"$ref {ref}") from exc

    def without_pattern(self, node: Any) -> tuple[Any, str] | None:
        """(`node` without its string pattern, the pattern) when `node` is a string with a
        pattern, optionally nullable (`type: [string, null]`, or a `oneOf`/`anyOf` of it and
        `{type: null}`), directly or through `$ref`; else None. The pattern applies to strings
        only, so the value is valid exactly when it passes `node` without it and, when a
        string, matches it."""
        if not isinstance(node, dict):
            return None
        keys = set(node) - _ANNOTATIONS
        if keys == {"$ref"} and isinstance(node["$ref"], str) and node["$ref"].startswith("#/$defs/"):
            return self.without_pattern(self.definition(node["$ref"]))
        kind = node.get("type")
        if "pattern" in node and (kind == "string" or isinstance(kind, list) and set(kind) == {"string", "null"}):
            if keys & {"enum", "const", "allOf", "anyOf", "oneOf", "$ref", "not", "if"}:
                return None
            return {k: v for k, v in node.items() if k != "pattern"}, node["pattern"]
        for combinator in ("oneOf", "anyOf"):
            branches = node.get(combinator)
            if keys == {combinator} and isinstance(branches, list) and len(branches) == 2:
                nulls = [b for b in branches if b == {"type": "null"}]
                split = [self.without_pattern(b) for b in branches if b != {"type": "null"}]
                if len(nulls) == 1 and len(split) == 1 and split[0] is not None:
                    return {combinator: [split[0][0], {"type": "null"}]}, split[0][1]
        return None

    def type(self, node: Any) -> Any:
        if node is True:
            return Any
        if not isinstance(node, dict):
            raise Unsupported("false or non-object schema")
        keys = set(node) - _ANNOTATIONS
        if "$ref" in node:
            if keys - {"$ref"}:
                raise Unsupported("$ref with sibling keywords")
            return self.ref(node["$ref"])
        if self.top and ("if" in node or ("allOf" in node and keys != {"allOf"})
                         or ("allOf" in node and any(_is_rule(b) for b in node["allOf"]))):
            return self.top_with_rules(node)
        if "allOf" in node:
            if keys != {"allOf"} or len(node["allOf"]) != 1:
                raise Unsupported("allOf")
            return self.type(node["allOf"][0])
        for combinator in ("anyOf", "oneOf"):
            if combinator in node:
                if keys != {combinator}:
                    raise Unsupported(f"{combinator} with sibling keywords")
                return self.union([self.type(b) for b in node[combinator]], node[combinator],
                                  exclusive=combinator == "oneOf")
        if "const" in node:
            if keys != {"const"} and keys != {"const", "type"}:
                raise Unsupported("const with other keywords")
            return self.literal([node["const"]], node.get("type"))
        if "enum" in node:
            if keys != {"enum"} and keys != {"enum", "type"}:
                raise Unsupported("enum with other keywords")
            return self.literal(node["enum"], node.get("type"))
        kind = node.get("type")
        if kind is None:
            if keys:
                raise Unsupported("keywords without a type")
            return Any
        if isinstance(kind, list):
            branches = [dict({k: v for k, v in node.items() if k != "type"}, type=k) for k in kind]
            for b in branches:  # keep only the keywords of each branch's own type
                if b["type"] == "null":
                    for k in list(b):
                        if k not in ("type", *_ANNOTATIONS):
                            del b[k]
            return self.union([self.type(b) for b in branches], branches, exclusive=True)
        return getattr(self, f"t_{kind}")(node, keys - {"type"})

    def literal(self, values: list[Any], kind: Any) -> Any:
        if None in values and len(values) > 1:  # a nullable enum: {"type": [T, "null"], "enum": [..., null]}
            kinds = kind if isinstance(kind, list) else [kind]
            if kind is not None and "null" not in kinds:
                raise Unsupported("null in an enum of another type")
            rest = [k for k in kinds if k != "null"] if kind is not None else [None]
            if len(rest) != 1:
                raise Unsupported("enum of several types")
            return Union[self.literal([v for v in values if v is not None], rest[0]), None]
        if all(isinstance(v, str) for v in values):
            if kind not in (None, "string"):
                raise Unsupported("string literal with another type")
            return Literal[tuple(values)]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            if kind not in (None, "integer"):
                raise Unsupported("integer literal with another type")
            return Literal[tuple(values)]
        if values == [None]:
            return type(None)
        raise Unsupported("enum / const of other values")

    def union(self, types: list[Any], nodes: list[Any], *, exclusive: bool) -> Any:
        kinds = [self.kind_of(t) for t in types]
        if exclusive and "int" in kinds and "float" in kinds:
            raise Unsupported("oneOf of integer and number overlaps")
        if len(set(kinds)) != len(kinds) or "any" in kinds:
            raise Unsupported("union of overlapping types")
        return Union[tuple(types)]

    def kind_of(self, t: Any) -> str:
        if get_origin(t) is Annotated:
            t = get_args(t)[0]
        base = get_origin(t)
        if t is Any:
            return "any"
        if t is type(None):
            return "null"
        if base is Literal:
            return "str" if isinstance(get_args(t)[0], str) else "int"
        if t is str:
            return "str"
        if base is list or t is list:
            return "list"
        if base is dict or isinstance(t, type) and issubclass(t, (msgspec.Struct, dict)):
            return "object"
        if t in (int, float, bool):
            return t.__name__
        raise Unsupported(f"union member {t!r}")

    @staticmethod
    def only(keys: set[str], allowed: set[str]) -> None:
        extra = keys - allowed
        if extra:
            raise Unsupported(f"keywords {sorted(extra)}")

    def t_null(self, node: dict, keys: set[str]) -> Any:
        self.only(keys, set())
        return type(None)

    def t_boolean(self, node: dict, keys: set[str]) -> Any:
        self.only(keys, set())
        return bool

    def _number(self, base: type, node: dict, keys: set[str]) -> Any:
        self.only(keys, {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
        meta = {"ge": node.get("minimum"), "le": node.get("maximum"),
                "gt": node.get("exclusiveMinimum"), "lt": node.get("exclusiveMaximum")}
        meta = {k: v for k, v in meta.items() if v is not None}
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in meta.values()):
            raise Unsupported("non-numeric bound")
        return Annotated[base, msgspec.Meta(**meta)] if meta else base

    def t_number(self, node: dict, keys: set[str]) -> Any:
        return self._number(float, node, keys)

    def t_integer(self, node: dict, keys: set[str]) -> Any:
        if any(isinstance(node.get(k), float) and not node[k].is_integer()
               for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
            raise Unsupported("fractional bound on an integer")
        return self._number(int, node, keys)

    def t_string(self, node: dict, keys: set[str]) -> Any:
        self.only(keys, {"minLength", "maxLength", "pattern"})
        meta: dict[str, Any] = {}
        if "minLength" in node:
            meta["min_length"] = node["minLength"]
        if "maxLength" in node:
            meta["max_length"] = node["maxLength"]
        if "pattern" in node:
            meta["pattern"] = _ecma_to_python(node["pattern"])
        return Annotated[str, msgspec.Meta(**meta)] if meta else str

    def t_array(self, node: dict, keys: set[str]) -> Any:
        self.only(keys, {"items", "minItems", "maxItems"})
        deferring, self.deferring = self.deferring, False
        try:
            item = self.type(node["items"]) if "items" in node else Any
        finally:
            self.deferring = deferring
        meta = {}
        if "minItems" in node:
            meta["min_length"] = node["minItems"]
        if "maxItems" in node:
            meta["max_length"] = node["maxItems"]
        return Annotated[list[item], msgspec.Meta(**meta)] if meta else list[item]

    def t_object(self, node: dict, keys: set[str]) -> Any:
        self.only(keys, {"properties", "required", "additionalProperties"})
        extra = node.get("additionalProperties", True)
        if extra not in (True, False):
            raise Unsupported("additionalProperties schema")
        props = node.get("properties", {})
        required = set(node.get("required", []))
        if required - set(props):
            raise Unsupported("required names an undeclared property")
        if not props and extra is True:
            return dict[str, Any]
        fields, rename = [], {}
        top, self.top = self.top, False
        mine: list[tuple[tuple[str, Any], ...]] = []  # deferred: steps from this struct, pattern
        outer, self.deferred = self.deferred, []
        try:
            for i, (name, sub) in enumerate(props.items()):
                attr = f"f{i}"
                rename[attr] = name
                split = self.without_pattern(sub) if self.deferring else None
                if split is not None:
                    sub = split[0]
                    mine.append((((attr, None),), split[1]))
                t = self.type(sub)
                # the deferred patterns of an object this field holds, one step further away
                mine += [(((attr, inner),) + steps, pattern) for inner, steps, pattern in self.deferred]
                self.deferred.clear()
                fields.append((attr, t) if name in required else (attr, Union[t, msgspec.UnsetType], msgspec.UNSET))
        finally:
            self.deferred = outer
        fields.sort(key=lambda f: len(f) == 3)  # required fields first (no defaults)
        struct = msgspec.defstruct(f"Fast{next(_counter)}", fields, rename=rename,
                                   forbid_unknown_fields=extra is False, gc=False)
        self.deferred += [(struct, steps, pattern) for steps, pattern in mine]
        self.fields[struct] = {rename[f[0]]: (f[0], f[1]) for f in fields}
        if top:
            self.top_struct = struct
        return struct

    # --- the cross-field rules of the top object ------------------------------------------
    def top_with_rules(self, node: dict[str, Any]) -> Any:
        """The top object without its if/then/else rules (kept in self.rules); an `allOf` may
        hold the rules and at most one schema of the object itself (a `$ref` to its shape)."""
        branches = list(node.get("allOf", []))
        rules = [b for b in branches if _is_rule(b)]
        others = [b for b in branches if not _is_rule(b)]
        if "if" in node:
            rules.append({k: node[k] for k in ("if", "then", "else") if k in node})
        base = {k: v for k, v in node.items() if k not in ("allOf", "if", "then", "else")}
        if others:
            if len(others) != 1 or set(base) - _ANNOTATIONS - {"type"} or base.get("type", "object") != "object":
                raise Unsupported("allOf of several schemas")
            base = others[0]
        self.rules += rules
        t = self.type(base)
        if self.top_struct is None or t is not self.top_struct:
            raise Unsupported("rules on something else than an object")
        return t

    def const(self, value: Any) -> str:
        name = f"c{len(self.consts)}"
        self.consts[name] = value
        return name

    def holds(self, sub: Any, var: str, t: Any) -> str:
        """A Python expression: the decoded value `var` (of compiled type t, never UNSET here)
        is valid under the rule's subschema `sub`, exactly (an `if` picks the branch)."""
        if not isinstance(sub, dict):
            raise Unsupported("rule subschema")
        keys = set(sub) - _ANNOTATIONS
        out = []
        if "const" in sub:
            out.append(self.equals(var, sub["const"]))
        if "enum" in sub:
            values = sub["enum"]
            if not all(v is None or isinstance(v, str) for v in values):
                raise Unsupported("enum of other values in a rule")
            out.append(f"{var} in {self.const(tuple(values))}")
        if "type" in sub:
            tests = {"null": f"{var} is None", "string": f"type({var}) is str",
                     "boolean": f"type({var}) is bool",
                     "integer": f"type({var}) is int or type({var}) is float and {var}.is_integer()",
                     "number": f"type({var}) in (int, float)"}
            if sub["type"] not in tests:
                raise Unsupported(f"type {sub['type']!r} in a rule")
            out.append(tests[sub["type"]])
        if "minLength" in sub:
            if sub.get("type") != "string":
                raise Unsupported("minLength without a string type in a rule")
            out.append(f"len({var}) >= {int(sub['minLength'])}")
        if "properties" in sub or "required" in sub:
            out.append(self.object_holds(sub, var, t))
        if "not" in sub:
            out.append(f"not ({self.holds(sub['not'], var, t)})")
        if keys - {"const", "enum", "type", "minLength", "properties", "required", "not"}:
            raise Unsupported(f"rule keywords {sorted(keys)}")
        return " and ".join(f"({e})" for e in out) or "True"

    def equals(self, var: str, value: Any) -> str:
        if value is None or isinstance(value, bool):
            return f"{var} is {value!r}"
        if isinstance(value, str):
            return f"{var} == {self.const(value)}"
        raise Unsupported("const of other values in a rule")

    def object_holds(self, sub: dict[str, Any], var: str, t: Any) -> str:
        """`properties` / `required` of a rule on an object value: JSON Schema skips them for
        a value that is not an object, so a decoded value that is no struct passes."""
        while get_origin(t) is Annotated:
            t = get_args(t)[0]
        if t not in self.fields:
            raise Unsupported("rule on a value that is not a plain object")
        fields = self.fields[t]
        out = []
        for name in sub.get("required", []):
            if name not in fields:
                raise Unsupported("rule requires an undeclared property")  # an extra key is refused anyway
            if _optional(fields[name][1]):  # a required field is always there once decoded
                out.append(f"{var}.{fields[name][0]} is not UNSET")
        for name, prop in sub.get("properties", {}).items():
            if name not in fields:
                continue  # the struct forbids unknown fields: absent, so the rule holds
            attr, ft = fields[name]
            value = f"{var}.{attr}"
            holds = self.holds(prop, value, _unoptional(ft))
            out.append(f"({value} is UNSET or ({holds}))" if _optional(ft) else f"({holds})")
        return " and ".join(out) or "True"

    def predicate(self) -> Any:
        """One function `records -> bool`: whether every rule of the top object holds for every
        record (one call per chunk, not per record), or None when there are no rules."""
        if not self.rules:
            return None
        parts = []
        for rule in self.rules:
            cond = self.holds(rule["if"], "r", self.top_struct)
            then = self.holds(rule.get("then", {}), "r", self.top_struct)
            other = self.holds(rule.get("else", {}), "r", self.top_struct)
            parts.append(f"(({then}) if ({cond}) else ({other}))")
        source = ("def rules(records):\n    for r in records:\n        if not (" + " and ".join(parts)
                  + "):\n            return False\n    return True\n")
        namespace = dict(self.consts, UNSET=msgspec.UNSET)
        exec(compile(source, "<fastpath rules>", "exec"), namespace)  # noqa: S102 - our own source
        return namespace["rules"]


def _is_rule(node: Any) -> bool:
    return isinstance(node, dict) and "if" in node and not set(node) - _ANNOTATIONS - {"if", "then", "else"}


def _optional(t: Any) -> bool:
    """Whether a field of compiled type `t` may be absent (UNSET) from a decoded record."""
    return get_origin(t) is Union and msgspec.UnsetType in get_args(t)


def _unoptional(t: Any) -> Any:
    """The type of an optional field without its UNSET member (the caller tests UNSET first)."""
    if get_origin(t) is Union:
        members = [a for a in get_args(t) if a is not msgspec.UnsetType]
        return members[0] if len(members) == 1 else Union[tuple(members)]
    return t


def _depth(t: Any) -> int | None:
    """How deep the JSON a decoder of type `t` accepts can nest (the top object or array is
    level 1), or None when a free-form part (Any) takes any depth."""
    info = t if isinstance(t, msgspec.inspect.Type) else msgspec.inspect.type_info(t)
    if isinstance(info, msgspec.inspect.Metadata):
        return _depth(info.type)
    if isinstance(info, msgspec.inspect.AnyType):
        return None
    if isinstance(info, msgspec.inspect.UnionType):
        inner = [_depth(m) for m in info.types]
        return None if None in inner else max(inner)
    if isinstance(info, msgspec.inspect.StructType):
        inner = [_depth(f.type) for f in info.fields]
    elif isinstance(info, msgspec.inspect.ListType):
        inner = [_depth(info.item_type)]
    elif isinstance(info, msgspec.inspect.DictType):
        inner = [_depth(info.value_type)]
    else:
        return 0  # a scalar
    return None if None in inner else 1 + max(inner, default=0)


@dataclass(frozen=True)
class FastRecord:
    decoder: msgspec.json.Decoder
    # (steps, pattern): the strings at the end of `steps` ((attribute, struct the value must be
    # to go on, or None at the last step)) must match the ECMA-262 `pattern`
    deferred: tuple[tuple[tuple[tuple[str, Any], ...], str], ...]
    rules: Any = None  # records -> bool: the top object's if/then/else rules, or None
    max_depth: int | None = None  # how deep an accepted line nests, None when unbounded

    def names(self, steps: tuple[tuple[str, Any], ...]) -> tuple[str, ...]:
        """The JSON field names along `steps` (e.g. `("keyframes", "display")`)."""
        out, struct = [], self.decoder.type
        for attr, inner in steps:
            out.append(struct.__struct_encode_fields__[struct.__struct_fields__.index(attr)])
            struct = inner
        return tuple(out)

    def values(self, records: list[Any], steps: tuple[tuple[str, Any], ...]) -> Iterable[Any]:
        """The values at the end of `steps` in `records`, one C-level pipeline (no closure
        per record): objects of another type on the way (None, UNSET) hold no such value."""
        found: Iterable[Any] = records
        for attr, struct in steps:
            found = map(attrgetter(attr), found)
            if struct is not None:
                found = filter(struct.__instancecheck__, found)
        return found


@functools.cache
def decoder(stem: str) -> FastRecord | None:
    """The fast decoder of a record contract, or None when its schema is not translated."""
    from ._contracts import get
    from ._validate import bundled_schema

    c = get(stem)
    if c.kind not in ("record", "document"):  # a document contract's JSONL: one per line
        return None
    schema = bundled_schema(c)
    compiler = _Compiler(schema)
    try:
        top = compiler.type(schema)
        if (compiler.deferred or compiler.rules) and top is not compiler.top_struct:
            raise Unsupported("deferred patterns or rules of an object inside a union")
        if any(struct is not top for struct, _, _ in compiler.deferred):
            raise Unsupported("deferred pattern of another object")
        deferred = tuple((steps, pattern) for _, steps, pattern in compiler.deferred)
        for _, pattern in deferred:
            matches_all(pattern)  # a pattern the exact path's engine refuses: the exact path decides
        return FastRecord(msgspec.json.Decoder(top), deferred, compiler.predicate(), _depth(top))
    except (Unsupported, TypeError, ValueError, re.error, SyntaxError):
        return None


@functools.cache
def matches_all(pattern: str) -> Any:
    """`strings -> bool`: whether every string of a list matches the ECMA-262 `pattern`, checked
    by the exact path's own engine (jsonschema-rs) in one call per list: the same verdict as the
    exact path, at a fraction of a Python regex call per value."""
    import jsonschema_rs

    return jsonschema_rs.validator_for({"items": {"pattern": pattern}}).is_valid


def accepts_lines(stem: str, data: bytes) -> int | None:
    """Number of records when every line of `data` is accepted by the fast path, else None
    (refused, untranslated or malformed: the exact path decides and reports)."""
    return accepts_chunks(stem, line_slices(data))


def accepts_chunks(stem: str, chunks: Iterable[bytes]) -> int | None:
    """`accepts_lines` over a stream of chunks that each end at a line end: nothing is kept once
    its chunk is checked (records, the distinct values a pattern checks), so memory stays flat
    however long the file is and however many distinct ids it holds. A value repeated within a
    chunk (a session id, a label) is checked once per chunk."""
    fast = decoder(stem)
    if fast is None:
        return None
    count = 0
    checks = [(steps, matches_all(pattern)) for steps, pattern in fast.deferred]
    try:
        for chunk in chunks:
            records = fast.decoder.decode_lines(chunk)
            count += len(records)
            if fast.rules is not None and not fast.rules(records):
                return None
            for steps, check in checks:
                values = set(fast.values(records, steps))
                values.discard(None)  # null or absent where the schema allows it: no string
                values.discard(msgspec.UNSET)
                if values and not check(list(values)):
                    return None
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return count
