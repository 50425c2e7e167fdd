"""The network-namespace fixture: a peer host reached over a veth pair, any
process started inside it, and nothing left behind, even after a failure."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.integration.sip.netns import Netns, NetnsError

ECHO = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((sys.argv[1], 7000))
print("ready", flush=True)
data, peer = sock.recvfrom(100)
sock.sendto(data + b" from " + peer[0].encode(), peer)
"""


def links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout


def namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def test_a_process_inside_is_another_host_and_close_leaves_nothing() -> None:
    ns = Netns.create("10.231.13")
    try:
        echo = ns.popen(
            [sys.executable, "-c", ECHO, ns.peer_address], stdout=subprocess.PIPE, text=True
        )
        assert echo.stdout is not None and echo.stdout.readline() == "ready\n"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            sock.sendto(b"hello", (ns.peer_address, 7000))
            assert sock.recv(100) == f"hello from {ns.host_address}".encode()
        sleeper = ns.popen(["sleep", "60"])
        with pytest.raises(NetnsError, match="already in use"):
            Netns.create("10.231.13")
    finally:
        ns.close()
    assert sleeper.poll() is not None
    assert ns.name not in namespaces()
    assert ns.host_interface not in links()
