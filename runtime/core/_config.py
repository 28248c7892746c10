"""This installation's machine configuration (lume.machine_config.v1), if one is configured.

Machine identity and local folders (signing keys, trust file) come from a configuration file,
never from guessing: `LUME_CONFIG` names it, else `~/.config/lume/config.json` is used when it
exists. Relative paths inside it are relative to the file's folder.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._jsonl import InputError, read_json

ENV = "LUME_CONFIG"


def config_home() -> Path:
    """`$XDG_CONFIG_HOME/lume`, else `~/.config/lume`."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "lume"


def config_path() -> Path | None:
    named = os.environ.get(ENV)
    if named:
        return Path(named).expanduser()
    default = config_home() / "config.json"
    return default if default.is_file() else None


def load_config() -> dict[str, Any] | None:
    """The validated machine configuration, or None when none is configured.

    Raises InputError (naming the file and the contract) for a missing or invalid file that
    `LUME_CONFIG` points at.
    """
    path = config_path()
    if path is None:
        return None
    doc = read_json(path)
    from ._contracts import get
    from ._validate import problems

    contract = get("machine_config.v1")
    found = problems(doc, contract, file=str(path))
    if found:
        raise InputError("; ".join(str(p) for p in found))
    return doc


def config_dir_path(value: str) -> Path:
    """A path from the configuration, resolved against the configuration file's folder."""
    p = Path(value).expanduser()
    if p.is_absolute():
        return p
    path = config_path()
    return (path.parent if path else Path.cwd()) / p
