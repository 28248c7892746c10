"""Lazy re-exports (PEP 562): a package names what it exports and from which private module;
each name is imported on first use, so a small command pays only for the modules it touches.
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, Iterable[str]], *, eager: Iterable[str] = ()
                 ) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """`__all__, __getattr__, __dir__` for `package`, whose `exports` maps a private module
    (`"_codec"`) to the names it defines; `eager` names are defined in the package itself."""
    where = {name: module for module, names in exports.items() for name in names}
    names = sorted({*where, *eager})

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # resolved once
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return names, __getattr__, __dir__
