"""The built-in checks of `lume verify`, by id (one import edge per check module)."""
from __future__ import annotations

from ._authority import k11_only_static
from ._framework import Verifier
from ._labels import label_table
from ._schema_conformance import schema_conformance
from ._storage_integrity import storage_integrity

_CHECKS = (k11_only_static, label_table, schema_conformance, storage_integrity)


def all_verifiers() -> dict[str, Verifier]:
    """Every built-in verifier, by id (ids are unique)."""
    found: dict[str, Verifier] = {}
    for v in _CHECKS:
        if v.id in found:
            raise ValueError(f"verifier id {v.id!r} defined twice")
        found[v.id] = v
    return found
