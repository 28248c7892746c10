"""Every test gets its own key folder, trust file, cache and no machine configuration (a dry run,
a promotion and a readiness report sign with this machine's key, created and trusted on first use)."""
import mido.sockets
import pytest
from lume_isolation import isolated_keys  # noqa: F401  (an autouse fixture)


@pytest.fixture
def server():
    """A mido socket port on loopback (a MIDI output the live gate can open)."""
    srv = mido.sockets.PortServer("127.0.0.1", 0)
    srv.port = srv._socket.getsockname()[1]
    yield srv
    srv.close()
