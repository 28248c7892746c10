"""Each package has one small public surface: its `__all__`, backed by private modules.

In the style of trio's test_exports and httpx's test_exported_members: every exported name
resolves, nothing private is exported, a package exports only what it defines, every module
outside a package's `__init__` is private (`_name.py`) unless it is an entry point run with
`python -m`, and no package reaches into another package's private module.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import lume.fixtures
import lume.runtime
import lume.verifiers

ROOTS = (lume.runtime, lume.verifiers, lume.fixtures)
ENTRY_POINTS = {"lume.runtime.cli.__main__", "lume.runtime.workers.sam3d"}


def _modules() -> list[pkgutil.ModuleInfo]:
    found = []
    for root in ROOTS:
        found.append(pkgutil.ModuleInfo(None, root.__name__, True))  # type: ignore[arg-type]
        found += list(pkgutil.walk_packages(root.__path__, root.__name__ + "."))
    return found


MODULES = _modules()
PACKAGES = sorted(m.name for m in MODULES if m.ispkg)


@pytest.mark.parametrize("name", PACKAGES)
def test_every_exported_name_resolves_and_is_public(name: str) -> None:
    package = importlib.import_module(name)
    exported = getattr(package, "__all__", [])
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    for attr in exported:
        assert not attr.startswith("_"), f"{name} exports the private name {attr}"
        assert hasattr(package, attr), f"{name}.__all__ names {attr}, which it does not have"


@pytest.mark.parametrize("name", PACKAGES)
def test_a_package_exports_only_what_it_defines(name: str) -> None:
    package = importlib.import_module(name)
    for attr in getattr(package, "__all__", []):
        obj = getattr(package, attr)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__module__ == name or obj.__module__.startswith(name + "."), (
                f"{name}.{attr} is defined in {obj.__module__}: import it from its own package")


def test_every_module_is_private_or_a_package_or_an_entry_point() -> None:
    public = [m.name for m in MODULES if not m.ispkg and not m.name.rsplit(".", 1)[1].startswith("_")
              and m.name not in ENTRY_POINTS]
    assert public == [], "implementation modules are private (`_name.py`) behind the package's __all__"


def _imports(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, absolute module) of every `from … import` in a file of `package`."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((node.lineno, target))
            out += [(node.lineno, f"{target}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return out


def test_no_package_imports_another_packages_private_module() -> None:
    offences = []
    for info in MODULES:
        module = importlib.import_module(info.name) if not info.name.endswith("__main__") else None
        path = Path(module.__file__) if module else None
        if path is None:
            continue
        package = info.name if info.ispkg else info.name.rsplit(".", 1)[0]
        for line, target in _imports(path, package):
            parts = target.split(".")
            private = next((i for i, p in enumerate(parts) if p.startswith("_") and p != "__future__"), None)
            if private is None or not target.startswith("lume."):
                continue
            owner = ".".join(parts[:private])
            if not (package == owner or package.startswith(owner + ".")):
                offences.append(f"{path}:{line}: {target}")
    assert offences == [], "import it from the package that owns it: " + "; ".join(offences)
