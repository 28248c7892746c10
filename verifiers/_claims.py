"""claims: no document in the root claims what seed 002 says not to claim, without its evidence.

Claims documents are Markdown release notes whose YAML front matter is a lume.release_claims.v1
document, and `claims.yaml` / `*.claims.yaml` files. Each claim is held against its rule in
lume:contract:claims:v1 over what the root holds (model artifact records assessed under the
live-safe policy, training pairs, physical proof matrices); a claim without its evidence fails,
naming the claim and the evidence that is missing. A note that claims nothing passes.
"""
from __future__ import annotations

import weakref
from typing import Any, Iterator

from lume.runtime.core import InputError
from lume.runtime.training import RootEvidence, evaluate, is_claims_file, read_claims

from ._context import Context
from ._framework import Evidence, verifier, violated
from ._training import pairs_files

ID = "claims"
_docs: "weakref.WeakKeyDictionary[Context, list[tuple[str, Any]]]" = weakref.WeakKeyDictionary()


def claims_documents(ctx: Context) -> list[tuple[str, Any]]:
    """(file, its claims document or the InputError reading it) for every claims document."""
    if ctx not in _docs:
        found = []
        for rel in ctx.files:
            if not is_claims_file(rel):
                continue
            try:
                doc = read_claims(ctx.path(rel))
            except InputError as exc:
                found.append((rel, exc))
                continue
            if doc is not None:
                found.append((rel, doc))
        _docs[ctx] = found
    return _docs[ctx]


@verifier(ID, "Nothing is claimed from seed 002's 'What Not To Claim Yet' list without its evidence",
          inputs=lambda ctx: bool(claims_documents(ctx)),
          needs="claims document (release-note front matter or claims YAML, lume:contract:release_claims:v1)")
def claims(ctx: Context) -> Iterator[Evidence]:
    evidence = RootEvidence(ctx.root, ctx.documents_of("model_artifact.v1"), pairs_files(ctx),
                            ctx.documents_of("physical_proof_matrix.v1"), ctx.sha256)
    for rel, doc in claims_documents(ctx):
        if isinstance(doc, InputError):
            yield violated(str(doc).replace(str(ctx.root) + "/", ""), file=rel,
                           expected="a lume.release_claims.v1 document", found="invalid")
            continue
        yield from evaluate(doc, rel, evidence)
