"""The import contracts of pyproject.toml hold, and each one catches the edge it exists to refuse.

Layers point down only (generated <- core <- components <- verifiers, fixtures, tooling,
workers <- CLI), components form no cycle, and a private module is imported only from inside
its own package. The contracts are import-linter's own, checked on the real import graph;
then a deliberate bad edge is added to a copy of that graph and must break them.
"""
from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import grimp
import pytest

pytest.importorskip("importlinter")

from importlinter import api  # noqa: E402,F401  (configures import-linter's adapters)
from importlinter.application.use_cases import _register_built_in_contract_types  # noqa: E402
from importlinter.domain.contract import registry  # noqa: E402

_register_built_in_contract_types()

REPO = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph(*CONFIG["root_packages"], cache_dir=None)


GRAPH = _graph()


def _contract(contract_id: str):
    options = next(c for c in CONFIG["contracts"] if c["id"] == contract_id)
    cls = registry.get_contract_class(options["type"])
    session = {k: v for k, v in CONFIG.items() if k != "contracts"}
    return cls(name=options["name"], session_options=session, contract_options=dict(options))


def _kept(contract_id: str, graph: grimp.ImportGraph) -> bool:
    return _contract(contract_id).check(graph, verbose=False).kept


def _with(*edges: tuple[str, str]) -> grimp.ImportGraph:
    graph = copy.deepcopy(GRAPH)
    for importer, imported in edges:
        graph.add_import(importer=importer, imported=imported, line_number=1,
                         line_contents=f"import {imported}")
    return graph


@pytest.mark.parametrize("contract_id", [c["id"] for c in CONFIG["contracts"]])
def test_every_import_contract_is_kept(contract_id: str) -> None:
    assert _kept(contract_id, GRAPH), f"`lint-imports` shows which import breaks {contract_id}"


@pytest.mark.parametrize(("importer", "imported"), [
    ("lume.runtime.core._jsonl", "lume.runtime.storage"),          # core -> a component
    ("lume.runtime.storage._mac5", "lume.verifiers"),              # a component -> verifiers
    ("lume.verifiers._runner", "lume.runtime.cli"),                # verifiers -> the CLI
    ("lume.generated.registry", "lume.runtime.core"),              # generated -> core
    ("lume.runtime.airdeck._dispatch_gate", "lume.runtime.tooling"),        # run time -> build tooling
    ("lume.runtime.bodytruth._fusion", "lume.fixtures"),           # a component -> fixture builders
])
def test_a_back_edge_breaks_the_layers(importer: str, imported: str) -> None:
    assert not _kept("layers", _with((importer, imported)))


def test_a_cycle_between_components_breaks_acyclicity() -> None:
    # the AirDeck gate reads BodyTruth; BodyTruth importing the gate would close a loop
    assert GRAPH.chain_exists("lume.runtime.airdeck", "lume.runtime.bodytruth", as_packages=True)
    assert not _kept("components-acyclic", _with(("lume.runtime.bodytruth._fusion", "lume.runtime.airdeck")))


def test_importing_another_packages_private_module_breaks_privacy() -> None:
    assert not _kept("private-modules", _with(("lume.runtime.cli._airdeck", "lume.runtime.airdeck._dispatch_gate")))

