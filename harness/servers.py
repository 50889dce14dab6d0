"""The mocks as a test sees them: in-process (ASGI) or real servers, and one handle per mock.

A handle (`MockHandle`) is the same for both kinds: add a fault or an outage for a block of
code, read the journal, and assert on it with messages that list what the mock did receive:

    handle = harness_mocks.service("strategy-service")
    with handle.outage(kind="drop_after", operation_id="syncStrategyPnl"):
        ...  # every sync is applied by the owner, and its answer is lost
    handle.assert_called("syncStrategyPnl", times=3)
    handle.assert_applied_once(idempotency_key)
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from harness.errors import JournalAssertion, MockFailed, NotReady, UsageError
from harness.processes import stop_process, wait_until
from mocks.app import MockApp
from mocks.engine import ADMIN_PREFIX
from mocks.faults import FaultSpec
from mocks.registry import SERVICES
from mocks.transport import MockTransport

IN_PROCESS_HOST = "mock.test"
Entry = dict[str, Any]


def in_process_url(name: str) -> str:
    """The base URL an in-process mock answers on (through `MockTransport`, never a socket)."""
    return f"http://{name}.{IN_PROCESS_HOST}"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the OS's pick)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _Admin(Protocol):
    def add_fault(self, spec: dict[str, Any]) -> int: ...
    def remove_fault(self, fault_id: int) -> None: ...
    def clear_faults(self) -> None: ...
    def entries(self, filters: dict[str, Any]) -> list[Entry]: ...


class MockHandle:
    """One mock's faults and journal, for a test."""

    def __init__(self, name: str, url: str, admin: _Admin) -> None:
        self.name = name
        self.url = url
        self._admin = admin

    def fault(self, kind: str, **spec: Any) -> int:
        """Add a fault (see `mocks.faults.FaultSpec` for its fields); returns its id."""
        return self._admin.add_fault({"kind": kind, **spec})

    def clear_faults(self) -> None:
        """Remove every fault of this mock."""
        self._admin.clear_faults()

    @contextlib.contextmanager
    def outage(self, kind: str = "status", **spec: Any) -> Iterator[int]:
        """A fault for the `with` block only (default: 503 on every request)."""
        fault_id = self.fault(kind, **spec)
        try:
            yield fault_id
        finally:
            self._admin.remove_fault(fault_id)

    def journal(self, **filters: Any) -> list[Entry]:
        """Received requests, oldest first; filters: operation_id, method, path, status, trace_id, since, limit."""
        return self._admin.entries(filters)

    def assert_called(self, operation_id: str, *, times: int | None = None) -> list[Entry]:
        """The operation was received (`times` times, when given); returns its entries."""
        entries = self.journal(operation_id=operation_id)
        if (times is None and not entries) or (times is not None and len(entries) != times):
            wanted = "at least once" if times is None else f"{times} time(s)"
            raise JournalAssertion(
                f"{self.name}: expected {operation_id} {wanted}, received it {len(entries)} time(s); "
                f"received in all: {_summary(self.journal())}"
            )
        return entries

    def assert_not_called(self, operation_id: str) -> None:
        """The operation was not received at all."""
        self.assert_called(operation_id, times=0)

    def assert_applied_once(self, idempotency_key: str) -> list[Entry]:
        """The owner applied the write with this Idempotency-Key once: one served try, every other a replay."""
        entries = [e for e in self.journal() if e["headers"].get("idempotency-key") == idempotency_key]
        applied = [e for e in entries if e["status"] is not None and 200 <= e["status"] < 300 and not e["replayed"]]
        if len(applied) != 1:
            raise JournalAssertion(
                f"{self.name}: expected the write with Idempotency-Key {idempotency_key} applied once, "
                f"applied {len(applied)} time(s); its requests: {_summary(entries)}"
            )
        return entries


def _summary(entries: Sequence[Entry]) -> str:
    if not entries:
        return "nothing"
    shown = [
        f"{e['method']} {e['path']} -> {e['status'] if e['status'] is not None else 'no answer'}"
        + (" (replayed)" if e["replayed"] else "")
        + (f" [{e['fault']}]" if e["fault"] else "")
        for e in entries[-10:]
    ]
    return "; ".join(shown) + (f" (last 10 of {len(entries)})" if len(entries) > 10 else "")


