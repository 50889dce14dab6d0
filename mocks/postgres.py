"""A throwaway PostgreSQL server: `initdb` in a temporary folder, `postgres` on a loopback port.

`python -m mocks up` starts one for the reference order service, and the harness's
PostgreSQL source (`harness.postgres`) one per test run. PostgreSQL refuses to run as
root: as root, the server runs as the `postgres` user that the distributions' packages
create (`runuser`); as anyone else, as that user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from mocks.errors import MockError

HOW_TO_GET = "install PostgreSQL's server (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql)"


class PostgresUnavailable(MockError):
    """No PostgreSQL server can be started here (the message says why and how to get one)."""


def bin_dir() -> Path | None:
    """Where initdb and friends are: `HARNESS_POSTGRES_BIN` (a folder) when set, else on PATH or in Debian's folder."""
    chosen = os.environ.get("HARNESS_POSTGRES_BIN")
    if chosen is not None:
        return Path(chosen) if (Path(chosen) / "initdb").exists() else None
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    return None


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root, and runuser is missing to start PostgreSQL as `postgres`")
    return ["runuser", "-u", "postgres", "--", *argv]


class PostgresServer:
    """A throwaway server: `initdb` in its own folder, then started, stopped and restarted at will.

    The crash tests use `stop("immediate")` (a crash: recovery on the next start) and
    `stop("fast")` (a clean shutdown); the data folder outlives both until `remove`. The crash
    tier runs it on another host of its own: `host` is the address it listens on, `prefix`
    what runs its commands there (`ip netns exec NAME`).
    """

    def __init__(self, root: Path, port: int, host: str = "127.0.0.1", prefix: Sequence[str] = ()) -> None:
        found = bin_dir()
        if found is None:
            raise PostgresUnavailable(f"initdb is not on PATH; to get it: {HOW_TO_GET}")
        self._bin = found
        self.root = root
        self.port = port
        self.host = host
        self.prefix = list(prefix)
        self.data = root / "data"
        self.url = f"postgresql://postgres@{host}:{port}/postgres"

    @classmethod
    def create(cls, port: int = 0, host: str = "127.0.0.1", prefix: Sequence[str] = ()) -> PostgresServer:
        """A new cluster in a fresh temporary folder (`initdb`, trust authentication); not started.

        Port 0: a free one, chosen now.
        """
        root = Path(tempfile.mkdtemp(prefix="harness-pg-"))
        server = cls(root, port or _free_port(), host, prefix)
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        server._run("initdb", "-D", str(server.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        if host != "127.0.0.1":  # clients on the host's own subnet (the crash tier's veth peer) may connect
            with (server.data / "pg_hba.conf").open("a") as hba:
                hba.write("host all all samenet trust\n")
        return server

    def _run(self, tool: str, *args: str) -> None:
        argv = [*self.prefix, *_as_server_user([str(self._bin / tool), *args])]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{tool} failed ({done.returncode}): {(done.stderr or done.stdout).strip()}")

    def start(self, *settings: str, timeout: float = 30.0) -> None:
        """Start the server on `host`:`port`; return once it takes connections."""
        options = [
            f"-p {self.port}",
            f"-k {self.root}",
            f"-c listen_addresses={self.host}",
            "-c fsync=off",  # a throwaway server: a crash of the machine may lose it
            "-c max_connections=200",
            *(f"-c {setting}" for setting in settings),
        ]
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-o", " ".join(options), "start"
        )
        deadline = time.monotonic() + timeout
        while not self.accepts():
            if time.monotonic() > deadline:
                raise PostgresUnavailable(f"PostgreSQL on port {self.port} not ready after {timeout:.0f} s")
            time.sleep(0.05)

    def stop(self, mode: Literal["smart", "fast", "immediate"] = "fast") -> None:
        """Stop the server; `immediate` is a crash (the next start recovers from the WAL)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        """Whether the server's postmaster runs."""
        argv = _as_server_user([str(self._bin / "pg_ctl"), "-D", str(self.data), "status"])
        return subprocess.run(argv, capture_output=True, timeout=30, check=False).returncode == 0

    def accepts(self) -> bool:
        """Whether the server takes connections now."""
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((self.host, self.port)) != 0:
                return False
        argv = [str(self._bin / "pg_isready"), "-h", self.host, "-p", str(self.port), "-t", "1"]
        if not Path(argv[0]).exists():
            return True
        return subprocess.run(argv, capture_output=True, timeout=10, check=False).returncode == 0

    def log(self) -> str:
        """The server's log so far (for a failing test's report)."""
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def remove(self) -> None:
        """Stop the server if it runs and delete its folder."""
        with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
            if self.running():
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def available() -> bool:
    """Whether the server's binaries are here."""
    return bin_dir() is not None
