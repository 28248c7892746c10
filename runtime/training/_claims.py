"""Claims against seed 002's "What Not To Claim Yet" table (lume:contract:claims:v1).

A claims document is the YAML front matter of a Markdown release note, or a `claims.yaml` /
`*.claims.yaml` file, valid against lume:contract:release_claims:v1. Each claim names a rule of
the table; the rule's requirements are evaluated over what the root holds (model artifact records
assessed under the live-safe policy, training pairs files, physical proof matrices). A claim
whose requirements are unmet is a violation naming the claim and the evidence it lacks.
"""
from __future__ import annotations

import math
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from lume.runtime.core import (
    Evidence,
    InputError,
    get,
    held,
    loads_yaml,
    problems,
    read_json,
    read_text,
    violated,
)

from ._io import table_data
from ._models import Assessment, assess, load_record
from ._npz import array_names
from ._pairs import PairsCheck, check_pairs

TABLE = "claims.v1"
DOCUMENT = "release_claims.v1"
DOC_SCHEMA = "lume.release_claims.v1"
MODEL_SCHEMA = "lume.model_artifact.v1"
MATRIX_SCHEMA = "lume.airdeck.physical_proof_matrix.v1"
_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


def table() -> dict[str, Any]:
    return table_data(TABLE)


def rules() -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in table()["claims"]}


def is_claims_file(rel: str) -> bool:
    name = posixpath.basename(rel)
    return name.endswith(".md") or name == "claims.yaml" or name.endswith(".claims.yaml")


def read_claims(path: Path) -> dict[str, Any] | None:
    """The claims document in `path`, or None for a Markdown file that declares none.

    InputError (naming the file) for unreadable YAML, or a claims YAML / claims front matter that
    does not conform to lume:contract:release_claims:v1.
    """
    path = Path(path)
    text = read_text(path)  # a bounded yaml_document input (a regular file, UTF-8)
    if path.suffix == ".md":
        m = _FRONT.match(text)
        if m is None:
            return None
        text = m.group(1)
    data = loads_yaml(text, file=str(path))
    if path.suffix == ".md" and not (isinstance(data, dict) and data.get("schema") == DOC_SCHEMA):
        return None  # front matter of some other kind: this note makes no declared claim
    bad = problems(data, get(DOCUMENT), file=str(path))
    if bad:
        raise InputError(f"{path}: not a valid {DOCUMENT}: {bad[0].path}: {bad[0].message}")
    return data


def is_pairs_file(path: Path) -> bool:
    try:
        return "conditioning" in array_names(path)
    except InputError:
        return path.name.endswith("pairs.npz")  # unreadable but meant as pairs: the check reports it


@dataclass
class RootEvidence:
    """What a root holds that claims can rest on, assessed once."""

    root: Path
    model_records: list[str]
    pairs_files: list[str]
    matrices: list[str]
    digest: Callable[[str], str]
    _models: list[tuple[str, Assessment | str]] | None = field(default=None, repr=False)
    _pairs: dict[str, PairsCheck | str] = field(default_factory=dict, repr=False)

    @classmethod
    def scan(cls, root: Path, files: Iterable[str], digest: Callable[[str], str]) -> "RootEvidence":
        """Classify the files of a root (relative POSIX paths) by their content."""
        records, pairs, matrices = [], [], []
        for rel in files:
            if rel.endswith(".npz"):
                if is_pairs_file(root / rel):
                    pairs.append(rel)
            elif rel.endswith(".json"):
                try:
                    doc = read_json(root / rel)
                except InputError:
                    continue
                schema = doc.get("schema") if isinstance(doc, dict) else None
                if schema == MODEL_SCHEMA:
                    records.append(rel)
                elif schema == MATRIX_SCHEMA:
                    matrices.append(rel)
        return cls(Path(root), records, pairs, matrices, digest)

    def models(self) -> list[tuple[str, Assessment | str]]:
        """(record, its assessment or why it could not be read)."""
        if self._models is None:
            self._models = []
            for rel in self.model_records:
                try:
                    doc = load_record(self.root / rel)
                except InputError as exc:
                    self._models.append((rel, str(exc)))
                    continue
                self._models.append((rel, assess(doc, self.root, rel, self.digest)))
        return self._models

    def pairs(self, rel: str) -> PairsCheck | str:
        if rel not in self._pairs:
            try:
                self._pairs[rel] = check_pairs(self.root / rel, name=rel)
            except InputError as exc:
                self._pairs[rel] = str(exc)
        return self._pairs[rel]