class _EngineAdmin:
    """The admin surface of an in-process mock, called directly (the same checks as over HTTP)."""

    def __init__(self, app: MockApp) -> None:
        self._engine = app.engine

    def add_fault(self, spec: dict[str, Any]) -> int:
        checked = FaultSpec.model_validate(spec)
        if checked.operation_id is not None and checked.operation_id not in self._engine.contract.operations:
            raise UsageError(f"operation_id {checked.operation_id!r} is not an operation of this contract")
        return self._engine.faults.add(checked).id

    def remove_fault(self, fault_id: int) -> None:
        self._engine.faults.remove(fault_id)

    def clear_faults(self) -> None:
        self._engine.faults.clear()

    def entries(self, filters: dict[str, Any]) -> list[Entry]:
        return [e.as_dict() for e in self._engine.journal.find(**filters)]


class _HttpAdmin:
    """The admin surface of a running mock, over HTTP."""

    def __init__(self, url: str) -> None:
        self._url = url + ADMIN_PREFIX

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, self._url + path, timeout=10, **kwargs)
        if response.status_code == 422:
            raise UsageError(f"{self._url}{path}: {response.text}")
        response.raise_for_status()
        return response.json()

    def add_fault(self, spec: dict[str, Any]) -> int:
        return int(self._call("POST", "/faults", json=spec)["id"])

    def remove_fault(self, fault_id: int) -> None:
        with contextlib.suppress(httpx.HTTPStatusError):  # it expired by itself (`times`)
            self._call("DELETE", f"/faults/{fault_id}")

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def entries(self, filters: dict[str, Any]) -> list[Entry]:
        return list(self._call("GET", "/journal", params=filters)["entries"])


@dataclass
class InProcessMocks:
    """Every mock as an ASGI app; `client(name)` talks to one through a network-like transport."""

    apps: dict[str, MockApp]

    def app(self, name: str) -> MockApp:
        """The ASGI app of one mock (its engine, behaviour and admin surface)."""
        return self.apps[name]

    def client(self, name: str, **kwargs: Any) -> httpx.AsyncClient:
        """An async client of one mock, through `MockTransport` (no socket)."""
        return httpx.AsyncClient(transport=MockTransport(self.apps[name]), base_url=in_process_url(name), **kwargs)

    def service(self, name: str) -> MockHandle:
        """The handle of one mock: faults, outages, journal assertions."""
        return MockHandle(name, in_process_url(name), _EngineAdmin(self._known(name)))

    def reset(self) -> None:
        """Every mock back to its first state: data, faults, journal, clock."""
        for app in self.apps.values():
            app.engine.reset()

    def raise_failures(self) -> None:
        """Raise what failed inside a mock since the last reset (the request got a 500).

        Raises:
            MockFailed: naming the mock, its error as the cause (its traceback shows where).
        """
        for name, app in sorted(self.apps.items()):
            if app.engine.failures:
                first = app.engine.failures[0]
                count = app.engine.failure_count
                raise MockFailed(f"{name} failed inside {count} time(s); the first: {first!r}") from first

    def _known(self, name: str) -> MockApp:
        if name not in self.apps:
            raise UsageError(f"no mock {name!r}; these run: {', '.join(sorted(self.apps))}")
        return self.apps[name]


