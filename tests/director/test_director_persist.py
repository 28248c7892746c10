"""Persistence: every version on disk, restart recovery, the 24 h rule, torn writes, kill -9."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from director_harness import KEYS, OWN, TIMEOUT, serve_subprocess
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from lume.runtime.core import rfc3339
from lume.runtime.director import _consent as consent
from lume.runtime.director import _state as st
from lume.runtime.director._bus import Bus
from lume.runtime.director._clock import FakeClock
from lume.runtime.director._persist import EXPIRED, StateStore

MAX_AGE = timedelta(hours=OWN.rules.state_max_age_h)


def cue(n: int) -> dict:
    return {"id": f"cue-{n}", "kind": "advance", "payload": {"n": n}}


def run_commands(folder: Path, clock: FakeClock, n: int) -> Bus:
    store = StateStore(folder, clock=clock)
    doc, _ = store.load()
    bus = Bus(doc, clock=clock, signer=consent.ConsentSigner.load_or_create(folder), on_commit=store.write)
    bus.store = store  # type: ignore[attr-defined]
    bus.admit("ios", "ios-1")
    for i in range(n):
        assert bus.handle("ios", {"type": "set_cue", "cue": cue(i)}).accepted
    return bus


def test_every_version_is_written_and_the_last_n_kept(tmp_path: Path) -> None:
    clock = FakeClock()
    extra = 20
    keep = OWN.rules.persisted_versions_keep
    bus = run_commands(tmp_path, clock, keep + extra)
    bus.store.flush()  # rotation runs beside the apply path
    names = sorted(p.name for p in (tmp_path / "versions").iterdir())
    assert len(names) == keep  # the in-memory bus commits one version a batch
    assert names[0] == f"{bus.version - keep + 1:012d}-{bus.version - keep + 1:012d}.jsonl"
    assert names[-1] == f"{bus.version:012d}-{bus.version:012d}.jsonl"
    for name in names[-3:]:
        doc = st.check(json.loads((tmp_path / "versions" / name).read_text()))
        assert doc["version"] == int(name[:12])


def test_a_batch_is_one_file_and_rotation_keeps_whole_batches(tmp_path: Path) -> None:
    clock = FakeClock()
    keep = OWN.rules.persisted_versions_keep
    bus = run_commands(tmp_path, clock, 1)
    store: StateStore = bus.store  # type: ignore[attr-defined]
    docs = []
    for i in range(2, keep + 40):
        bus.handle("ios", {"type": "set_cue", "cue": cue(i)})  # on_commit writes it alone
        docs.append((bus.version, bus.state_bytes))
    store.write_batch(docs[-30:])  # the same versions again, as one group
    store.flush()
    latest = (tmp_path / "versions" / f"{docs[-30][0]:012d}-{docs[-1][0]:012d}.jsonl")
    lines = latest.read_bytes().splitlines()
    assert [json.loads(x)["version"] for x in lines] == [v for v, _ in docs[-30:]]
    assert store.versions()[-1] == bus.version and len(store.versions()) >= keep
    assert StateStore(tmp_path, clock=clock).load()[0] == bus.state


def test_restart_resumes_the_last_state_and_continues_the_versions(start_bus, tmp_path: Path) -> None:
    clock = FakeClock()
    first = start_bus(tmp_path / "state", clock=clock)
    mac, ios = first.control("mac"), first.control("ios")
    mac.command({"type": "set_session_phase", "phase": "live"})
    ios.command({"type": "set_cue", "cue": cue(1)})
    mac.command({"type": "propose_consent", "scope": ["frame_capture"]})
    mac.command({"type": "ack_consent"})
    ios.command({"type": "ack_consent"})
    before = first.state()
    first.close()
    clock.advance(60)
    second = start_bus(tmp_path / "state", clock=clock)
    assert second.server.load_report is not None and second.server.load_report.source == "loaded"
    assert second.state() == before
    assert consent.verify(second.state(), second.server.public_key_text)  # same key after restart
    watcher = second.watcher()
    reply = second.control("ios").command({"type": "set_cue", "cue": cue(2)})
    assert reply["type"] == "ack" and reply["version"] > before["version"]
    assert watcher.recv_type("state")["state"]["version"] == before["version"] + 1


def test_restored_roles_expire_unless_they_come_back(tmp_path: Path) -> None:
    clock = FakeClock()
    store = StateStore(tmp_path, clock=clock)
    doc, _ = store.load()
    bus = Bus(doc, clock=clock, on_commit=store.write)
    bus.admit("mac", "mac-1"), bus.admit("ipad", "ipad-1")
    reloaded, _ = StateStore(tmp_path, clock=clock).load()
    again = Bus(reloaded, clock=clock)
    assert again.state["telemetry"]["active_directors"] == ["mac", "ipad"]
    clock.advance(OWN.rules.heartbeat_timeout_s - 0.5)
    again.admit("ipad", "ipad-1")  # it comes back (identifies again)
    clock.advance(0.5)
    assert again.tick() is not None
    assert again.state["telemetry"]["active_directors"] == ["ipad"]


@pytest.mark.parametrize(("age", "source"), [(MAX_AGE - timedelta(seconds=1), "loaded"),
                                             (MAX_AGE + timedelta(seconds=1), "stale")])
def test_state_older_than_the_limit_starts_fresh(tmp_path: Path, age: timedelta, source: str) -> None:
    clock = FakeClock()
    bus = run_commands(tmp_path, clock, 5)
    old = bus.state
    clock.advance(age.total_seconds())
    doc, report = StateStore(tmp_path, clock=clock).load()
    assert report.source == source
    if source == "loaded":
        assert doc == old
        return
    assert doc["version"] == 0 and doc["cue"]["history"] == [] and doc["updated_at"] == rfc3339(clock.now())
    # yesterday's versions are kept aside for forensics, today's start at 0
    assert max(p.name for p in (tmp_path / EXPIRED).iterdir()).endswith(f"-{old['version']:012d}.jsonl")
    assert [p.name for p in (tmp_path / "versions").iterdir()] == [f"{0:012d}-{0:012d}.jsonl"]
    assert StateStore(tmp_path, clock=clock).load()[1].source == "loaded"


def test_a_torn_temp_file_is_ignored_and_removed(tmp_path: Path) -> None:
    clock = FakeClock()
    bus = run_commands(tmp_path, clock, 3)
    full = json.dumps(st.write(bus.state, "version", 4))
    torn = tmp_path / "versions" / f".{4:012d}-{4:012d}.jsonl.k1ll3d.tmp"
    torn.write_text(full[: len(full) // 2])
    doc, report = StateStore(tmp_path, clock=clock).load()
    assert doc == bus.state and report.source == "loaded"
    assert report.removed_temp == [torn.name] and not torn.exists()


def test_a_write_killed_before_the_rename_leaves_the_previous_version(tmp_path: Path, monkeypatch) -> None:
    clock = FakeClock()
    bus = run_commands(tmp_path, clock, 3)
    before = bus.state

    def die(src, dst):  # the process dies between fsync and rename
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(os, "replace", die)
    with pytest.raises(KeyboardInterrupt):
        nxt = st.write(before, "version", before["version"] + 1)
        bus.on_commit(nxt, json.dumps(nxt).encode())  # type: ignore[misc]
    monkeypatch.undo()
    doc, report = StateStore(tmp_path, clock=clock).load()
    assert doc == before and report.version == before["version"]


def test_an_unreadable_newest_version_falls_back_to_the_previous(tmp_path: Path) -> None:
    clock = FakeClock()
    bus = run_commands(tmp_path, clock, 4)
    newest = tmp_path / "versions" / f"{bus.version:012d}-{bus.version:012d}.jsonl"
    newest.write_text(newest.read_text()[:50])  # a disk that lied about fsync
    invalid = tmp_path / "versions" / f"{bus.version + 1:012d}-{bus.version + 1:012d}.jsonl"
    invalid.write_text(json.dumps({**bus.state, "version": bus.version + 1, "session": {"phase": "x"}}))
    doc, report = StateStore(tmp_path, clock=clock).load()
    assert report.source == "loaded" and doc["version"] == bus.version - 1
    assert len(report.skipped) == 2 and any(str(newest) in s for s in report.skipped)
    assert any("director_state.v2" in s for s in report.skipped)


def _identified(url: str, role: str):
    """A control connection to a real bus, identified with the role's test device."""
    # __enter__: the non-legacy form of websockets >= 17; closed when the server dies
    ws = connect(url, proxy=None, open_timeout=TIMEOUT, max_queue=None).__enter__()
    while (frame := json.loads(ws.recv(timeout=TIMEOUT)))["type"] != "challenge":
        pass
    ws.send(json.dumps(KEYS[role].identify(role, frame)))
    while json.loads(ws.recv(timeout=TIMEOUT))["type"] != "identified":
        pass
    return ws


