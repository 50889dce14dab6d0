"""A second host of the round's own: a network namespace behind a veth pair, partitioned with iptables.

The round's servers (Redis, PostgreSQL, the owner mock) run inside it, on its address; the
order-service replicas reach them from the default namespace through the proxies. A
partition drops every packet to one server's port inside the namespace (new and open
connections stall; clients time out), and healing deletes the rule. Only the namespace and
the /30 this run created are touched, and `remove` deletes both, also after a failure.

Needs root, `ip` and `iptables`; `available()` says why not where they are missing.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from dataclasses import dataclass


class NamespaceUnavailable(Exception):
    """This machine cannot give the round a namespace (the message says why)."""


def available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    missing = [tool for tool in ("ip", "iptables") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (Debian: apt-get install iproute2 iptables)"
    return None


def _run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise NamespaceUnavailable(f"{' '.join(argv)} failed: {(done.stderr or done.stdout).strip()}")


@dataclass(frozen=True)
class Host:
    """A namespace `name` at `address`, reached from the default namespace over the veth `veth`."""

    name: str
    address: str
    veth: str

    @classmethod
    def create(cls) -> Host:
        """A new namespace with a unique name and a /30 of 10.231.0.0/16 of its own."""
        why = available()
        if why is not None:
            raise NamespaceUnavailable(why)
        suffix = f"{random.randrange(1 << 24):06x}"
        block = random.randrange(1 << 14) * 4  # a /30: .1 here, .2 there
        here, there = _address(block + 1), _address(block + 2)
        host = cls(f"chaos-{suffix}", there, f"vch{suffix}")
        try:
            _run("ip", "netns", "add", host.name)
            _run("ip", "link", "add", host.veth, "type", "veth", "peer", "name", f"{host.veth}p")
            _run("ip", "link", "set", f"{host.veth}p", "netns", host.name)
            _run("ip", "addr", "add", f"{here}/30", "dev", host.veth)
            _run("ip", "link", "set", host.veth, "up")
            _run(*host.inside("ip", "addr", "add", f"{there}/30", "dev", f"{host.veth}p"))
            _run(*host.inside("ip", "link", "set", f"{host.veth}p", "up"))
            _run(*host.inside("ip", "link", "set", "lo", "up"))
        except BaseException:
            host.remove()
            raise
        return host

    def inside(self, *argv: str) -> list[str]:
        """`argv` as a command run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def partition(self, port: int) -> None:
        """Drop every packet to `port` on this host (a partition between it and its clients)."""
        _run(*self.inside("iptables", "-A", "INPUT", "-p", "tcp", "--dport", str(port), "-j", "DROP"))

    def heal(self, port: int) -> None:
        """Remove the partition of `port`."""
        _run(*self.inside("iptables", "-D", "INPUT", "-p", "tcp", "--dport", str(port), "-j", "DROP"))

    def remove(self) -> None:
        """Delete the namespace and the veth pair (whatever of them exists)."""
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30, check=False)
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True, timeout=30, check=False)


def _address(offset: int) -> str:
    return f"10.231.{offset >> 8}.{offset & 255}"