def _where(allowed: set[str] | None) -> str:
    return "among the cited evidence" if allowed is not None else "in the root"


def _match(a: Assessment, match: dict[str, Any]) -> list[str]:
    """What of `match` the record does not have."""
    m, doc, off = a.model, a.doc, []
    for key, want in match.items():
        if key == "family":
            ok = m["family"] in (want if isinstance(want, list) else [want])
            got = m["family"]
        elif key == "dynamics_width":
            got = m["input"]["dynamics_width"]
            ok = got == want
        elif key == "format":
            got = sorted({x["format"] for x in doc["artifacts"]})
            ok = want in got
        elif key == "split":
            got = sorted({d.get("split", "none") for d in doc["datasets"]})
            ok = want in got
        elif key == "domains":
            got = m["domains"]
            ok = set(want) <= set(got)
        else:
            got = m[key]
            ok = got == want
        if not ok:
            off.append(f"{key} {got!r} (needs {want!r})")
    return off


def _model_requirement(req: dict[str, Any], claim: dict[str, Any], ev: RootEvidence,
                       allowed: set[str] | None) -> tuple[bool, str]:
    match = req.get("match", {})
    wanted = req.get("criteria", [])
    ids = None if wanted == "all" else list(wanted)
    records = [(rel, a) for rel, a in ev.models() if allowed is None or rel in allowed]
    if not records:
        return False, f"no model artifact record {_where(allowed)}"
    reasons = []
    for rel, a in records:
        if isinstance(a, str):
            reasons.append(f"{rel} unreadable ({a})")
            continue
        off = _match(a, match)
        if off:
            reasons.append(f"{a.run_id} does not match: {', '.join(off)}")
            continue
        why = []
        if a.problems:
            why.append(f"{len(a.problems)} file(s) differ from their digests or are missing")
        missing = a.missing(ids)
        if missing:
            why.append(f"criteria missing: {', '.join(missing)}")
        metric = req.get("metric")
        if metric:
            got = [m["value"] for m in a.doc["metrics"] if m["name"] == metric and m["split"] == "val"]
            if "value" not in claim:
                why.append(f"the claim states no {metric}")
            elif not got:
                why.append(f"no val {metric} recorded")
            elif not any(math.isclose(v, claim["value"], abs_tol=req.get("tolerance", 0.0)) for v in got):
                why.append(f"val {metric} is {got[0]}, the claim says {claim['value']}")
        if not why:
            return True, f"{a.run_id} ({rel}) matches and meets " + ("all eight criteria" if ids is None else
                                                                       ", ".join(ids) or "its match")
        reasons.append(f"{a.run_id} matches but " + "; ".join(why))
    return False, "; ".join(reasons)


def _pairs_requirement(claim: dict[str, Any], ev: RootEvidence, allowed: set[str] | None) -> tuple[bool, str]:
    if "value" not in claim:
        return False, "the claim states no pair count"
    files = [rel for rel in ev.pairs_files if allowed is None or rel in allowed]
    if not files:
        return False, f"no training pairs file {_where(allowed)}"
    listed = {d["sha256"] for _, a in ev.models() if not isinstance(a, str) for d in a.doc["datasets"]}
    reasons = []
    for rel in files:
        got = ev.pairs(rel)
        if isinstance(got, str):
            reasons.append(f"{rel} unreadable ({got})")
        elif not got.ok:
            reasons.append(f"{rel} fails the training-pair check")
        elif got.pairs != claim["value"]:
            reasons.append(f"{rel} holds {got.pairs} pairs, the claim says {claim['value']:g}")
        elif ev.digest(rel) not in listed:
            reasons.append(f"{rel} is no dataset of any model artifact record")
        else:
            return True, f"{rel} holds {got.pairs} pairs, passes the check and is a recorded dataset"
    return False, "; ".join(reasons)


