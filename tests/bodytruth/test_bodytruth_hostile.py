"""BodyTruth cannot be blinded, fed by any web page, or crashed (issue 18).

- a record timestamped beyond the clock-skew allowance is refused, so it cannot hide its source;
- writes are taken only as application/json (a browser must preflight), from configured origins
  or with the token; reads stay open;
- a body over the size limit is refused without being read whole, a deep body is a 422 (never a
  500), and a client that disconnects mid-body leaves no traceback;
- replay skips quiet gaps instead of ticking through them and refuses absurd timestamps.
Limits come from body_truth_inputs.v0. Fuzzed with hypothesis against a real uvicorn server:
the server stays up, answers every body with a 2xx or a documented 4xx, and counts each
refusal by reason.
"""
from __future__ import annotations

import json
import socket
import warnings

import httpx
import pytest
from bt_helpers import T0, obs
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from lume.runtime import core
from lume.runtime.bodytruth import WriteAccess, iter_replay, replay, summarize
from lume.runtime.bodytruth._service import BodyTruthService, create_app, serving
from lume.runtime.cli import main

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

LIMITS = core.body_truth_inputs()
SKEW = LIMITS.timestamps.future_skew_allowance_ms
MAX_BODY = LIMITS.http.max_body_bytes
TOKEN = "s3cret-token-0123456789"
PAGE = "http://mac4.local:9415"


class Clock:
    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def client_for(access: WriteAccess | None = None, clock: Clock | None = None) -> TestClient:
    service = BodyTruthService(clock=clock or Clock())
    c = TestClient(create_app(service, ticker=False, access=access))
    c.service = service
    return c


@pytest.fixture
def client():
    with client_for() as c:
        yield c


def present(c) -> bool:
    c.service.clock.now += 40
    return c.get("/body-truth").json()["present"]


# ------------------------------------------------------------------ future timestamps
def test_a_reading_a_year_ahead_is_refused_and_cannot_blind_its_source(client):
    year = 365 * 24 * 3600 * 1000
    r = client.post("/observations", json=obs(year, confidence=0.9))
    assert r.status_code == 422
    [problem] = r.json()["detail"]
    assert problem["loc"] == ["body", "timestamp_ms"] and "body_truth_inputs.v0" in problem["msg"]
    assert client.post("/observations", json=obs(40, confidence=0.9)).status_code == 200
    assert present(client)  # the real readings of that source still count
    assert client.service.rejected["contract_violation"] == 1


def test_clock_skew_within_the_allowance_is_taken(client):
    assert client.post("/observations", json=obs(SKEW, confidence=0.9)).status_code == 200
    r = client.post("/observations", json=[obs(0), obs(SKEW + 1)])
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["body", 1]


@pytest.mark.parametrize(("stamp", "taken"), [(T0 + 0.0, True), (1e300, False), (T0 + 0.5, False),
                                              (LIMITS.timestamps.max_timestamp_ms + 1, False)])
def test_capture_times_are_whole_sane_milliseconds(stamp, taken):
    with client_for(clock=Clock(LIMITS.timestamps.max_timestamp_ms)) as c:
        r = c.post("/observations", content=json.dumps({**obs(0), "timestamp_ms": stamp}),
                   headers={"content-type": "application/json"})
        assert (r.status_code == 200) is taken, r.text


# ------------------------------------------------------------------ who may write
@pytest.mark.parametrize("media", ["text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x", ""])
def test_a_write_is_taken_only_as_json(client, media):
    headers = {"content-type": media} if media else {}
    r = client.post("/observations", content=json.dumps(obs(0)), headers=headers)
    assert r.status_code == 415 and r.json()["detail"][0]["type"] == "media_type"
    assert "access-control-allow-origin" not in r.headers
    assert not present(client)


def test_json_with_a_charset_is_json(client):
    r = client.post("/observations", content=json.dumps(obs(0, confidence=0.9)),
                    headers={"content-type": "application/json; charset=utf-8"})
    assert r.status_code == 200


