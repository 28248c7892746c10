"""A MIDI output on loopback for the live gate (every test's own key folder, trust file and cache
come from the suite-wide `isolated_keys`, tests/lume_isolation.py)."""
import mido.sockets
import pytest


@pytest.fixture
def server():
    """A mido socket port on loopback (a MIDI output the live gate can open)."""
    srv = mido.sockets.PortServer("127.0.0.1", 0)
    srv.port = srv._socket.getsockname()[1]
    yield srv
    srv.close()
