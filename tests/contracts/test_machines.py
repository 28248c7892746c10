"""Mac3 is a machine of the rig only as a source adapter, never a command authority (seed 000)."""
from __future__ import annotations

import copy

from lume.generated.constants import MAC3, MACHINES, SAFE_LIVE_SOURCE_FILTER, SAFE_NEVER_COMMAND
from lume.runtime.core import get, parameters, problems


def test_mac3_is_a_machine_that_never_commands() -> None:
    assert MAC3 == "Mac3" and MAC3 in MACHINES
    assert MAC3 in parameters(SAFE_NEVER_COMMAND)["machines"]
    assert MAC3 in parameters(SAFE_LIVE_SOURCE_FILTER)["rejected_machines"]


def test_mac3_may_add_a_source_to_a_bundle() -> None:
    bundle = copy.deepcopy(get("rehearsal_bundle.v1").examples[1])
    bundle["sources"].append({"source_id": "mac3_camera", "source_type": "phone_stream", "machine": "Mac3",
                              "path": "sources/phones/iphone_left", "status": "complete",
                              "timebase": "unix_millis"})
    assert problems(bundle, get("rehearsal_bundle.v1")) == []


def test_a_mac3_configuration_may_not_command_rekordbox() -> None:
    config = dict(get("machine_config.v1").examples[1], machine="Mac3")
    assert problems(config, get("machine_config.v1")) == []
    claims = dict(config, can_command_rekordbox=True)
    assert [p.path for p in problems(claims, get("machine_config.v1"))] == ["$.can_command_rekordbox"]
