"""The `lume` command: one verb per job, each loaded only when it is used.

Verbs live in their own private modules (`lume.runtime.cli._<verb>`) so that `lume validate` never
pays for importing MediaPipe or a web server. A verb whose module is missing is not listed.
A verb module parses options and calls a component; it reads no contract at import time. Shared
options live in `_options`, the exit-code and error policy in `_errors`, output in `_output`.
"""
from __future__ import annotations

import importlib
import importlib.util

import click

from ._errors import LumeGroup
from ._output import set_verbose

# verb -> "module:attribute" inside lume.runtime.cli
VERBS: dict[str, str] = {
    "contracts": "_contracts:contracts",
    "validate": "_validate:validate",
    "fixtures": "_fixtures:fixtures",
    "index": "_storage:index",
    "bundle": "_storage:bundle",
    "bag": "_bag:bag",
    "mac5": "_mac5:mac5",
    "verify": "_verify:verify",
    "keys": "_keys:keys",
    "report": "_report:report",
    "gate": "_gate:gate",
    "bodytruth": "_bodytruth:bodytruth",
    "pose": "_pose:pose",
    "airdeck": "_airdeck:airdeck",
    "lumf": "_lumf:lumf",
    "san": "_san:san",
    "director": "_director:director",
    "labels": "_labels:labels",
    "templates": "_templates:templates",
    "promote": "_templates:promote",
    "training": "_training:training",
    "models": "_models:models",
    "claims": "_claims:claims",
    "sled": "_sled:sled",
    "sim": "_sim:sim",
}


def _available(verb: str) -> bool:
    module = VERBS[verb].split(":")[0]
    return importlib.util.find_spec(f"{__name__}.{module}") is not None


class LazyGroup(LumeGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(v for v in VERBS if _available(v))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in VERBS or not _available(name):
            return None
        module, attr = VERBS[name].split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lume")
@click.option("-v", "--verbose", is_flag=True,
              help="Show third-party log output (MediaPipe, TensorFlow Lite, uvicorn, …).")
def main(verbose: bool) -> None:
    """LUME contracts: is the rig safe, and is the data sound?

    Exit codes: 0 all good, 1 a check failed or something was refused, 2 bad input or usage.
    """
    from lume.runtime.core import skip_final_collection  # noqa: PLC0415 - the CLI imports core lazily

    set_verbose(verbose)
    skip_final_collection()  # a verb's heap is not collected at exit, only handed back
