"""Read YAML input files (not contracts: those are ours, read by contracts.py) the bounded way.

A YAML document given on the command line (deck zones, a sled constant set, a claims file) is
opened through `read_input` as a `yaml_document` (input_limits.v1: a regular file within its
size limit) and parsed safely: libyaml's loader where present, which refuses deep nesting
itself; the pure-Python loader otherwise, whose RecursionError becomes the same one-line
InputError.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ._files import InputError, read_input

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def loads_yaml(text: str, *, file: str = "<memory>") -> Any:
    """Safely parsed YAML; InputError naming `file` for bad or too deeply nested YAML."""
    try:
        return yaml.load(text, Loader=_LOADER)  # a safe loader (CSafeLoader or SafeLoader)
    except yaml.YAMLError as exc:
        raise InputError(f"{file}: not valid YAML: {' '.join(str(exc).split())}") from exc
    except RecursionError:
        raise InputError(f"{file}: YAML nested too deep to read") from None


def read_text(path: Path | str, kind: str | None = None) -> str:
    """The UTF-8 text of a bounded input file (a BOM is dropped); `kind` defaults to
    `yaml_document`."""
    if kind is None:  # looked up late: codegen imports core before it writes the constants
        from lume.generated.constants import INPUT_YAML_DOCUMENT as kind
    try:
        return read_input(path, kind).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def read_yaml(path: Path | str, kind: str | None = None) -> Any:
    """The parsed YAML document at `path` (see `read_text`, `loads_yaml`)."""
    return loads_yaml(read_text(path, kind), file=str(path))