def _proof_requirement(ev: RootEvidence, allowed: set[str] | None) -> tuple[bool, str]:
    files = [rel for rel in ev.matrices if allowed is None or rel in allowed]
    if not files:
        return False, f"no physical proof matrix {_where(allowed)}"
    reasons = []
    for rel in files:
        try:
            doc = read_json(ev.root / rel)
        except InputError as exc:
            reasons.append(f"{rel} unreadable ({exc})")
            continue
        t = doc.get("thresholds", {})
        judged = [g for g in doc.get("gestures", []) if g.get("examples",
                                                              0) >= t.get("min_physical_examples", 1)]
        works = [g["label"] for g in judged
                 if g["dispatched_examples"] >= t.get("min_dispatch_fraction", 1.0) * g["examples"]]
        if not judged:
            reasons.append(f"{rel}: no gesture has enough physical examples to judge")
        elif works:
            reasons.append(f"{rel}: camera-only control works for {', '.join(works)}")
        else:
            return True, f"{rel}: camera-only control fails for all {len(judged)} judged gesture(s)"
    return False, "; ".join(reasons)


def evaluate(doc: dict[str, Any], doc_rel: str, ev: RootEvidence) -> list[Evidence]:
    """Evidence for each claim of one claims document (valid against its contract)."""
    known = rules()
    out: list[Evidence] = []
    folder = posixpath.dirname(doc_rel)
    for i, claim in enumerate(doc["claims"]):
        where = f"claims[{i}] {claim['id']}"
        rule = known.get(claim["id"])
        if rule is None:
            out.append(violated(f"`{claim['id']}` is not a claim of {TABLE}", file=doc_rel, field=where,
                                expected=sorted(known), found=claim["id"]))
            continue
        if rule["value"] == "integer" and "value" in claim and not float(claim["value"]).is_integer():
            out.append(violated(f"{claim['id']} is a count; {claim['value']} is not whole", file=doc_rel,
                                field=f"{where}.value", expected="an integer", found=claim["value"]))
            continue
        allowed = None
        if claim.get("evidence"):
            allowed = set()
            for p in claim["evidence"]:
                rel = posixpath.normpath(posixpath.join(folder, p))
                if rel.startswith("../") or not (ev.root / rel).is_file():
                    out.append(violated(f"cited evidence {p} is not a file of the root", file=doc_rel,
                                        field=f"{where}.evidence", expected="a file inside the root",
                                        found=p))
                allowed.add(rel)
        results = []
        for req in rule["evidence"]["requires"]:
            if req["kind"] == "model_artifact":
                results.append(_model_requirement(req, claim, ev, allowed))
            elif req["kind"] == "pairs_file":
                results.append(_pairs_requirement(claim, ev, allowed))
            else:
                results.append(_proof_requirement(ev, allowed))
        stated = f"“{rule['sentence']}”" + (f" ({claim['value']:g})" if "value" in claim else "")
        if all(ok for ok, _ in results):
            out.append(held(f"claim {stated} rests on its evidence: " + "; ".join(d for _, d in results),
                            file=doc_rel, field=where, expected=rule["evidence"]["description"],
                            found="evidence present"))
        else:
            out.append(violated(f"claims {stated} without its evidence: "
                                + "; ".join(d for ok, d in results if not ok), file=doc_rel, field=where,
                                expected=rule["evidence"]["description"],
                                found=[d for ok, d in results if not ok]))
    if not doc["claims"]:
        out.append(held(f"{doc['release']}: claims nothing the claims table restricts", file=doc_rel,
                        field="claims", expected=f"claims backed by evidence ({TABLE})", found=0))
    return out
