"""models.live_safe: each model artifact record under seed 002's eight live-safe criteria.

Every lume.model_artifact.v1 record in the root is assessed with lume:contract:live_safe_policy:v1
(lume.runtime.training.assess): the datasets, code copy, exported artifacts, fallback, on-device
evidence, live output, observation log and report it names must be present with the recorded
sha256 and byte size (any difference fails the check), and a record claiming `live_safe` fails
unless all eight criteria are met. Each record's criteria, met or missing, are in the evidence.
"""
from __future__ import annotations

from typing import Iterator

from lume.runtime.core import InputError, get, problems
from lume.runtime.training import assess

from ._context import Context
from ._framework import Evidence, verifier, violated

ID = "models.live_safe"
RECORD = "model_artifact.v1"


@verifier(ID, "Model artifacts match their digests; a live-safe claim meets all eight criteria",
          inputs=lambda ctx: bool(ctx.documents_of(RECORD)),
          needs="model artifact record (lume:contract:model_artifact:v1)")
def models_live_safe(ctx: Context) -> Iterator[Evidence]:
    contract = get(RECORD)
    for rel in ctx.documents_of(RECORD):
        try:
            doc = ctx.json(rel)
        except InputError as exc:
            yield violated(f"cannot read: {exc}", file=rel, expected="valid JSON", found="unreadable")
            continue
        bad = problems(doc, contract, file=rel)
        if bad:
            yield violated(f"not a valid model artifact record: {bad[0].path}: {bad[0].message}", file=rel,
                           field=bad[0].path, expected=f"conforms to {RECORD}", found="violation")
            continue
        yield from assess(doc, ctx.root, rel, ctx.sha256).evidence()
