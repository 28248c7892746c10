"""The scratch folder the AirDeck CLI tests work in: a self-play chain, its BodyTruth frames, a
signed manifest, configs, and what a mido socket port received."""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path

from airdeck_helpers import frames_for, held
from click.testing import CliRunner

from lume.runtime.airdeck import sign_manifest
from lume.runtime.cli import main
from lume.runtime.core import decode_statement, get, load_or_create_key, problems, trust

PLAY_D1 = b"\x90\x0b\x7f\x90\x0b\x00"


def now_ms() -> int:
    return int(time.time() * 1000)


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def config(machine="K11", can_command=True, midi_output=None) -> dict:
    doc = copy.deepcopy(get("machine_config.v1").examples[2])
    doc.update(machine=machine, can_command_rekordbox=can_command, midi_output=midi_output)
    assert problems(doc, get("machine_config.v1")) == []
    return doc


def manifest(labels=("left_hand_raise",)) -> dict:
    doc = copy.deepcopy(get("airdeck_promoted_gestures.v1").examples[0])
    doc["gestures"] = [g for g in doc["gestures"] if g["label"] in labels]
    return doc


def mixed(chain) -> list[dict]:
    return sorted(chain + frames_for(chain), key=lambda r: r.get("timestamp_ms", r.get("timestamp")))


class Work:
    """A scratch folder with a self-play chain, its BodyTruth frames, a signed manifest and configs.

    The dry run replays the recorded chain; a live run needs a stream that is happening now
    (SAFE-LIVE-NOW), written by `fresh()` just before it runs."""

    def __init__(self, root: Path, chain):
        self.root = root
        self.key = load_or_create_key()  # this machine's key (isolated per test), trusted
        trust(self.key.public_hex)
        self.events = write_jsonl(root / "selfplay.gestures.jsonl", chain)
        frames = frames_for(chain)
        self.frames = write_jsonl(root / "selfplay.bodytruth.jsonl", frames)
        self.stream = write_jsonl(root / "recorded.jsonl", mixed(chain))
        self.manifest = root / "promoted_gestures.json"
        self.write_manifest(manifest(sorted({e["label"] for e in chain})))
        self.report = root / "airdeck_dry_run_report.json"
        self.k11 = root / "k11.json"
        self.k11.write_text(json.dumps(config()))

    def write_manifest(self, doc: dict, *, signed: bool = True, key=None, evidence=()) -> dict:
        """The manifest file: a signed statement (as `lume promote --command` writes it) or bare."""
        self.manifest.write_text(json.dumps(sign_manifest(doc, list(evidence), key or self.key)
                                            if signed else doc))
        return doc

    def predicate(self) -> dict:
        """The dry-run report (its signed statement's predicate)."""
        return decode_statement(json.loads(self.report.read_text()))["predicate"]

    def fresh(self, label: str = "left_hand_raise", hold_ms: int = 500) -> Path:
        """A live stream happening now: the gesture held around the current time."""
        start = now_ms() - hold_ms // 2
        return write_jsonl(self.root / "live.jsonl", mixed(held(label, start, hold_ms)))

    def lume(self, *args, input=None, env=None):
        return CliRunner().invoke(main, [str(a) for a in args], input=input, env=env,
                                  catch_exceptions=False)

    def dry_run(self, *extra):
        return self.lume("airdeck", "replay", self.events, "--bodytruth", self.frames, "--promoted",
                         self.manifest, "-o", self.report, *extra)

    def live(self, port, *extra, events=None, label: str = "left_hand_raise"):
        return self.lume("airdeck", "run", "--live", "--midi", f"tcp://127.0.0.1:{port}",
                         "--config", self.k11, "--promoted", self.manifest, "--events",
                         events or self.fresh(label), "--log", self.root / "live.decisions.jsonl",
                         *extra)


def received(srv) -> bytes:
    conn = srv.accept(block=False)
    if conn is None:
        return b""
    conn._socket.settimeout(5)
    data = b""
    while chunk := conn._socket.recv(4096):
        data += chunk
    conn.close()
    return data
