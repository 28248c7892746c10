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


def test_every_data_file_of_generated_and_contracts_ships_in_a_wheel():
    """`pip install .` copies only what package-data lists: a generated file left out (a bundled
    contract, a schema) would make an installed lume silently parse YAML or fail."""
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for folder in ("generated", "contracts"):
        globs = data[MAPPED[folder]]
        for path in (REPO / folder).rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            rel = path.relative_to(REPO / folder)
            assert any(rel.match(g) and len(rel.parts) == len(Path(g).parts) for g in globs), \
                f"{folder}/{rel} is not in pyproject's package-data for {MAPPED[folder]}"