def test_kill_9_at_any_moment_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """SIGKILL the real `lume director serve` while two directors pipeline commands (three
    times), restart, and check that every acknowledged command is in the restored state."""
    state_dir = tmp_path / "state"
    rng = random.Random(8)
    acked_any = False
    for round_ in range(3):
        start = StateStore(state_dir).load()[0]["version"] if round_ else 0
        proc, url = serve_subprocess(state_dir)
        acks: dict[str, list[tuple[int, int]]] = {"ios": [], "mac": []}  # role -> (command no, version)
        try:
            ios, mac = _identified(url, "ios"), _identified(url, "mac")
            kill_after = rng.randint(5, 60)  # acks of ios seen before the kill

            def listen(role: str, ws, proc: subprocess.Popen = proc) -> None:
                n = 0
                try:
                    while True:
                        frame = json.loads(ws.recv(timeout=TIMEOUT))
                        if frame["type"] in ("ack", "error"):
                            assert frame["type"] == "ack", frame
                            acks[role].append((n, frame["version"]))
                            n += 1
                            if role == "ios" and n == kill_after:
                                proc.send_signal(signal.SIGKILL)  # mid-stream: more is in flight
                except (ConnectionClosed, TimeoutError, OSError):  # the server died under us
                    pass

            listeners = [threading.Thread(target=listen, args=(r, w)) for r, w in (("ios", ios), ("mac", mac))]
            for thread in listeners:
                thread.start()
            try:
                for i in range(300):
                    ios.send(json.dumps({"type": "set_cue", "cue": cue(i)}))
                    if i % 3 == 0:
                        mac.send(json.dumps({"type": "set_session_phase", "phase": ("live", "setup")[i % 2]}))
            except (ConnectionClosed, OSError):
                pass
            for thread in listeners:
                thread.join(TIMEOUT * 2)
        finally:
            proc.kill()
            proc.wait(TIMEOUT)
        doc, report = StateStore(state_dir).load()
        st.check(doc)
        assert report.source == "loaded", report.describe()
        acked = max((v for role in acks.values() for _, v in role), default=start)
        acked_any = acked_any or acked > start
        assert doc["version"] >= acked, f"round {round_}: acked {acked}, restored {doc['version']}"
        assert doc["version"] < start + 2 + 400, "the kill did not land mid-stream"
        # every acknowledged cue is in the restored history, at the version its ack named
        history = {h["applied_version"]: h["id"] for h in doc["cue"]["history"]}
        for n, version in acks["ios"]:
            if version > doc["version"] - OWN.rules.history_keep:
                assert history.get(version) == f"cue-{n}", (round_, n, version)
        assert not list((state_dir / "versions").glob(".*.tmp"))
    assert acked_any, "no command was acknowledged before a kill: the test proved nothing"


