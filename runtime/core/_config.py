"""This installation's machine configuration (lume.machine_config.v1): the one loader.

Machine identity and local folders (signing keys, trust file) come from a configuration file,
never from guessing. `load_machine_config(path)` is the only reader: the file a `--config` flag
names, else the one `LUME_CONFIG` names, else `config.json` in the config home
(`$XDG_CONFIG_HOME/lume`, else `~/.config/lume`) when it exists, else none. The file is read by
`read_json` as a `machine_config` input (a regular file within input_limits.v1's limits) and validated against the contract;
a bad file is one InputError: `FILE: $.path: message [machine_config.v1] (and N more)`.
Relative paths inside it are relative to the file's folder.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lume.generated.constants import INPUT_MACHINE_CONFIG

from ._jsonl import InputError, read_json

ENV = "LUME_CONFIG"
CONTRACT = "machine_config.v1"


def config_home() -> Path:
    """`$XDG_CONFIG_HOME/lume`, else `~/.config/lume`: the one home of LUME's local files."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "lume"


def config_path(path: Path | None = None) -> Path | None:
    """The configuration file that applies: `path`, else `LUME_CONFIG`, else the default file
    when it exists, else None."""
    if path is not None:
        return Path(path).expanduser()
    named = os.environ.get(ENV)
    if named:
        return Path(named).expanduser()
    default = config_home() / "config.json"
    return default if default.is_file() else None


def load_machine_config(path: Path | None = None) -> dict[str, Any] | None:
    """The validated machine configuration, or None when none is configured.

    Raises InputError (naming the file and the contract) for a missing, unreadable or invalid
    file that `path` or `LUME_CONFIG` names.
    """
    chosen = config_path(path)
    if chosen is None:
        return None
    doc = read_json(chosen, INPUT_MACHINE_CONFIG)
    from ._contracts import get
    from ._validate import one_line, problems

    found = problems(doc, get(CONTRACT), file=str(chosen))
    if found:
        raise InputError(one_line(found))
    return doc


def config_dir_path(value: str) -> Path:
    """A path from the configuration, resolved against the configuration file's folder."""
    p = Path(value).expanduser()
    if p.is_absolute():
        return p
    path = config_path()
    return (path.parent if path else Path.cwd()) / p
