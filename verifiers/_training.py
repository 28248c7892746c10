"""training.pairs and training.capture_coverage: V6 training data against its contracts.

training.pairs: every training pairs NPZ in the root (an NPZ holding a `conditioning` array, or
named *pairs.npz) against lume:contract:v6_conditioning:v1 and v6_training.v1 `pairs`: array names,
dtypes and shapes, finite values, one hot value slot per one-hot block and reserved bits cold, a
producer recorded for every frame, no track in both train and val.

training.capture_coverage: every capture manifest (lume.capture_manifest.v1) against the capture
protocol of v6_training.v1: the track and session counts, every mode × emotion cell covered (the
missing cells named), the per-session protocol fields, and the files of captured sessions present
with their sha256 and size.
"""
from __future__ import annotations

import weakref
from typing import Iterator

from lume.runtime.core import InputError
from lume.runtime.training import check_pairs, coverage, is_pairs_file

from ._context import Context
from ._documents import valid_documents
from ._framework import Evidence, verifier, violated

PAIRS_ID = "training.pairs"
COVERAGE_ID = "training.capture_coverage"
MANIFEST = "capture_manifest.v1"
_found: "weakref.WeakKeyDictionary[Context, list[str]]" = weakref.WeakKeyDictionary()


def pairs_files(ctx: Context) -> list[str]:
    if ctx not in _found:
        _found[ctx] = [rel for rel in ctx.files if rel.endswith(".npz") and is_pairs_file(ctx.path(rel))]
    return _found[ctx]


@verifier(PAIRS_ID, "Training pairs match the V6 conditioning layout and the cross-track split",
          inputs=lambda ctx: bool(pairs_files(ctx)),
          needs="training pairs NPZ (lume:contract:v6_training:v1)")
def training_pairs(ctx: Context) -> Iterator[Evidence]:
    for rel in pairs_files(ctx):
        # a quick run takes an unchanged file's rows from the cache (without importing numpy)
        rows = ctx.cache.memo(PAIRS_ID, rel, lambda rel=rel: [e.to_dict() for e in _pairs_evidence(ctx, rel)])
        yield from (Evidence.from_dict(row) for row in rows)


def _pairs_evidence(ctx: Context, rel: str) -> list[Evidence]:
    try:
        return check_pairs(ctx.path(rel), name=rel).evidence
    except InputError as exc:
        return [violated(f"cannot read: {exc}".replace(str(ctx.root) + "/", ""), file=rel,
                         expected="an NPZ readable without pickle", found="unreadable")]


@verifier(COVERAGE_ID, "The capture manifest covers the mode × emotion matrix of the V6 protocol",
          inputs=lambda ctx: bool(ctx.documents_of(MANIFEST)),
          needs="capture manifest (lume:contract:capture_manifest:v1)")
def capture_coverage(ctx: Context) -> Iterator[Evidence]:
    for rel, doc, bad in valid_documents(ctx, MANIFEST, "capture manifest"):
        if bad is not None:
            yield bad
            continue
        yield from coverage(doc, file=rel, base=ctx.path(rel).parent,
                            digest=lambda p: ctx.sha256(ctx.rel(p))).evidence
