"""Fixtures of the LUMF and SAN tests."""
from __future__ import annotations

import socket

import pytest


@pytest.fixture(scope="module")
def udp_sender():
    """One UDP socket that sends datagrams to the loopback listeners under test."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    yield s
    s.close()
