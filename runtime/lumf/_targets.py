"""Where `lume lumf publish` sends when no address is given: the machine configuration's target."""
from __future__ import annotations

from lume.runtime.core import InputError, load_machine_config


def configured_target(default_port: int) -> tuple[str, int]:
    """(host, port) of the configuration's `lumf` block; InputError when none is configured."""
    config = load_machine_config()
    if config is None:
        raise InputError("give --address HOST[:PORT] (no machine configuration names a LUMF target)")
    target = config["lumf"]
    return target["host"], int(target.get("port", default_port))
