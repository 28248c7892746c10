"""The distribution maps the fixed top level into the `lume` namespace and ships its contracts."""
from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import lume.contracts

REPO = Path(__file__).resolve().parents[1]
MAPPED = {"contracts": "lume.contracts", "generated": "lume.generated", "runtime": "lume.runtime",
          "verifiers": "lume.verifiers", "fixtures": "lume.fixtures"}


def test_installed_package_finds_its_contracts():
    names = {p.name for p in resources.files("lume.contracts").iterdir()}
    on_disk = {p.name for p in (REPO / "contracts").glob("*.yaml")}
    assert on_disk and on_disk <= names
    assert (resources.files("lume.contracts") / "meta" / "contract.v1.yaml").is_file()


def test_every_python_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for folder, namespace in MAPPED.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder).parts
            found.add(".".join((namespace, *rel)))
    assert found == listed, f"add to pyproject [tool.setuptools] packages: {sorted(found - listed)}"


def test_namespace_is_clean():
    assert lume.contracts.__name__ == "lume.contracts"
