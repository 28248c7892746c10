"""The BodyTruth HTTP service: GET /body-truth always valid, intake, CORS, OpenAPI, recording, replay."""
from __future__ import annotations

import asyncio
import json
import time
import warnings

import httpx
import pytest
from bt_helpers import T0, obs

from lume.fixtures import load_scenario
from lume.runtime import core as contracts
from lume.runtime.bodytruth import frame_problems
from lume.runtime.bodytruth._replay import merged
from lume.runtime.bodytruth._service import BodyTruthService, create_app, default_port, serving

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


class Clock:
    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def client(clock):
    service = BodyTruthService(clock=clock)
    with TestClient(create_app(service, ticker=False)) as c:
        c.service = service
        yield c


def get_frame(client) -> dict:
    r = client.get("/body-truth")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.headers["access-control-allow-origin"] == "*"
    frame = r.json()
    assert frame_problems(frame) == [], frame
    return frame


def test_port_comes_from_machine_config():
    assert default_port() == 9405


def test_body_truth_before_any_observation_is_valid_and_absent(client):
    frame = get_frame(client)
    assert frame["mode"] == "absent" and frame["present"] is False and frame["timestamp"] == T0


def test_observations_one_or_many_change_the_truth(client, clock):
    r = client.post("/observations", json=obs(0, confidence=0.9, motion_energy=0.05))
    assert r.status_code == 200 and r.json() == {"accepted": 1}
    batch = [obs(0, "depth", confidence=0.8), obs(0, "k11_pose", confidence=0.85)]
    assert client.post("/observations", json=batch).json() == {"accepted": 2}
    clock.now += 40  # the cached frame is older than a tick: GET ticks again
    frame = get_frame(client)
    assert frame["present"] is True and frame["mode"] == "present_still"
    assert frame["authority"] == "rgb_depth_k11_pose"


def test_gestures_are_taken(client, clock):
    client.post("/observations", json=obs(0, confidence=0.9, motion_energy=0.05))
    clock.now += 40
    get_frame(client)
    r = client.post("/gestures", json={"timestamp_ms": T0 + 40, "source_id": "k11_webcam_pose",
                                        "machine": "K11", "label": "left_hand_raise", "confidence": 0.9,
                                        "deck": 1, "phase": "start"})
    assert r.json() == {"accepted": 1}
    clock.now += 40
    assert get_frame(client)["mode"] == "gesture_candidate"


def test_bad_input_is_422_naming_the_field_and_nothing_changes(client, clock):
    good = obs(0, confidence=0.9)
    r = client.post("/observations", json=[good, {**good, "confidence": "0.9"}])
    assert r.status_code == 422
    [problem] = r.json()["detail"]
    assert problem["loc"] == ["body", 1, "confidence"] and "body_observation.v1" in problem["msg"]
    r = client.post("/observations", json={**good, "hands": {"left": {"x": 2, "y": 0, "confidence": 1},
                                                             "right": None}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:3] == ["body", "hands", "left"]
    r = client.post("/observations", content=b'{"timestamp_ms": 1, "source": "rgb", "source_id": "a", '
                                             b'"present": true, "confidence": 0.5, '
                                             b'"center": {"x": NaN, "y": 0, "z": 0}}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert client.post("/observations", content=b"{not json", headers={"content-type": "application/json"}).status_code == 422
    assert client.post("/gestures", json={"label": "x"}).status_code == 422
    clock.now += 40
    assert get_frame(client)["mode"] == "absent"  # none of the rejected batches was applied


def test_cors_for_browsers(client):
    """Reads are open to every page; writes only to configured origins (test_bodytruth_hostile)."""
    simple = client.get("/body-truth", headers={"Origin": "http://obs.local"})
    assert simple.headers["access-control-allow-origin"] == "*"
    pre = client.options("/body-truth", headers={"Origin": "http://obs.local",
                                                 "Access-Control-Request-Method": "GET"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "*"
    pre = client.options("/observations", headers={"Origin": "http://obs.local",
                                                   "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers


def test_openapi_is_generated_from_the_models(client):
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {"/body-truth", "/observations", "/gestures"}  # no command route
    ok = spec["paths"]["/body-truth"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/LumeBodyTruth"}
    model = spec["components"]["schemas"]["LumeBodyTruth"]
    assert set(model["required"]) == set(contracts.get("body_truth.v0").raw["required"])
    assert "BodyObservation" in json.dumps(spec["paths"]["/observations"]["post"]["requestBody"])


def test_dyk_and_k11_read_the_same_truth(client, clock):
    client.post("/observations", json=obs(0, confidence=0.9))
    clock.now += 40
    dyk = client.get("/body-truth", headers={"Origin": "http://mac4.local:9415"})
    k11 = client.get("/body-truth")
    assert dyk.content == k11.content  # one published object per tick for every consumer
    frame = dyk.json()
    assert {"present", "confidence", "stillness", "burst", "tracking_lost"} <= frame.keys()  # DYK gating
    assert {"mode", "gesture_intent"} <= frame.keys()  # K11 gate


def test_recording_appends_every_emitted_frame(tmp_path, clock):
    out = tmp_path / "rec_take1.jsonl"
    service = BodyTruthService(clock=clock, record=out)
    service.fusion.observe(obs(0, confidence=0.9))
    for _ in range(3):
        service.tick()
        clock.now += 33
    service.close()
    service2 = BodyTruthService(clock=clock, record=out)  # a restart appends
    service2.tick()
    service2.close()
    frames = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(frames) == 4
    assert all(frame_problems(f) == [] for f in frames)
    assert {f["raw_ref"]["motion_record_id"] for f in frames} == {"rec_take1"}
    assert contracts.validate_file(out).ok


def test_replay_feeds_the_stream_onto_the_wall_clock(clock):
    observations, gestures = load_scenario("gesture_hold_release")
    service = BodyTruthService(clock=clock)

    async def run():
        await service.run_replay(merged(observations[:40], gestures[:3]), speed=1e9)

    start = clock.now
    asyncio.run(run())
    newest = max(h[-1].ts for h in service.fusion._history.values())
    span = observations[39]["timestamp_ms"] - observations[0]["timestamp_ms"]
    assert newest == start + span  # timestamps moved onto the wall clock
    clock.now = newest
    assert json.loads(service.current())["present"] is True


def test_real_server_with_ticker_and_recording(tmp_path):
    out = tmp_path / "frames.jsonl"
    service = BodyTruthService(record=out)
    with serving(create_app(service)) as base:
        with httpx.Client(base_url=base, timeout=5) as http:
            first = http.get("/body-truth")
            assert first.status_code == 200 and first.headers["access-control-allow-origin"] == "*"
            assert frame_problems(first.json()) == []
            now = first.json()["timestamp"]
            assert http.post("/observations", json={**obs(0, confidence=0.9), "timestamp_ms": now}).status_code == 200
            time.sleep(0.12)
            assert http.get("/body-truth").json()["present"] is True
    lines = out.read_text().splitlines()
    assert len(lines) >= 3  # the ticker emitted (and recorded) frames on its own
    assert all(frame_problems(json.loads(line)) == [] for line in lines)
