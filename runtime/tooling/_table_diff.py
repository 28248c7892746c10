"""Entry-by-entry diff of a rule table (labels, invariants, ownership, thresholds, layouts).

Rows of a list are matched by their key (the first field such as `id`, `name`, `label` or
`field` that is unique in both versions, or a pair of fields such as label + deck), so a
reordered or inserted row shows as what it is and every changed value is named by its row.
Policy: an added row or entry is backward compatible only (old readers do not know it), a
removed one forward only (new readers lost it), a changed value is a `table_value` change a
person reviews (breaking only under FULL); changed prose (descriptions, sentences) is listed
for review under every mode.
"""
from __future__ import annotations

import itertools
from typing import Any, Iterator

from ._schema_compat import Change, _canon, show

# Preferred row keys, most specific first; any other scalar field unique in both may serve.
ROW_KEYS = ("id", "name", "label", "field", "command", "role", "address", "mode", "device",
            "key", "deck", "value", "pattern", "sample_rate_hz")
# Free text is never a key: editing a sentence is a changed value, not a new row.
NOT_KEYS = frozenset({"description", "sentence", "meaning", "reason", "note", "title"})


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def row_key(old: list[Any], new: list[Any]) -> tuple[str, ...] | None:
    """The field(s) that identify a row in both lists, or None (rows are matched by position)."""
    rows = old + new
    if not rows or not all(isinstance(r, dict) for r in rows):
        return None
    common = set.intersection(*(
        {k for k, v in r.items() if _scalar(v)} for r in rows)) - NOT_KEYS
    preferred = [k for k in ROW_KEYS if k in common]
    ordered = preferred + sorted(common - set(ROW_KEYS))

    def unique(fields: tuple[str, ...]) -> bool:
        return all(len({_canon([r[f] for f in fields]) for r in lst}) == len(lst) for lst in (old, new))

    candidates = itertools.chain(
        ((k,) for k in preferred),
        (pair for pair in itertools.combinations(ordered, 2) if pair[0] in preferred),
        ((k,) for k in ordered if k not in preferred),
        itertools.combinations(ordered, 2),
    )
    return next((fields for fields in candidates if unique(fields)), None)


def _label(row: dict[str, Any], key: tuple[str, ...]) -> str:
    if len(key) == 1:
        return str(row[key[0]])
    return ",".join(f"{f}={row[f]}" for f in key)


def diff_table(old: Any, new: Any, path: str = "") -> Iterator[Change]:
    """Every difference between two versions of a table's data, entry by entry."""
    if _canon(old) == _canon(new):
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for k in list(old) + [k for k in new if k not in old]:
            sub = f"{path}.{k}" if path else str(k)
            if k not in new:
                yield _removed(sub, old[k])
            elif k not in old:
                yield _added(sub, new[k])
            else:
                yield from diff_table(old[k], new[k], sub)
        return
    if isinstance(old, list) and isinstance(new, list):
        yield from _diff_list(old, new, path)
        return
    if path.rsplit(".", 1)[-1] in NOT_KEYS:  # prose: a person reads it, no mode forbids it
        yield Change(path, f"text changed {show(old)} → {show(new)}", None, None, review_only=True)
        return
    yield Change(path, f"changed {show(old)} → {show(new)}", None, None, table_value=True)


def _diff_list(old: list[Any], new: list[Any], path: str) -> Iterator[Change]:
    if all(_scalar(v) for v in old + new):
        a, b = [_canon(v) for v in old], [_canon(v) for v in new]
        if len(set(a)) == len(a) and len(set(b)) == len(b):
            for v, c in zip(old, a):
                if c not in b:
                    yield Change(path, f"value {show(v)} removed", False, True)
            for v, c in zip(new, b):
                if c not in a:
                    yield Change(path, f"value {show(v)} added", True, False)
            kept_a, kept_b = [c for c in a if c in b], [c for c in b if c in a]
            if kept_a != kept_b:
                yield Change(path, f"order changed {show(old)} → {show(new)}", None, None, table_value=True)
            return
        yield Change(path, f"changed {show(old)} → {show(new)}", None, None, table_value=True)
        return
    key = row_key(old, new)
    if key is None:
        for i in range(max(len(old), len(new))):
            sub = f"{path}[{i}]"
            if i >= len(new):
                yield _removed(sub, old[i])
            elif i >= len(old):
                yield _added(sub, new[i])
            else:
                yield from diff_table(old[i], new[i], sub)
        return
    olds = {_label(r, key): r for r in old}
    news = {_label(r, key): r for r in new}
    for name, row in olds.items():
        sub = f"{path}[{name}]"
        if name not in news:
            yield _removed(sub, row, row=True)
        else:
            yield from diff_table(row, news[name], sub)
    for name, row in news.items():
        if name not in olds:
            yield _added(f"{path}[{name}]", row, row=True)
    kept_old = [n for n in olds if n in news]
    kept_new = [n for n in news if n in olds]
    if kept_old != kept_new:
        yield Change(path, "rows reordered", None, None, table_value=True)


def _added(path: str, value: Any, *, row: bool = False) -> Change:
    what = "row added" if row else ("entry added" if isinstance(value, (dict, list)) else f"added {show(value)}")
    return Change(path, what, True, False)


def _removed(path: str, value: Any, *, row: bool = False) -> Change:
    what = "row removed" if row else ("entry removed" if isinstance(value, (dict, list)) else f"removed {show(value)}")
    return Change(path, what, False, True)