def _consented(folder: Path, clock: FakeClock) -> dict:
    """A saved state whose newest version holds a granted consent (token signed by the folder's key)."""
    store = StateStore(folder, clock=clock)
    bus = Bus(store.load()[0], clock=clock, signer=consent.ConsentSigner.load_or_create(folder),
              on_commit=store.write)
    for role in ("mac", "ios"):
        bus.admit(role, f"{role}-1")
    assert bus.handle("mac", {"type": "propose_consent", "scope": ["frame_capture"]}).accepted
    for role in ("mac", "ios"):
        assert bus.handle(role, {"type": "ack_consent"}).accepted
    assert bus.state["model_consent"]["acknowledged"]
    return bus.state


def _hand_edit(folder: Path, doc: dict) -> None:
    """Replace the newest saved version with `doc` (what an editor or a copied file does)."""
    newest = max((folder / "versions").glob("*.jsonl"))
    newest.write_text(json.dumps(doc) + "\n")


FORGERIES = {
    "widened scope": lambda d: st.write(d, "model_consent.scope", ["frame_capture", "reel_use"]),
    "garbage token": lambda d: st.write(d, "model_consent.token", "ed25519:" + "A" * 86),
    "acknowledged without a token": lambda d: st.write_many(
        d, {"model_consent.token": None, "model_consent.expires_at": None}),
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_hand_edited_consent_is_withdrawn_on_restore_with_a_version_bump(start_bus, tmp_path: Path,
                                                                          forge) -> None:
    clock = FakeClock()
    folder = tmp_path / "state"
    saved = _consented(folder, clock)
    _hand_edit(folder, forge(saved))
    harness = start_bus(folder, clock=clock)
    report = harness.server.load_report
    assert report is not None and report.source == "loaded"
    assert any("consent withdrawn" in n for n in report.notes) and "consent withdrawn" in report.describe()
    state = harness.state()
    assert state["version"] == saved["version"] + 1
    granted = state["model_consent"]
    assert (granted["acknowledged"], granted["token"], granted["expires_at"]) == (False, None, None)
    assert granted["acks"] == granted["witnesses"] == []
    # a watcher gets the withdrawn state, never the forged one; the reset is on disk already
    assert harness.watcher().seen[-1]["state"] == state
    assert StateStore(folder, clock=clock).load()[0] == state


def test_consent_signed_by_another_server_key_is_withdrawn(start_bus, tmp_path: Path) -> None:
    clock = FakeClock()
    folder = tmp_path / "state"
    saved = _consented(folder, clock)
    (folder / consent.KEY_FILE).unlink()  # a state folder copied to a server with another key
    harness = start_bus(folder, clock=clock)
    state = harness.state()
    assert state["version"] == saved["version"] + 1 and state["model_consent"]["token"] is None
    assert not state["model_consent"]["acknowledged"]


def test_a_genuine_consent_survives_a_restart_unchanged(start_bus, tmp_path: Path) -> None:
    clock = FakeClock()
    folder = tmp_path / "state"
    saved = _consented(folder, clock)
    harness = start_bus(folder, clock=clock)
    assert harness.state() == saved and harness.server.bus.consent_reset is None
    assert harness.server.load_report is not None and not harness.server.load_report.notes