def test_a_page_from_an_unlisted_origin_may_not_write_but_may_read(client):
    r = client.post("/observations", json=obs(0, confidence=0.9), headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    pre = client.options("/gestures", headers={"Origin": "http://evil.example",
                                               "Access-Control-Request-Method": "POST",
                                               "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 403
    read = client.get("/body-truth", headers={"Origin": "http://evil.example"})
    assert read.status_code == 200 and read.headers["access-control-allow-origin"] == "*"
    assert not present(client)


def test_a_listed_origin_passes_its_preflight_and_writes():
    with client_for(WriteAccess(frozenset({PAGE}))) as c:
        pre = c.options("/observations", headers={"Origin": PAGE, "Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers": "content-type"})
        assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == PAGE
        assert "POST" in pre.headers["access-control-allow-methods"]
        r = c.post("/observations", json=obs(0, confidence=0.9), headers={"Origin": PAGE})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == PAGE
        assert present(c)


def test_with_a_token_configured_a_write_needs_it_or_a_listed_origin():
    with client_for(WriteAccess(frozenset({PAGE}), TOKEN)) as c:
        assert c.post("/observations", json=obs(0)).status_code == 401
        wrong = c.post("/observations", json=obs(0), headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert c.post("/observations", json=obs(0), headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert c.post("/observations", json=obs(0), headers={"Origin": PAGE}).status_code == 200
        assert c.post("/observations", json=obs(0), headers={"Origin": "http://x.example",
                                                             "Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert c.service.rejected["write_refused"] == 2


def test_the_token_comes_from_the_configuration(tmp_path):
    token = tmp_path / "bodytruth.token"
    token.write_text(TOKEN + "\n")
    config = {"bodytruth": {"host": "127.0.0.1", "write_origins": [PAGE + "/"], "write_token_file": str(token)}}
    access = WriteAccess.configure(config)
    assert access.origins == {PAGE} and access.token == TOKEN
    assert WriteAccess.configure(config, origins=("http://other:1",)).origins == {"http://other:1"}
    short = tmp_path / "short.token"
    short.write_text("abc")
    with pytest.raises(core.InputError, match="at least 16 characters"):
        WriteAccess.configure(None, token_file=short)


def test_serve_refuses_a_short_token_with_exit_2(tmp_path):
    short = tmp_path / "short.token"
    short.write_text("abc")
    result = CliRunner().invoke(main, ["bodytruth", "serve", "--token-file", str(short)])
    assert result.exit_code == 2 and "body_truth_inputs.v0" in result.output, result.output


@pytest.mark.parametrize("case", ["not-utf8", "whitespace-only", "empty", "two-words", "oversized-file",
                                  "over-the-line-limit"])
def test_serve_refuses_a_bad_token_file_with_one_line_and_exit_2(tmp_path, case):
    limit = core.input_limit("secret_token")
    data = {"not-utf8": b"\xff\xfe" + b"\x80" * 20, "whitespace-only": b" \t\r\n   \n", "empty": b"",
            "two-words": (TOKEN + " " + TOKEN).encode(), "oversized-file": b"x" * (limit.max_bytes + 1),
            "over-the-line-limit": b"x" * (limit.max_line_bytes + 1) + b"\n"}[case]
    bad = tmp_path / "bodytruth.token"
    bad.write_bytes(data)
    result = CliRunner().invoke(main, ["bodytruth", "serve", "--token-file", str(bad)])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert str(bad) in lines[0] and ("[body_truth_inputs.v0]" in lines[0] or "[input_limits.v1]" in lines[0])


@given(st.binary(max_size=1200))
def test_any_token_file_bytes_give_one_word_token_or_one_line_refusal(tmp_path_factory, data):
    from lume.runtime.bodytruth._access import read_token

    path = tmp_path_factory.mktemp("token") / "bodytruth.token"
    path.write_bytes(data)
    try:
        token = read_token(path)
    except core.InputError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc) and "[" in str(exc)
        return
    http = core.body_truth_inputs().http
    assert len(token) >= http.min_token_chars and not any(c.isspace() for c in token)
    assert len(token.encode()) <= core.input_limit("secret_token").max_line_bytes


def test_the_preflight_max_age_is_the_contracts(monkeypatch):
    """Access-Control-Max-Age comes from body_truth_inputs.v0 `http.preflight_max_age_s`."""
    from lume.runtime.bodytruth import _access

    shipped = core.body_truth_inputs().http.preflight_max_age_s
    assert shipped == 600
    headers = {"Origin": PAGE, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type"}
    with client_for(WriteAccess(frozenset({PAGE}))) as c:
        assert c.options("/observations", headers=headers).headers["access-control-max-age"] == str(shipped)
    real = core.body_truth_inputs()
    monkeypatch.setattr(_access, "body_truth_inputs", lambda: real.model_copy(
        update={"http": real.http.model_copy(update={"preflight_max_age_s": 5})}))
    with client_for(WriteAccess(frozenset({PAGE}))) as c:
        assert c.options("/observations", headers=headers).headers["access-control-max-age"] == "5"


# ------------------------------------------------------------------ how much
def test_a_body_over_the_limit_is_refused_by_its_length(client):
    r = client.post("/observations", content=b" " * (MAX_BODY + 1), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["detail"][0]["type"] == "body_too_large"


def test_a_chunked_body_over_the_limit_is_cut_off(client):
    def chunks():
        for _ in range(10 * MAX_BODY // 65536):
            yield b" " * 65536

    r = client.post("/observations", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert client.service.rejected["body_too_large"] == 1


@pytest.mark.parametrize("depth", [LIMITS.http.max_json_depth + 1, 5000, 200_000])
def test_a_deep_body_is_a_422_never_a_500(client, depth):
    r = client.post("/observations", content=b"[" * depth + b"]" * depth,
                    headers={"content-type": "application/json"})
    assert r.status_code in (413, 422) and r.json()["detail"][0]["type"] in (
        "json_too_deep", "json_invalid", "body_too_large")


# ------------------------------------------------------------------ a real server
@pytest.fixture(scope="module")
def server():
    service = BodyTruthService()
    with serving(create_app(service, ticker=False)) as base:
        yield base, service


def _raw_post(base: str, head_length: int, body: bytes) -> None:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /observations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  + f"Content-Length: {head_length}\r\n\r\n".encode() + body)


def test_a_client_that_disconnects_mid_body_leaves_no_traceback(server, capfd):
    base, service = server
    before = service.rejected["client_disconnected"]
    for _ in range(3):
        _raw_post(base, 100_000, b'[{"timestamp_ms": 1')
    with httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/body-truth").status_code == 200  # still serving
        for _ in range(50):  # the server notices each disconnect on its own loop
            if service.rejected["client_disconnected"] - before == 3:
                break
            http.get("/body-truth")
    assert service.rejected["client_disconnected"] - before == 3
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception in ASGI application" not in err, err


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                    max_leaves=20)


@st.composite
def mutated_observations(draw):
    record = dict(draw(st.sampled_from(core.get("body_observation.v1").examples)))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(record) + ["extra"]))
        record[key] = draw(JSON | st.sampled_from([1e300, -1, 2**70, T0 * 1000, "0"]))
    return json.dumps(draw(st.sampled_from([record, [record], [[record]]]))).encode()


@given(st.one_of(st.binary(max_size=300), mutated_observations(),
                 st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n)))
def test_a_real_server_answers_every_body_with_a_documented_status_and_counts_it(server, body):
    base, service = server
    before = sum(service.rejected.values())
    with httpx.Client(base_url=base, timeout=30) as http:
        r = http.post("/observations", content=body, headers={"content-type": "application/json"})
        assert r.status_code in (200, 413, 422), r.text
        assert (sum(service.rejected.values()) - before) == (r.status_code != 200)
        assert http.get("/body-truth").status_code == 200


# ------------------------------------------------------------------ replay
def test_replay_skips_a_quiet_gap_instead_of_ticking_through_it():
    far = [obs(0, confidence=0.9), {**obs(0, confidence=0.9), "timestamp_ms": 1779639380013}]
    far[0]["timestamp_ms"] = 0
    frames = list(iter_replay(far))
    assert len(frames) < 500  # two readings; ticking through would be 54 billion frames
    assert frames[-1]["mode"] == "absent"
    summary = summarize(frames, tick_ms=33)
    assert summary["skipped_ms"] > 1779639380013 - 10_000


def test_skipping_changes_no_frame_that_is_emitted():
    gap = 20_000
    stream = [obs(t, confidence=0.9) for t in range(0, 600, 33)]
    stream += [obs(gap + t, confidence=0.9) for t in range(0, 600, 33)]
    skipped = {f["timestamp"]: f for f in iter_replay(stream)}
    ticked = {}
    from lume.runtime.bodytruth import Fusion

    fusion, i, now = Fusion(), 0, stream[0]["timestamp_ms"]
    while now <= stream[-1]["timestamp_ms"] + 2033:  # the naive replay, every tick
        while i < len(stream) and stream[i]["timestamp_ms"] <= now:
            fusion.observe(stream[i])
            i += 1
        ticked[now] = fusion.tick(now)
        now += 33
    assert len(skipped) < len(ticked) / 3
    assert all(ticked[t] == f for t, f in skipped.items())


def test_replay_cli_refuses_absurd_timestamps_with_one_line(tmp_path):
    f = tmp_path / "bad.obs.jsonl"
    f.write_text(json.dumps(obs(0)) + "\n" + json.dumps({**obs(33), "timestamp_ms": 1e300}) + "\n")
    result = CliRunner().invoke(main, ["bodytruth", "replay", str(f)])
    assert result.exit_code == 2, result.output
    assert "bad.obs.jsonl:2: $.timestamp_ms" in result.output and "body_truth_inputs.v0" in result.output


def test_replay_cli_over_a_huge_span_finishes(tmp_path):
    f = tmp_path / "span.obs.jsonl"
    f.write_text(json.dumps({**obs(0), "timestamp_ms": 0}) + "\n"
                 + json.dumps({**obs(0), "timestamp_ms": 1779639380013}) + "\n")
    result = CliRunner().invoke(main, ["bodytruth", "replay", "--json", str(f)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["frames"] < 500


def test_replay_of_a_fifo_is_refused(tmp_path):
    import os

    if not hasattr(os, "mkfifo"):
        pytest.skip("FIFOs need a POSIX system")
    fifo = tmp_path / "live.obs.jsonl"
    os.mkfifo(fifo)
    from hostile_helpers import returns_promptly

    result = returns_promptly(CliRunner().invoke, main, ["bodytruth", "replay", str(fifo)])
    assert result.exit_code == 2 and "not a regular file" in result.output


def test_replay_function_still_matches_the_scenarios():
    from lume.fixtures import load_scenario

    o, g = load_scenario("gesture_hold_release")
    assert [f["mode"] for f in replay(o, g)] == [f["mode"] for f in iter_replay(o, g)]
