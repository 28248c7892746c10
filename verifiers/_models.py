"""models.live_safe: each model artifact record under seed 002's eight live-safe criteria.

Every lume.model_artifact.v1 record in the root is assessed with lume:contract:live_safe_policy:v1
(lume.runtime.training.assess): the datasets, code copy, exported artifacts, fallback, on-device
evidence, live output, observation log and report it names must be present with the recorded
sha256 and byte size (any difference fails the check), and a record claiming `live_safe` fails
unless all eight criteria are met. Each record's criteria, met or missing, are in the evidence.
"""
from __future__ import annotations

from typing import Iterator

from lume.runtime.training import assess

from ._context import Context
from ._documents import valid_documents
from ._framework import Evidence, verifier

ID = "models.live_safe"
RECORD = "model_artifact.v1"


@verifier(ID, "Model artifacts match their digests; a live-safe claim meets all eight criteria",
          inputs=lambda ctx: bool(ctx.documents_of(RECORD)),
          needs="model artifact record (lume:contract:model_artifact:v1)")
def models_live_safe(ctx: Context) -> Iterator[Evidence]:
    for rel, doc, bad in valid_documents(ctx, RECORD, "model artifact record"):
        if bad is not None:
            yield bad
        else:
            yield from assess(doc, ctx.root, rel, ctx.sha256).evidence()
