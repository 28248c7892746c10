"""`lume lumf features | publish | inspect`: outputs, exit codes and bad input."""
from __future__ import annotations

import json
import socket
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from lume_testpaths import real_media

from lume.generated import lumf_layout as L
from lume.runtime.cli import main
from lume.runtime.core import get, validate_file
from lume.runtime.lumf._audio import read_audio, read_wav

GOLDEN = get("lumf_golden.v1").table_data()
RECORD = get("lumf_features_record.v1").raw


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def write_wav(path, samples: np.ndarray, sr: int = 44100, width: int = 2):
    scale = {1: 127, 2: 32767, 4: 2147483647}[width]
    ints = np.round(samples * scale).astype({1: np.int16, 2: "<i2", 4: "<i4"}[width])
    if width == 1:
        ints = (ints + 128).astype(np.uint8)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(sr)
        w.writeframes(ints.tobytes())
    return path


def tone(seconds: float, sr: int = 44100, freq: float = 440.0) -> np.ndarray:
    return 0.5 * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)


# --- features -------------------------------------------------------------------------------
def test_features_writes_one_valid_record_per_window(tmp_path):
    wav = write_wav(tmp_path / "tone.wav", tone(0.5))
    out = tmp_path / "tone.lumf.jsonl"
    r = run("lumf", "features", str(wav), "--out", str(out), "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["windows"] == 22050 // 735 == 30 and summary["window_samples"] == 735
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 30 and [x["index"] for x in lines] == list(range(30))
    assert lines[1]["start_sample"] == 735 and lines[0]["onset"] == 1.0
    assert all(abs(x["centroid"] - 440) < 40 for x in lines)
    checked = validate_file(out)
    assert checked.ok and checked.contract == "lumf_features_record.v1", checked


def test_features_of_the_real_music_and_a_48k_file(tmp_path):
    music = real_media("audio", "admiralbob77_-_Choice_-_Drum-bass.hq.ogg")
    r = run("lumf", "features", str(music), "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert s["sample_rate_hz"] == 44100 and s["windows"] == int(25.02 * 60)
    assert 0.0 < s["mean"]["rms"] < s["max"]["rms"] <= 1.0
    wav48 = write_wav(tmp_path / "48k.wav", tone(0.2, 48000), sr=48000)
    r = run("lumf", "features", str(wav48), "--json")
    assert r.exit_code == 0 and json.loads(r.output)["window_samples"] == 800


def test_the_record_contract_repeats_the_layout_ranges():
    props = RECORD["properties"]
    for name, _off, _typ, count, _unit, lo, hi in L.FIELDS:
        if name not in L.VALUE_FIELDS:
            continue
        p = props[name] if count == 1 else props[name]["items"]
        assert (p["minimum"], p["maximum"]) == (lo, hi), name
        if count > 1:
            assert props[name]["minItems"] == props[name]["maxItems"] == count


@pytest.mark.parametrize("width", [1, 2, 4])
def test_stdlib_wav_reader_agrees_with_soundfile(tmp_path, width):
    wav = write_wav(tmp_path / f"w{width}.wav", tone(0.05), width=width)
    a, sr_a = read_wav(wav)
    b, sr_b = read_audio(wav)
    assert sr_a == sr_b == 44100
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_features_bad_input_exits_2_naming_the_problem(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF nonsense")
    r = run("lumf", "features", str(junk))
    assert r.exit_code == 2 and "junk.wav" in r.output

    low = write_wav(tmp_path / "low.wav", tone(0.2, 22050), sr=22050)
    r = run("lumf", "features", str(low))
    assert r.exit_code == 2 and "22050" in r.output and "resample" in r.output

    short = write_wav(tmp_path / "short.wav", tone(0.01))
    r = run("lumf", "features", str(short))
    assert r.exit_code == 2 and "shorter than one 735-sample window" in r.output

    import soundfile as sf

    nan = tone(0.1)
    nan[800] = np.nan
    sf.write(str(tmp_path / "nan.wav"), nan, 44100, subtype="FLOAT")
    r = run("lumf", "features", str(tmp_path / "nan.wav"), "--out", str(tmp_path / "x.lumf.jsonl"))
    assert r.exit_code == 2 and "window 1" in r.output and "NaN" in r.output
    assert not (tmp_path / "x.lumf.jsonl").exists()  # nothing written


# --- publish (argument errors only; the loopback run is in test_lumf_publisher.py) ----------
def test_publish_without_an_audio_device_exits_2_clearly():
    r = run("lumf", "publish", "--input-device", "0", "--to", "127.0.0.1:9")
    assert r.exit_code == 2
    assert "audio input" in r.output


def test_publish_argument_errors_exit_2(tmp_path, monkeypatch):
    wav = write_wav(tmp_path / "t.wav", tone(0.1))
    assert run("lumf", "publish").exit_code == 2
    r = run("lumf", "publish", str(wav), "--input-device", "1", "--to", "127.0.0.1")
    assert r.exit_code == 2 and "exactly one" in r.output
    r = run("lumf", "publish", str(wav), "--to", "127.0.0.1:99999")
    assert r.exit_code == 2 and "99999" in r.output
    monkeypatch.setenv("LUME_CONFIG", str(tmp_path / "missing.json"))
    r = run("lumf", "publish", str(wav))
    assert r.exit_code == 2 and "missing.json" in r.output


# --- inspect --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_inspect_json_reports_each_packet_and_counts_rejects(tmp_path):
    valid = [bytes.fromhex(p["hex"]) for p in GOLDEN["packets"][:3]]
    invalid = [bytes.fromhex(p["hex"]) for p in GOLDEN["invalid_packets"]]
    port = free_port()
    holder = {}
    t = threading.Thread(target=lambda: holder.update(r=run(
        "lumf", "inspect", "--listen", f"127.0.0.1:{port}", "--count", str(len(valid + invalid)),
        "--timeout", "10s", "--json")))
    t.start()
    wait_until_bound(port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for d in valid + invalid:
            s.sendto(d, ("127.0.0.1", port))
    t.join()
    r = holder["r"]
    assert r.exit_code == 1, r.output  # rejects make the check fail
    lines = [json.loads(x) for x in r.output.splitlines()]
    per_packet, summary = lines[:-1], lines[-1]["summary"]
    assert [x["valid"] for x in per_packet] == [True] * 3 + [False] * len(invalid)
    assert per_packet[2]["fields"] == GOLDEN["packets"][2]["fields"]
    assert [x["reason"] for x in per_packet[3:]] == [p["reason"] for p in GOLDEN["invalid_packets"]]
    assert summary["packets"] == len(valid + invalid) and summary["valid"] == 3
    expected = {reason: sum(p["reason"] == reason for p in GOLDEN["invalid_packets"])
                for reason in L.REJECT_REASONS}
    assert summary["rejected_by_reason"] == expected


def test_inspect_all_valid_exits_0_and_prints_values():
    port = free_port()
    holder = {}
    t = threading.Thread(target=lambda: holder.update(r=run(
        "lumf", "inspect", "--listen", f"127.0.0.1:{port}", "--count", "2", "--timeout", "10s")))
    t.start()
    wait_until_bound(port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for p in GOLDEN["packets"][2:4]:
            s.sendto(bytes.fromhex(p["hex"]), ("127.0.0.1", port))
    t.join()
    r = holder["r"]
    assert r.exit_code == 0, r.output
    assert "rms 1" in r.output and "centroid 2.205e+04" in r.output and "2 valid" in r.output


def test_inspect_timeout_without_packets_fails_and_bad_listen_exits_2():
    r = run("lumf", "inspect", "--listen", f"127.0.0.1:{free_port()}", "--timeout", "200ms", "--json")
    assert r.exit_code == 1 and json.loads(r.output)["summary"]["packets"] == 0
    assert run("lumf", "inspect", "--listen", "127.0.0.1:notaport").exit_code == 2


def wait_until_bound(port: int, timeout: float = 20.0) -> None:
    """Wait until something listens on udp://127.0.0.1:port, read from /proc/net/udp so that
    neither a probe datagram nor a competing bind() can disturb the inspector."""
    table = Path("/proc/net/udp")
    if not table.exists():
        pytest.skip("needs /proc/net/udp to see when the inspector listens")
    wanted = f"0100007F:{port:04X}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(line.split()[1] == wanted for line in table.read_text().splitlines()[1:]):
            return
        time.sleep(0.01)
    raise AssertionError(f"nothing bound udp port {port}")


@pytest.mark.parametrize(("text", "want"), [
    ("mac4.local", ("mac4.local", 9701)), ("127.0.0.1:9999", ("127.0.0.1", 9999)),
    ("[::1]:9702", ("::1", 9702)), ("[::1]", ("::1", 9701)), ("::1", ("::1", 9701)),
])
def test_endpoints_parse_with_the_contract_port_as_default(text, want):
    from lume.runtime.lumf._endpoint import parse_endpoint

    assert parse_endpoint(text, L.PORT) == want


@pytest.mark.parametrize("text", ["", ":9701", "host:port", "host:70000", "[::1", "[::1]9701"])
def test_bad_endpoints_are_refused(text):
    from lume.runtime.lumf._endpoint import parse_endpoint

    with pytest.raises(ValueError):
        parse_endpoint(text, L.PORT)
