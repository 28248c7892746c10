"""Schemathesis over the service's own OpenAPI document, in process (ASGI): no server error, every
response matches its documented schema and status codes, schema-valid input is accepted and
invalid input rejected, and every /body-truth answer satisfies body_truth.v0."""
from __future__ import annotations

import schemathesis
from hypothesis import settings

from lume.runtime import core
from lume.runtime.bodytruth import frame_problems
from lume.runtime.bodytruth._service import BodyTruthService, create_app

# The service clock at the latest capture time body_truth_inputs.v0 accepts: no schema-valid
# timestamp is then ahead of the clock-skew allowance, so every schema-valid record is taken.
LATEST = core.body_truth_inputs().timestamps.max_timestamp_ms
APP = create_app(BodyTruthService(clock=lambda: LATEST), ticker=False)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=30)
def test_service_conforms_to_its_openapi(case):
    response = case.call_and_validate()
    if case.method == "GET" and case.path == "/body-truth" and response.status_code == 200:
        assert frame_problems(response.json()) == []
        assert "*" in str(response.headers.get("access-control-allow-origin"))
