"""Every contract is valid, its examples validate, and it refuses what it must refuse."""
from __future__ import annotations

import copy

import pytest
from mutations import BOGUS, enum_mutations, resolve, root_required, set_at

from lume.runtime.core import check_all, get, is_tolerant, load_all, parse, problems, tolerated
from lume.runtime.core._inline import self_contained

DOCS = [c for c in load_all() if not c.is_meta and c.kind in ("document", "record")]
TABLES = [c for c in load_all() if not c.is_meta and c.kind == "table"]
EXAMPLES = [(c, i) for c in DOCS for i in range(len(c.examples))]


def ids(params):
    return [f"{c.stem}[{i}]" for c, i in params]


def test_every_contract_passes_its_own_checks():
    assert [str(p) for p in check_all()] == []


def test_a_definition_shared_from_another_contract_keeps_naming_its_owners_definitions():
    """readiness_report.v2 uses v1's `Check`, whose refs inside (`#/$defs/CheckId`, ...) are v1's:
    copied into v2's self-contained schema they still mean v1's definitions."""
    v1, v2 = (self_contained(get(f"readiness_report.v{n}")) for n in (1, 2))
    for name in ("Check", "CheckId", "CheckStatus", "Evidence", "Gate", "Preflight", "PortProbe"):
        assert v2["$defs"][name] == v1["$defs"][name], name
    assert "Subject" not in v2["$defs"]  # v2 lists the subjects in the Statement only


def test_every_family_is_present():
    names = {c.name for c in load_all() if not c.is_meta}
    for family in ("rehearsal_bundle", "bundle_layout", "body_truth", "body_observation",
                   "gesture_event", "lumf_layout", "lumf_golden", "san_osc", "director_state",
                   "director_ownership", "labels", "safety_invariants", "readiness_report"):
        assert family in names


@pytest.mark.parametrize("contract", DOCS, ids=[c.stem for c in DOCS])
def test_contract_has_urn_and_examples(contract):
    assert contract.id == f"lume:contract:{contract.name}:v{contract.version}"
    assert contract.examples, "documents and records carry examples"


@pytest.mark.parametrize(("contract", "i"), EXAMPLES, ids=ids(EXAMPLES))
def test_example_validates_and_parses(contract, i):
    example = contract.examples[i]
    assert problems(example, contract) == []
    parse(contract, example)


def first_object(contract, example):
    """The example's top object and where it sits: the root, or the first item of a list root."""
    schema = self_contained(contract)
    if isinstance(example, dict):
        return schema, example, ()
    if isinstance(example, list) and example and isinstance(example[0], dict):
        return resolve(schema, schema)["items"], example[0], (0,)
    pytest.skip("example holds no object")


@pytest.mark.parametrize(("contract", "i"), EXAMPLES, ids=ids(EXAMPLES))
def test_extra_key_is_refused_by_our_documents_and_kept_in_theirs(contract, i):
    example = contract.examples[i]
    _, obj, at = first_object(contract, example)
    extra = dict(obj, __unexpected_key__=1)
    mutated = set_at(example, at, extra) if at else extra
    if not is_tolerant(contract):
        assert problems(mutated, contract), "documents LUME writes are closed: unknown keys are refused"
        with pytest.raises(ValueError):
            parse(contract, mutated)
        return
    # documents other programs write: accepted, listed as a warning, kept by the model
    assert problems(mutated, contract) == []
    where = "$" + "".join(f"[{p}]" for p in at)
    assert [w.path for w in tolerated(mutated, contract)] == [f"{where}.__unexpected_key__"]
    parsed = parse(contract, mutated)
    kept = parsed[at[0]] if at else parsed
    assert kept.model_dump()["__unexpected_key__"] == 1


@pytest.mark.parametrize(("contract", "i"), EXAMPLES, ids=ids(EXAMPLES))
def test_missing_required_field_is_refused(contract, i):
    example = contract.examples[i]
    node, obj, at = first_object(contract, example)
    required = root_required(self_contained(contract), obj) if not at else list(
        resolve(self_contained(contract), node).get("required", []))
    assert required, f"{contract.stem} declares required fields"
    for field in required:
        trimmed = {k: v for k, v in obj.items() if k != field}
        mutated = set_at(example, at, trimmed) if at else trimmed
        assert problems(mutated, contract), f"missing {field!r} must be refused"


@pytest.mark.parametrize(("contract", "i"), EXAMPLES, ids=ids(EXAMPLES))
def test_wrong_enum_value_is_refused(contract, i):
    example = contract.examples[i]
    schema = self_contained(contract)
    paths = list(dict.fromkeys(enum_mutations(schema, schema, example)))
    if not paths:
        pytest.skip(f"{contract.stem} has no closed vocabulary")
    for path in paths:
        assert problems(set_at(example, path, BOGUS), contract), f"{'.'.join(path)}={BOGUS!r}"


@pytest.mark.parametrize("contract", TABLES, ids=[c.stem for c in TABLES])
def test_table_parses_and_refuses_extra_and_missing(contract):
    data = contract.table_data()
    parse(contract, data)
    assert problems(dict(data, __unexpected_key__=1), contract)
    for key in data:
        trimmed = copy.deepcopy(data)
        del trimmed[key]
        if problems(trimmed, contract):
            break
    else:
        pytest.fail(f"{contract.stem}: no top-level table key is required")
