"""Fuzz of director frames against a real loopback bus (issue 18): random bytes and structured
mutations of the contract's own example frames, on an identified connection and on one that
has not identified yet. The server answers every frame within limits.reply_within_s, never
with anything but a contract-valid frame, counts each refusal by its code, and stays up."""
from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from director_harness import KEYS, OWN, Harness, Peer, trust
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from lume.runtime.core import get
from lume.runtime.director import _frames as frames
from lume.runtime.director._clock import FakeClock
from lume.runtime.director._server import BusServer, ServerThread

LIMIT = OWN.limits.reply_within_s
EXAMPLES = [e for e in get(frames.CONTRACT).examples if e["type"] in OWN.commands]
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


class Fuzzed:
    """A running bus (in memory: the frame path, not the disk) and the refusals it answered."""

    def __init__(self) -> None:
        self.server = BusServer(None, clock=FakeClock(), sweep=False, devices=trust())
        self.harness = Harness(self.server, ServerThread(self.server).start(), None)
        self.refused: Counter[str] = Counter()
        self.peer = self.harness.control("ios")
        self.anonymous = self._anonymous()

    def _anonymous(self) -> Peer:
        peer = self.harness.open(OWN.rules.control_path)
        peer.challenge()
        return peer

    def exchange(self, peer: Peer, payload: str | bytes) -> dict[str, Any]:
        """Send one frame; the reply (ack or error) must come within the contract's limit."""
        peer.ws.send(payload)
        reply = peer.recv_type("ack", "error", "kicked", timeout=LIMIT)
        if reply["type"] == "error":
            self.refused[reply["code"]] += 1
        return reply

    def close(self) -> None:
        self.harness.close()


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Fuzzed]:
    f = Fuzzed()
    yield f
    f.close()


json_values = hs.recursive(hs.none() | hs.booleans() | hs.integers() | hs.floats(allow_nan=False) | hs.text(),
                           lambda inner: hs.lists(inner, max_size=4) | hs.dictionaries(hs.text(max_size=8), inner,
                                                                                       max_size=4),
                           max_leaves=12)


@hs.composite
def mutated(draw: hs.DrawFn) -> dict[str, Any]:
    """A contract example frame with one structured mutation."""
    frame = copy.deepcopy(draw(hs.sampled_from(EXAMPLES)))
    how = draw(hs.sampled_from(["drop", "add", "retype", "nest", "long", "type"]))
    keys = [k for k in frame if k != "type"]
    if how == "drop" and keys:
        frame.pop(draw(hs.sampled_from(keys)))
    elif how == "add":
        frame[draw(hs.text(min_size=1, max_size=12))] = draw(json_values)
    elif how == "retype" and keys:
        frame[draw(hs.sampled_from(keys))] = draw(json_values)
    elif how == "nest":
        deep: Any = draw(json_values)
        for _ in range(draw(hs.integers(10, 400))):
            deep = {"payload": deep}
        frame[draw(hs.sampled_from(keys or ["cue"]))] = deep
    elif how == "long" and keys:
        frame[draw(hs.sampled_from(keys))] = "x" * draw(hs.integers(100, OWN.limits.max_frame_bytes // 2))
    elif how == "type":
        frame["type"] = draw(hs.sampled_from([*OWN.commands, *frames.definitions(), "", "Set_Cue", "🙂"]))
    return frame


def _check(fuzzed: Fuzzed, reply: dict[str, Any]) -> None:
    assert not frames.problems(reply), reply  # every answer is a frame of the contract
    assert reply["type"] != "kicked" or reply["reason"] == "identify_refused"


@SETTINGS
@given(data=hs.binary(max_size=2048))
def test_random_bytes_are_refused_within_the_limit(fuzzed: Fuzzed, data: bytes) -> None:
    reply = fuzzed.exchange(fuzzed.peer, data)  # a binary frame
    assert reply["code"] == "invalid_frame"
    reply = fuzzed.exchange(fuzzed.peer, data.decode("latin-1"))  # the same bytes as text
    _check(fuzzed, reply)


@SETTINGS
@given(frame=mutated())
def test_mutated_frames_from_an_identified_director(fuzzed: Fuzzed, frame: dict[str, Any]) -> None:
    text = json.dumps(frame)
    if len(text.encode()) > OWN.limits.max_frame_bytes:
        return  # closes the connection by design: test_director_limits
    _check(fuzzed, fuzzed.exchange(fuzzed.peer, text))


@SETTINGS
@given(frame=mutated(), sign=hs.booleans())
def test_mutated_frames_before_identify(fuzzed: Fuzzed, frame: dict[str, Any], sign: bool) -> None:
    if frame.get("type") == "identify" and sign:  # a real signature over a mutated answer
        frame = {**KEYS["ios"].identify("ios", {"nonce": "A" * 43, "server": fuzzed.server.public_key_text}),
                 **{k: v for k, v in frame.items() if k not in ("nonce", "signature")}}
    text = json.dumps(frame)
    if len(text.encode()) > OWN.limits.max_frame_bytes:
        return
    reply = fuzzed.exchange(fuzzed.anonymous, text)
    _check(fuzzed, reply)
    assert reply["type"] != "ack" and reply.get("code") != "internal_error"
    if reply["type"] == "kicked" or (reply["type"] == "error" and reply["code"] in (
            "unenrolled_device", "wrong_role", "bad_signature", "replayed_identify", "stale_challenge")):
        fuzzed.anonymous = fuzzed._anonymous()  # a refused answer spends the challenge


def test_the_bus_is_up_and_counted_every_refusal_by_its_code(fuzzed: Fuzzed) -> None:
    """Runs after the fuzz tests of this module (same bus) - on this worker: under pytest-xdist
    they may have run on another, so one refusal of its own is counted first."""
    assert fuzzed.exchange(fuzzed.peer, "{not json")["type"] == "error"
    stats = fuzzed.harness.stats()
    for code, seen in fuzzed.refused.items():
        assert stats["rejected"].get(code, 0) >= seen, (code, stats["rejected"])
    assert "internal_error" not in stats["rejected"]
    peer = fuzzed.harness.control("mac")  # a new director identifies and is served
    assert peer.command({"type": "set_session_phase", "phase": "live"})["type"] == "ack"
    assert fuzzed.peer.command({"type": "heartbeat"})["type"] == "ack"
