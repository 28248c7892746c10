"""Typed access to contracts: the generated model of a contract, and parsed rule tables."""
from __future__ import annotations

import functools
import importlib
from typing import Any

from pydantic import BaseModel

from ._contracts import Contract, get, meta_for


def model_for(key: str | Contract) -> type[BaseModel]:
    """The generated pydantic class of a document/record contract, or of a table's meta-schema."""
    c = key if isinstance(key, Contract) else get(key)
    source = meta_for(c) if c.kind == "table" else c
    module = importlib.import_module(f"lume.generated.models.{source.module}")
    return getattr(module, source.model_name)


@functools.cache
def table(key: str) -> Any:
    """A rule table parsed into its generated model (validated on the way in)."""
    c = get(key)
    if c.kind != "table":
        raise TypeError(f"{c.stem} is a {c.kind}, not a table")
    return model_for(c).model_validate(c.table_data())


def parse(key: str, data: Any) -> BaseModel:
    """Validate `data` against the contract's generated model and return the instance."""
    return model_for(key).model_validate(data)
