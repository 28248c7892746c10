"""The built-in checks of `lume verify`, by id (one import edge per check module)."""
from __future__ import annotations

from ._authority import k11_only_static
from ._bundle_layout import bundle_layout
from ._claims import claims
from ._framework import Verifier
from ._labels import label_table
from ._models import models_live_safe
from ._prop_airdeck import airdeck_properties
from ._prop_bodytruth import bodytruth_properties
from ._prop_director import director_properties
from ._prop_lumf import lumf_properties
from ._rig import RIG_CHECKS
from ._route_smoke import route_smoke
from ._schema_conformance import schema_conformance
from ._sled import sled_constraints
from ._storage_integrity import storage_integrity
from ._training import capture_coverage, training_pairs

_CHECKS = (k11_only_static, label_table, schema_conformance, storage_integrity, bundle_layout, training_pairs,
           capture_coverage, models_live_safe, claims, sled_constraints, airdeck_properties,
           bodytruth_properties, director_properties, lumf_properties, route_smoke,
           *RIG_CHECKS)


def all_verifiers() -> dict[str, Verifier]:
    """Every built-in verifier, by id (ids are unique)."""
    found: dict[str, Verifier] = {}
    for v in _CHECKS:
        if v.id in found:
            raise ValueError(f"verifier id {v.id!r} defined twice")
        found[v.id] = v
    return found
