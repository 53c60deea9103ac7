"""Hosts as Linux network namespaces on one private LAN: the multi-host harness's network.

The LAN is a bridge in a namespace of its own (so nothing of the root namespace's firewall
applies to it); each host is a namespace with one veth whose other end is a port of that
bridge. The root namespace joins the LAN too, as one more host on the first address: it is
where MariaDB runs (it listens on the root's 127.0.0.1, which no namespace can reach, so a
proxy on the root's LAN address forwards to it) and where the test watches the broker from.
Every name carries `sf<pid>`, every address is in one 10.213.<n>.0/24 that no interface of
the machine uses yet; close() removes it all, whatever state the test left it in.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from typing import Any

IP = "ip"
SUBNET_PREFIX = "10.213"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `ip ARGS`; raise with its error text when it fails (and `check`)."""
    result = subprocess.run([IP, *args], capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def namespaces_problem() -> str | None:
    """Return why network namespaces cannot be made here (not root, no `ip`), or None."""
    probe = f"sf{os.getpid()}-probe"
    try:
        made = ip("netns", "add", probe, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"`ip` cannot run: {exc}"
    if made.returncode != 0:
        return f"`ip netns add` failed (root needed): {made.stderr.strip()}"
    ip("netns", "del", probe, check=False)
    return None


def free_subnet() -> str:
    """Return the first 10.213.<n> (n in 1..254) that no interface of the machine uses."""
    words = (ip("-4", "-o", "addr", "show").stdout
             + ip("-4", "route", "show", "table", "all").stdout).split()
    for n in range(1, 255):
        if not any(word.startswith(f"{SUBNET_PREFIX}.{n}.") for word in words):
            return f"{SUBNET_PREFIX}.{n}"
    raise RuntimeError(f"every {SUBNET_PREFIX}.<n>.0/24 is in use")


class Host:
    """One machine of the LAN: a namespace, its address, and the bridge port its cable is in."""

    def __init__(self, network: "Network", name: str, address: str) -> None:
        self.network = network
        self.name = name
        self.namespace = f"{network.tag}-{name}"
        self.address = address
        self.port = f"{network.tag}{name}"  # the bridge's end of the veth (in the LAN namespace)

    def command(self, argv: Sequence[str]) -> list[str]:
        """Return argv run inside this host (`ip netns exec` execs it: the pid is the program's)."""
        return [IP, "netns", "exec", self.namespace, *argv]

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.command(argv), **kwargs)

    def pids(self) -> list[int]:
        """Return every process running in this host."""
        out = ip("netns", "pids", self.namespace, check=False).stdout
        return [int(pid) for pid in out.split()]

    def kill_everything(self) -> int:
        """SIGKILL every process of the host at once (a power cut); return how many there were."""
        pids = self.pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    def unplug(self) -> None:
        """Pull the host's cable: its link goes down, packets to and from it vanish."""
        ip("-n", self.network.lan, "link", "set", self.port, "down")

    def plug(self) -> None:
        ip("-n", self.network.lan, "link", "set", self.port, "up")


class Network:
    """A private LAN of hosts; the root namespace is on it at `.1` (see the module docstring)."""

    def __init__(self, tag: str | None = None) -> None:
        self.tag = tag or f"sf{os.getpid()}"
        self.lan = f"{self.tag}-lan"
        self.root_port = f"{self.tag}root"
        self.hosts: dict[str, Host] = {}
        self.subnet = free_subnet()
        self.root_address = f"{self.subnet}.1"
        try:
            ip("netns", "add", self.lan)
            ip("-n", self.lan, "link", "add", "br0", "type", "bridge")
            ip("-n", self.lan, "link", "set", "br0", "up")
            ip("link", "add", self.root_port, "type", "veth", "peer", "name", "root",
               "netns", self.lan)
            ip("-n", self.lan, "link", "set", "root", "master", "br0", "up")
            ip("addr", "add", f"{self.root_address}/24", "dev", self.root_port)
            ip("link", "set", self.root_port, "up")
        except Exception:
            self.close()
            raise

    def add_host(self, name: str) -> Host:
        """Make a host on the next address, cabled to the LAN, and return it."""
        host = Host(self, name, f"{self.subnet}.{10 + len(self.hosts)}")
        self.hosts[name] = host
        ip("netns", "add", host.namespace)
        ip("-n", host.namespace, "link", "set", "lo", "up")
        ip("link", "add", host.port, "type", "veth", "peer", "name", "eth0",
           "netns", host.namespace)
        ip("link", "set", host.port, "netns", self.lan)
        ip("-n", self.lan, "link", "set", host.port, "master", "br0", "up")
        ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
        ip("-n", host.namespace, "link", "set", "eth0", "up")
        return host

    def close(self) -> None:
        """Kill every process of every host, then delete the namespaces and the root's veth."""
        for host in self.hosts.values():
            host.kill_everything()
        deadline = time.monotonic() + 10
        while any(host.pids() for host in self.hosts.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        for host in self.hosts.values():
            ip("netns", "del", host.namespace, check=False)  # its veth pair goes with it
        ip("link", "del", self.root_port, check=False)
        ip("netns", "del", self.lan, check=False)