@dataclass
class LiveMocks:
    """Every mock as a real uvicorn server on loopback, started by `python -m mocks up`."""

    urls: dict[str, str]
    process: subprocess.Popen[bytes] | None
    log: Path | None
    ready: dict[str, Any] = field(default_factory=dict)  # what `up` wrote to its ready file
    control: Path | None = None  # `up`'s control folder (`mocks stop` / `mocks start`)

    def url(self, name: str) -> str:
        """The base URL of one mock."""
        return self.urls[name]

    def admin(self, name: str) -> str:
        """The base URL of one mock's admin surface."""
        return self.urls[name] + ADMIN_PREFIX

    def service(self, name: str) -> MockHandle:
        """The handle of one mock: faults, outages, journal assertions (over HTTP)."""
        if name not in self.urls:
            raise UsageError(f"no mock {name!r}; these run: {', '.join(sorted(self.urls))}")
        return MockHandle(name, self.urls[name], _HttpAdmin(self.urls[name]))

    def stop_child(self, name: str, timeout: float = 20.0) -> None:
        """Stop one child of `up` on purpose (a mock, `redis` or `order-service-app`); it stays down.

        Raises:
            UsageError: these servers are not ours (no control folder).
            NotReady: `up` did not report it stopped within `timeout`.
        """
        self._control(name, "stop", f"{name}: stopped on request", timeout)

    def start_child(self, name: str, timeout: float = 20.0) -> None:
        """Start a child stopped with `stop_child` again; return once `up` started it."""
        self._control(name, "start", f"{name}: started on request", timeout)

    def _control(self, name: str, verb: str, said: str, timeout: float) -> None:
        if self.control is None:
            raise UsageError("these servers were not started by start_mock_servers: no control folder")
        seen = self.output().count(said)
        command = [sys.executable, "-m", "mocks", verb, name, "--control-dir", str(self.control)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            raise UsageError(f"python -m mocks {verb} {name}: {done.stderr.strip()}")
        wait_until(lambda: self.output().count(said) > seen, what=f"`mocks up` to {verb} {name}", timeout=timeout)

    def output(self) -> str:
        """What `mocks up` printed so far (empty when these servers are not ours)."""
        return self.log.read_text(errors="replace") if self.log else ""

    def raise_failures(self) -> None:
        """Raise what failed inside a mock since the last reset, with the mock's own traceback.

        Raises:
            MockFailed: naming the mock; the message carries the traceback from its process.
        """
        with httpx.Client(timeout=5) as client:
            for name in sorted(self.urls):
                answer = client.get(self.admin(name) + "/failures").raise_for_status().json()
                if answer["failures"]:
                    first = answer["failures"][0]
                    raise MockFailed(
                        f"{name} failed inside {answer['total']} time(s); the first: {first['error']}\n"
                        f"{first['traceback']}"
                    )

    def reset(self) -> None:
        """Every mock back to its first state: data, faults, journal, clock."""
        with httpx.Client(timeout=5) as client:
            for name in self.urls:
                client.post(self.admin(name) + "/reset").raise_for_status()


def start_mock_servers(
    log: Path,
    timeout: float = 60.0,
    extra: Sequence[str] = ("--no-redis", "--no-order-service"),
    env: dict[str, str] | None = None,
) -> LiveMocks:
    """Run `python -m mocks up` on ports it picks itself, its output to `log`, and wait for its ready file.

    `up` binds each mock's socket (port 0) and hands it to the mock, so no other process can
    take a port between its choice and its use; the ready file (`--ready-file`) says where
    each one is, and is kept in `LiveMocks.ready`. Output goes to a file, not a pipe: a pipe
    nobody reads would block the servers once full.

    Raises:
        NotReady: `up` exited or was not ready within `timeout` (the message has its output).
    """
    ready_file = log.with_name(log.name + ".ready.json")
    control = log.with_name(log.name + ".control")  # its own: stacks side by side never share markers
    command = [sys.executable, "-m", "mocks", "up", "--ready-file", str(ready_file), "--control-dir", str(control)]
    command += list(extra)
    command += [f"--port={name}=0" for name in SERVICES]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        )
    live = LiveMocks({}, process, log, control=control)
    try:
        wait_until(ready_file.exists, what="python -m mocks up", timeout=timeout, process=process, interval=0.05)
    except NotReady as exc:
        stop_process(process)
        raise NotReady(f"{exc}; its output:\n{live.output()}") from None
    live.ready = json.loads(ready_file.read_text())
    live.urls = dict(live.ready["mocks"])
    return live


def stop_mock_servers(live: LiveMocks) -> int:
    """SIGTERM, as Ctrl-C's twin; the status says whether `up` stopped cleanly (0 when not ours)."""
    return stop_process(live.process) if live.process is not None else 0
