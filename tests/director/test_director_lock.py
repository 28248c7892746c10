"""One writer at a time: concurrent enrol / revoke lose nothing, a second server on one state
folder is refused (exit 1) naming who holds it, and a lock held elsewhere is waited for, then named."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from director_harness import OWN, TIMEOUT, device, serve_subprocess
from websockets.sync.client import connect

from lume.runtime.director import BusServer, DeviceFile, DeviceKey, DirectorBusy
from lume.runtime.director._lock import SERVE_LOCK, Lock

THREADS, EACH = 6, 5


def _at_once(work) -> None:
    """Run work(i) on THREADS threads released together; re-raise the first failure."""
    start, failures = threading.Barrier(THREADS), []

    def run(i: int) -> None:
        start.wait()
        try:
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 6)
    assert not failures, failures[0]


def test_enrolls_and_revokes_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / OWN.identify.devices_file
    keys = {i: [DeviceKey.generate(f"dev-{i}-{j}") for j in range(EACH)] for i in range(THREADS)}

    def enroll(i: int) -> None:
        mine = DeviceFile(path, wait_s=TIMEOUT * 6)  # each writer its own view, as separate processes have
        for key in keys[i]:
            mine.enroll(device(key, "ipad"))

    _at_once(enroll)
    assert len(DeviceFile(path).devices()) == THREADS * EACH

    def revoke(i: int) -> None:
        mine = DeviceFile(path, wait_s=TIMEOUT * 6)
        for key in keys[i][:2]:
            mine.revoke(key.device_id)

    _at_once(revoke)
    left = {d.device_id for d in DeviceFile(path).devices()}
    assert left == {k.device_id for ks in keys.values() for k in ks[2:]}


HOLD = """
import sys, time
from pathlib import Path
from lume.runtime.director._lock import Lock
lock = Lock(Path(sys.argv[1]), "a test holding the lock").acquire()
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def holder():
    """hold(path): another process holding the lock on `path` until the test ends."""
    procs: list[subprocess.Popen] = []

    def hold(path: Path) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        return proc

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait(TIMEOUT)


def _lume(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lume.runtime.cli", "director", *args],
                          capture_output=True, text=True, timeout=TIMEOUT * 6)


def test_an_enroll_waits_for_the_lock_then_names_who_holds_it(tmp_path: Path, holder) -> None:
    devices = DeviceFile(tmp_path / OWN.identify.devices_file)
    proc = holder(devices.lock_path)
    result = _lume("enroll", "ipad", "ipad-9", "--new-key", "-o", str(tmp_path / "ipad-9.pem"),
                   "--devices", str(devices.path), "--wait", "300ms")
    assert result.returncode == 1, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert f"pid {proc.pid}" in result.stderr and "a test holding the lock" in result.stderr
    assert not devices.path.exists() and not (tmp_path / "ipad-9.pem").exists()  # nothing half-done
    proc.kill()
    proc.wait(TIMEOUT)  # the OS drops a dead holder's lock
    result = _lume("enroll", "ipad", "ipad-9", "--new-key", "-o", str(tmp_path / "ipad-9.pem"),
                   "--devices", str(devices.path), "--wait", "0")
    assert result.returncode == 0, result.stderr
    assert [d.device_id for d in devices.devices()] == ["ipad-9"]


def test_a_revoke_refused_while_locked_keeps_the_device(tmp_path: Path, holder) -> None:
    devices = DeviceFile(tmp_path / OWN.identify.devices_file)
    devices.enroll(device(DeviceKey.generate("mac-9"), "mac"))
    proc = holder(devices.lock_path)
    result = _lume("revoke", "mac-9", "--devices", str(devices.path), "--wait", "0", "--json")
    assert result.returncode == 1 and f"pid {proc.pid}" in result.stdout + result.stderr
    assert [d.device_id for d in devices.devices()] == ["mac-9"]


def test_a_second_server_on_one_state_folder_is_refused(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    first, url = serve_subprocess(state_dir)
    try:
        before = sorted(p.name for p in (state_dir / "versions").iterdir())
        second = _lume("serve", "--port", "0", "--state-dir", str(state_dir))
        assert second.returncode == 1, second.stdout + second.stderr
        assert len(second.stderr.strip().splitlines()) == 1 and "Traceback" not in second.stderr
        assert f"pid {first.pid}" in second.stderr and "lume director serve" in second.stderr
        assert sorted(p.name for p in (state_dir / "versions").iterdir()) == before
        with connect(url.replace(OWN.rules.control_path, OWN.rules.state_path), proxy=None,
                     open_timeout=TIMEOUT) as ws:  # the first one still serves
            assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "schema"
    finally:
        first.kill()
        first.wait(TIMEOUT)
    # killed, it holds nothing: a new server takes the folder over
    again, url = serve_subprocess(state_dir)
    try:
        with connect(url, proxy=None, open_timeout=TIMEOUT) as ws:
            assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "schema"
    finally:
        again.kill()
        again.wait(TIMEOUT)


def test_in_one_process_too_a_state_folder_has_one_server(tmp_path: Path) -> None:
    first = BusServer(tmp_path)
    with pytest.raises(DirectorBusy, match=f"pid {os.getpid()}"):
        BusServer(tmp_path)
    first.release()
    BusServer(tmp_path).release()
    assert (tmp_path / SERVE_LOCK).is_file()


def test_a_fifo_at_the_lock_name_is_refused_not_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / SERVE_LOCK)
    with pytest.raises(DirectorBusy, match="not a regular file"):
        Lock(tmp_path / SERVE_LOCK, "lume director serve").acquire()
