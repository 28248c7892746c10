"""The 60 Hz publisher end to end on loopback, its drop policy, and the atomic heartbeat."""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import wave

import numpy as np
import pytest
from click.testing import CliRunner

import lume.runtime.lumf._publisher  # noqa: F401 - imported up front so the CLI starts at once
from lume.runtime.cli import main
from lume.runtime.lumf import FileSource, Ring, publish
from lume.runtime.lumf._inspector import Tally, bind, receive
from lume.runtime.lumf._publisher import Heartbeat, PublisherStats

pytestmark = pytest.mark.network
SR = 44100


def write_wav(path, seconds: float, sr: int = SR):
    t = np.arange(int(seconds * sr)) / sr
    y = 0.4 * np.sin(2 * np.pi * 440 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(sr)
        stereo = np.stack([y, 0.5 * y], axis=1)
        w.writeframes((stereo * 32767).astype("<i2").tobytes())
    return path


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inspector(threading.Thread):
    """Receives until told the sender is done and half a second passes without a datagram."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = bind("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.tally = Tally()
        self.results: list[dict] = []
        self.sender_done = threading.Event()

    def run(self):
        while True:
            got = [r for r, _ in receive(self.sock, timeout=0.5, tally=self.tally)]
            self.results += got
            if self.sender_done.is_set() and not got:
                break
        self.sock.close()

    def finish(self):
        self.sender_done.set()
        self.join()


def test_publish_a_wav_for_two_seconds_to_an_inspector_on_loopback(tmp_path):
    wav = write_wav(tmp_path / "tone.wav", seconds=3.0)
    heartbeat = tmp_path / "state" / "lumf-heartbeat.txt"
    inspector = Inspector()
    inspector.start()
    r = CliRunner().invoke(main, ["lumf", "publish", str(wav), "--address", f"127.0.0.1:{inspector.port}",
                                  "--duration", "2s", "--heartbeat", str(heartbeat), "--json"])
    inspector.finish()
    assert r.exit_code == 0, r.output
    stats = json.loads(r.output)
    tally = inspector.tally
    assert tally.packets == tally.valid, tally.as_dict()
    assert 100 <= tally.valid <= 130, (tally.as_dict(), stats)
    assert stats["sent"] >= tally.valid and stats["send_dropped"] == 0
    assert stats["ticks"] == stats["sent"] + stats["empty_ticks"] + stats["invalid_windows"]
    fields = inspector.results[-1]["fields"]
    assert 0.05 < fields["rms"] < 0.4 and 300 < fields["centroid"] < 700  # the 440 Hz tone
    assert stats["heartbeats"] >= 2
    assert abs(float(heartbeat.read_text()) - time.time()) < 60
    assert [p.name for p in heartbeat.parent.iterdir()] == [heartbeat.name]  # no temp left behind


def test_an_unreachable_target_drops_packets_and_never_holds_the_producer_back():
    samples = np.sin(np.arange(int(0.5 * SR)) * 0.05).astype(np.float32) * 0.3
    ring = Ring()
    source = FileSource(samples, SR, ring)
    stats = publish(source, ring, ("127.0.0.1", free_udp_port()))  # nobody listens there
    assert ring.head == len(samples)  # the producer delivered every sample
    assert stats.send_dropped > 0     # "port unreachable" surfaced and the packets were dropped
    assert stats.sent + stats.send_dropped + stats.empty_ticks == stats.ticks


def test_nan_samples_cost_their_window_only():
    samples = (np.sin(np.arange(int(0.4 * SR)) * 0.05) * 0.3).astype(np.float32)
    samples[SR // 10] = np.nan
    ring = Ring()
    inspector = Inspector()
    inspector.start()
    stats = publish(FileSource(samples, SR, ring), ring, ("127.0.0.1", inspector.port))
    inspector.finish()
    assert stats.invalid_windows >= 1
    assert inspector.tally.valid == stats.sent > 10 and inspector.tally.packets == stats.sent


def test_the_heartbeat_is_replaced_atomically_never_seen_half_written(tmp_path, monkeypatch):
    path = tmp_path / "hb.txt"
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        real_replace(src, dst)
        replaced.append((os.path.dirname(src), os.path.basename(src), str(dst)))

    monkeypatch.setattr(os, "replace", spy)
    beat = Heartbeat(path, lambda: True, PublisherStats(), interval=0.01)
    beat.start()
    seen = []
    deadline = time.monotonic() + 0.5
    try:
        while time.monotonic() < deadline:
            beats_before = len(replaced)
            try:
                seen.append(path.read_text())
            except FileNotFoundError:  # only before the first beat: a rename never removes it
                assert beats_before == 0
    finally:
        beat.stop()
    assert len(replaced) >= 5
    assert all(d == str(tmp_path) and b.startswith(".hb.txt.") and dst == str(path)
               for d, b, dst in replaced)  # a temp file in the same folder, renamed over
    assert seen and all(text.endswith("\n") and float(text) > 0 for text in seen)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hb.txt"]


def test_the_heartbeat_stops_when_the_publisher_is_gone(tmp_path):
    alive = threading.Event()
    alive.set()
    stats = PublisherStats()
    beat = Heartbeat(tmp_path / "hb.txt", alive.is_set, stats, interval=0.01)
    beat.start()
    while stats.heartbeats < 2:
        time.sleep(0.005)
    alive.clear()
    beat._thread.join(timeout=5)
    assert not beat._thread.is_alive()
    count = stats.heartbeats
    time.sleep(0.05)
    assert stats.heartbeats == count


def test_publish_defaults_to_the_lumf_target_of_the_machine_configuration(tmp_path, monkeypatch):
    from lume.runtime.core import get

    config = dict(get("machine_config.v1").examples[2])  # the loopback K11 example
    inspector = Inspector()
    config["lumf"] = {"host": "127.0.0.1", "port": inspector.port}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    monkeypatch.setenv("LUME_CONFIG", str(path))
    wav = write_wav(tmp_path / "short.wav", seconds=0.3)
    inspector.start()
    r = CliRunner().invoke(main, ["lumf", "publish", str(wav), "--json"])
    inspector.finish()
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["target"] == f"127.0.0.1:{inspector.port}"
    assert inspector.tally.valid == json.loads(r.output)["sent"] > 5


def test_an_unwritable_heartbeat_file_is_bad_input(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    wav = write_wav(tmp_path / "short.wav", seconds=0.2)
    r = CliRunner().invoke(main, ["lumf", "publish", str(wav), "--to", f"127.0.0.1:{free_udp_port()}",
                                  "--heartbeat", str(blocker / "hb.txt")])
    assert r.exit_code == 2 and "heartbeat" in r.output and "hb.txt" in r.output
