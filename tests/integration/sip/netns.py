"""A peer on another host, for tests: a network namespace joined to this one
by a veth pair, ``<subnet>.1/24`` on the host side and ``<subnet>.2/24``
inside. Any process can be started inside with ``ip netns exec``; the
namespace has no other interface and no default route, so nothing it sends
leaves the pair.

    ns = Netns.create("10.231.12")          # needs root and iproute2
    proc = ns.popen(["sipp", "-i", ns.peer_address, ...])
    ...
    ns.close()                              # stops its processes, removes ns and veth

Names carry the creating process's id (``ccn<pid>n<k>`` for the namespace,
``ccn<pid>h<k>`` / ``ccn<pid>p<k>`` for the veth ends, within the 15
characters Linux allows), so parallel runs do not collide and a run killed
before its teardown is cleaned up by the next one (its pid is gone). Two
namespaces cannot share a subnet at once: give each task its own.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_SERIAL = itertools.count()


class NetnsError(RuntimeError):
    """The namespace could not be made (not root, no iproute2, subnet in use)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


@dataclass
class Netns:
    name: str
    host_interface: str
    peer_interface: str
    host_address: str  # this host's end of the pair, e.g. 10.231.12.1
    peer_address: str  # the namespace's end, e.g. 10.231.12.2
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)

    @classmethod
    def create(cls, subnet: str = "10.231.12", prefix: str = "ccn") -> Netns:
        """A fresh namespace on ``<subnet>.0/24`` (``subnet`` is the first three octets)."""
        if os.geteuid() != 0 or shutil.which("ip") is None:
            raise NetnsError("network namespaces need root and iproute2 (the ip command)")
        remove_stale(prefix)
        holder = _ip("-o", "-4", "addr", "show", "to", f"{subnet}.0/24").stdout.strip()
        if holder:
            raise NetnsError(f"{subnet}.0/24 is already in use on this host: {holder}")
        k = next(_SERIAL)
        tag = f"{prefix}{os.getpid()}"
        ns = cls(
            name=f"{tag}n{k}",
            host_interface=f"{tag}h{k}",
            peer_interface=f"{tag}p{k}",
            host_address=f"{subnet}.1",
            peer_address=f"{subnet}.2",
        )
        try:
            ns._build()
        except NetnsError:
            ns.close()
            raise
        return ns

    def _build(self) -> None:
        _ip("netns", "add", self.name)
        _ip("link", "add", self.host_interface, "type", "veth", "peer", "name", self.peer_interface)
        _ip("link", "set", self.peer_interface, "netns", self.name)
        _ip("addr", "add", f"{self.host_address}/24", "dev", self.host_interface)
        _ip("link", "set", self.host_interface, "up")
        _ip("-n", self.name, "addr", "add", f"{self.peer_address}/24", "dev", self.peer_interface)
        _ip("-n", self.name, "link", "set", self.peer_interface, "up")
        _ip("-n", self.name, "link", "set", "lo", "up")

    def command(self, cmd: Sequence[str]) -> list[str]:
        """``cmd`` wrapped to run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *cmd]

    def popen(self, cmd: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``cmd`` inside the namespace (``ip netns exec`` execs it, so the
        Popen's pid is the process itself); :meth:`close` stops it if still running."""
        process = subprocess.Popen(self.command(cmd), **kwargs)
        self.processes.append(process)
        return process

    def run(self, cmd: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """Run ``cmd`` inside the namespace to its end (``subprocess.run`` arguments)."""
        return subprocess.run(self.command(cmd), **kwargs)

    def listening(self, port: int, protocol: str = "udp") -> bool:
        """Whether something inside listens on ``port`` (``udp`` or ``tcp``)."""
        flag = "-u" if protocol == "udp" else "-t"
        out = self.run(["ss", "-Hln", flag, f"sport = :{port}"], capture_output=True, text=True)
        return bool(out.stdout.strip())

    def close(self) -> None:
        """Stop the processes started here, then remove the namespace and the pair."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _ip("netns", "delete", self.name, check=False)
        # Deleting the namespace destroys the peer end and with it the pair; a
        # pair whose peer never moved in is removed here.
        _ip("link", "delete", self.host_interface, check=False)


def remove_stale(prefix: str = "ccn") -> None:
    """Remove namespaces and veth ends named ``<prefix><pid>...`` whose process is gone."""
    owned = re.compile(rf"^{re.escape(prefix)}(\d+)[nhp]\d+$")

    def orphaned(name: str) -> bool:
        match = owned.match(name)
        return match is not None and not os.path.exists(f"/proc/{match.group(1)}")

    for line in _ip("netns", "list").stdout.splitlines():
        name = line.split()[0] if line.strip() else ""
        if orphaned(name):
            _ip("netns", "delete", name, check=False)
    for line in _ip("-o", "link", "show").stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if orphaned(name):
            _ip("link", "delete", name, check=False)
