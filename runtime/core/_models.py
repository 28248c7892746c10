"""Typed access to contracts: the generated model of a contract, and parsed rule tables."""
from __future__ import annotations

import functools
import importlib
from typing import Any

from pydantic import TypeAdapter

from ._contracts import REGISTRY, Contract, get, meta_for


def model_for(key: str | Contract) -> Any:
    """The generated root of a document/record contract, or of a table's meta-schema: a pydantic
    class, or a type alias where the root is not an object (a list, a `oneOf` of frames)."""
    c = key if isinstance(key, Contract) else get(key)
    entry = REGISTRY.get(c.stem) if not c.is_meta else None
    if entry is not None:
        module_name, name = entry["module"], entry["model"]
    else:  # a meta-schema or a definitions file: not in the index
        source = meta_for(c) if c.kind == "table" else c
        module_name, name = source.module, source.model_name
    return getattr(importlib.import_module(f"lume.generated.models.{module_name}"), name)


@functools.cache
def _adapter(stem: str) -> TypeAdapter:
    return TypeAdapter(model_for(stem))


def parse(key: str | Contract, data: Any) -> Any:
    """Validate `data` against the contract's generated model and return the typed value."""
    c = key if isinstance(key, Contract) else get(key)
    return _adapter(c.stem).validate_python(data)


@functools.cache
def table(key: str) -> Any:
    """A rule table parsed into its generated model (validated on the way in)."""
    c = get(key)
    if c.kind != "table":
        raise TypeError(f"{c.stem} is a {c.kind}, not a table")
    return parse(c, c.table_data())
