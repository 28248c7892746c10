"""The `lume` command: one verb per job, each loaded only when it is used.

Verbs live in their own modules (`lume.runtime.cli.<module>`) so that `lume validate` never
pays for importing MediaPipe or a web server. A verb whose module is missing is not listed.
"""
from __future__ import annotations

import importlib
import importlib.util

import click

# verb -> "module:attribute" inside lume.runtime.cli
VERBS: dict[str, str] = {
    "contracts": "contracts_cmd:contracts",
    "validate": "validate_cmd:validate",
    "fixtures": "fixtures_cmd:fixtures",
    "index": "storage_cmd:index",
    "bundle": "storage_cmd:bundle",
    "bag": "bag_cmd:bag",
    "mac5": "mac5_cmd:mac5",
    "verify": "verify_cmd:verify",
    "keys": "keys_cmd:keys",
    "report": "report_cmd:report",
    "gate": "gate_cmd:gate",
    "bodytruth": "bodytruth_cmd:bodytruth",
    "pose": "pose_cmd:pose",
    "airdeck": "airdeck_cmd:airdeck",
    "lumf": "lumf_cmd:lumf",
    "san": "san_cmd:san",
    "director": "director_cmd:director",
    "labels": "labels_cmd:labels",
    "templates": "templates_cmd:templates",
    "promote": "templates_cmd:promote",
}


def _available(verb: str) -> bool:
    module = VERBS[verb].split(":")[0]
    return importlib.util.find_spec(f"{__name__}.{module}") is not None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(v for v in VERBS if _available(v))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in VERBS or not _available(name):
            return None
        module, attr = VERBS[name].split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lume")
def main() -> None:
    """LUME contracts: is the rig safe, and is the data sound?"""
