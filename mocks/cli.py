"""Command line: `python -m mocks up` starts every mock; `python -m mocks serve NAME` starts one.

`up` runs each mock as its own uvicorn process (one event loop each, so a slow mock never
slows another), gives the config-service mock the real addresses of the others, starts a
throwaway Redis when `redis-server` is installed and a throwaway PostgreSQL when its
server binaries are (or uses `--database-url`), then the reference order service on them;
waits until everything answers, prints a table, and stops it all on Ctrl-C or SIGTERM.
A child that exits on its own is reported and started again (with a backoff that doubles
up to 10 s), on the same port and the same database; the others keep running. Each mock
keeps the writes it applied in a ledger in the control folder (`mocks.ledger`), so a mock
started again still answers a retried write instead of applying it twice.

`python -m mocks stop NAME` stops one child of a running `up` on purpose (it stays down),
`python -m mocks start NAME` starts it again: they leave a marker in `up`'s control folder
(`--control-dir`, default `.run/mocks`), which `up` watches. NAME is a mock, `redis` or
`order-service-app` (the reference order service).

With `HARNESS_COVERAGE=FILE` in the environment, each mock appends every operation it answers
to FILE (what `harness coverage` reads; the harness plugin sets it for the mocks tests start).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mocks.engine import ADMIN_PREFIX, MockSettings
from mocks.errors import ContractError
from mocks.postgres import PostgresServer, PostgresUnavailable
from mocks.postgres import available as postgres_available
from mocks.registry import CONFIG_SERVICE, CONTRACTS_DIR, SERVICES
from mocks.tokens import IntrospectionCheck
from mocks.tracing import MockTracing, otlp_provider

ANY_CONTRACT_PORT = 4010  # `serve FILE` (Prism's default, so a switch from it keeps its URLs)
READY_TIMEOUT_S = 60.0  # a loaded 2-core machine took more than 20 s
RESTART_BACKOFF_MAX_S = 10.0
CONTROL_DIR = Path(".run/mocks")
COVERAGE_ENV = "HARNESS_COVERAGE"  # a file: each answer of each mock appended to it (`harness coverage`)
AUTH_SERVICE = "auth-service"
TLS_CLIENT = "order_service"  # the certificate the order service presents to the mocks
TLS_CALLERS = ("algo_engine", "user_interface", "risk_manager", "strategy_service")  # who calls the order service
TOKEN_OWNERS = (
    "strategy-service",
    "account-service",
    "analytics-service",
    "calendar-service",
)  # the order service calls
REFERENCE = "order-service-app"  # what `stop`/`start` call the reference order service (as compose does)


def main(argv: Sequence[str] | None = None, prog: str = "python -m mocks") -> int:
    """Run `up` or `serve`; returns the exit status (2 on a usage error)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="serve one mock: a service of this project, or any OpenAPI 3.0/3.1 file",
        description="Serve one mock: a service of this project by name, or any OpenAPI 3.0 or 3.1 file "
        "(every operation validates its requests and answers its examples, or values generated from its schemas).",
        epilog=f"examples:\n  {prog} serve strategy-service\n"
        f"  {prog} serve path/to/petstore.yaml --port 4010 --seed 7\n"
        "  curl -H 'Prefer: code=404' http://127.0.0.1:4010/pets/1   # a documented status, as Prism reads it\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("name", metavar="SERVICE|FILE", help=f"one of {', '.join(sorted(SERVICES))}, or a contract file")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, help=f"default: the service's own port, {ANY_CONTRACT_PORT} for a file")
    serve.add_argument("--seed", type=int, default=0, help="fixes the values generated where a response has no example")
    serve.add_argument(
        "--registry",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="config-service only: a service address to report (repeatable; a name given twice has two instances)",
    )
    serve.add_argument("--contracts-dir", type=Path, default=CONTRACTS_DIR)
    serve.add_argument(
        "--fd", type=int, help="serve on this listening socket, inherited from the parent (`up` binds them)"
    )
    serve.add_argument(
        "--ledger",
        type=Path,
        metavar="FILE",
        help="keep applied writes in FILE (JSON lines); started again on it, the mock still answers their keys",
    )
    serve.add_argument("--tls-cert", type=Path, metavar="PEM", help="serve HTTPS with this certificate")
    serve.add_argument("--tls-key", type=Path, metavar="PEM", help="the certificate's key")
    serve.add_argument(
        "--tls-client-ca", type=Path, metavar="PEM", help="require client certificates from this CA (mutual TLS)"
    )
    serve.add_argument(
        "--require-tokens-from",
        metavar="INTROSPECT_URL",
        help="require a service token on every request, checked at this introspection endpoint (RFC 7662)",
    )
    serve.add_argument(
        "--otlp-endpoint",
        metavar="URL",
        help="send the mock's spans (callers' traces continued) to this OTLP/HTTP traces URL",
    )

    for verb, what in (("stop", "stop one child of a running `up` (it stays down)"), ("start", "start it again")):
        control = commands.add_parser(verb, help=what)
        control.add_argument("name", choices=sorted([*SERVICES, "redis", REFERENCE]))
        control.add_argument(
            "--control-dir", type=Path, default=CONTROL_DIR, help="that of the `up` (default: %(default)s)"
        )

    up = commands.add_parser("up", help="start every mock (and a throwaway Redis) until Ctrl-C")
    up.add_argument(
        "--control-dir",
        type=Path,
        default=CONTROL_DIR,
        help="where `mocks stop`/`mocks start` leave their markers (default: %(default)s)",
    )
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument(
        "--port", action="append", default=[], metavar="NAME=PORT", help="override a mock's port (0: any free one)"
    )
    up.add_argument("--redis-port", type=int, default=6390, help="port of the throwaway Redis")
    up.add_argument("--no-redis", action="store_true", help="do not start Redis")
    up.add_argument("--postgres-port", type=int, default=6392, help="port of the throwaway PostgreSQL")
    up.add_argument(
        "--database-url",
        help="the order service's PostgreSQL (default: a throwaway server, when its binaries are installed)",
    )
    up.add_argument("--no-postgres", action="store_true", help="keep the order service's orders in memory")
    up.add_argument(
        "--postgres-setting",
        action="append",
        default=[],
        type=_postgres_setting,
        metavar="NAME=VALUE",
        help="a setting of the throwaway PostgreSQL, e.g. fsync=on (it runs with fsync off: a crash of the "
        "machine may lose what it committed, a crash of a process does not)",
    )
    up.add_argument(
        "--order-service-port",
        type=int,
        default=8000,
        help="port of the reference order service, started against the mocks and Redis (dev keys)",
    )
    up.add_argument("--no-order-service", action="store_true", help="do not start the reference order service")
    up.add_argument(
        "--tls",
        action="store_true",
        help="mutual TLS everywhere: a throwaway dev CA and certificates in CONTROL_DIR/tls, every mock and the "
        "order service on HTTPS requiring client certificates, the order service presenting its own",
    )
    up.add_argument(
        "--require-service-tokens",
        action="store_true",
        help="the owner mocks require a token from the auth-service mock; the order service fetches one (dev client)",
    )
    up.add_argument(
        "--otlp-endpoint",
        metavar="URL",
        help="trace: the order service and every mock send their spans to this OTLP/HTTP traces URL",
    )
    up.add_argument("--contracts-dir", type=Path, default=CONTRACTS_DIR)
    up.add_argument(
        "--ready-timeout",
        type=float,
        default=READY_TIMEOUT_S,
        metavar="SECONDS",
        help="how long every server may take to answer (default: %(default).0f)",
    )
    up.add_argument(
        "--ready-file",
        type=Path,
        help="once everything answers, write the address of each server here as JSON (removed on stop)",
    )

    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command in ("stop", "start"):
            return _control(args)
        return _up(args)
    except (ContractError, PostgresUnavailable, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _postgres_setting(text: str) -> str:
    """NAME=VALUE as PostgreSQL's `-c` takes it (a value with spaces would split pg_ctl's options)."""
    name, sep, value = text.partition("=")
    if not sep or not re.fullmatch(r"[a-z_][a-z0-9_.]*", name) or not re.fullmatch(r"[^\s'\"]+", value):
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE (a PostgreSQL setting, no spaces or quotes)")
    return text


def _pairs(items: Sequence[str], what: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not value:
            raise ValueError(f"{what} {item!r} is not NAME=VALUE")
        pairs[name] = value
    return pairs


def _instances(items: Sequence[str]) -> dict[str, str | list[str]]:
    """`--registry NAME=URL` pairs; a name given more than once runs several instances."""
    found: dict[str, list[str]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not value:
            raise ValueError(f"--registry {item!r} is not NAME=URL")
        found.setdefault(name, []).append(value)
    return {name: urls[0] if len(urls) == 1 else urls for name, urls in found.items()}


def _record_coverage(path: str | None) -> None:
    """Write every answer to `path` (the harness plugin's --harness-coverage sets it, so live mocks count too)."""
    if path:
        from mocks.engine import OBSERVERS
        from mocks.observed import LineLog, mock_observer

        OBSERVERS.append(mock_observer(LineLog(Path(path)), "suites"))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from mocks.app import create_app
    from mocks.contract import load_contract
    from mocks.registry import build_mock

    settings = MockSettings(ledger=args.ledger)
    _record_coverage(os.environ.get(COVERAGE_ENV))
    if args.name in SERVICES:
        registry = _instances(args.registry)
        app = build_mock(args.name, registry=registry, settings=settings, contracts_dir=args.contracts_dir)
        port = args.port or SERVICES[args.name].default_port
    elif Path(args.name).suffix.lower() in (".yaml", ".yml", ".json") or Path(args.name).exists():
        app = create_app(load_contract(args.name, seed=args.seed), settings=settings)
        for warning in app.engine.contract.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        port = args.port or ANY_CONTRACT_PORT
    else:
        raise ValueError(f"{args.name!r} is neither a service ({', '.join(sorted(SERVICES))}) nor a contract file")
    if args.require_tokens_from:
        app.engine.token_check = IntrospectionCheck(args.require_tokens_from)
    if args.otlp_endpoint:
        service_name = args.name if args.name in SERVICES else Path(args.name).stem
        app.engine.tracing = MockTracing(otlp_provider(service_name, args.otlp_endpoint))
    config = uvicorn.Config(
        app,
        host=args.host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        **_tls_options(args),
    )
    # a socket `up` bound and handed over: no window in which another process takes the port
    # What the contract compiled to lives as long as the process: out of the collector's sight, a
    # full collection no longer walks it (with 10,000 operations one took 100 ms, a p99 of its own)
    gc.collect()
    gc.freeze()
    sockets = [socket.socket(fileno=args.fd)] if args.fd is not None else None
    try:
        uvicorn.Server(config).run(sockets=sockets)
    finally:
        app.engine.tracing.shutdown()  # the last spans are sent before the process ends
    return 0


def _tls_options(args: argparse.Namespace) -> dict[str, Any]:
    """Uvicorn's TLS settings from `serve --tls-*` (none: plain HTTP)."""
    if args.tls_cert is None:
        if args.tls_key is not None or args.tls_client_ca is not None:
            raise ValueError("--tls-key and --tls-client-ca need --tls-cert")
        return {}
    if args.tls_key is None:
        raise ValueError("--tls-cert needs --tls-key")
    options: dict[str, Any] = {"ssl_certfile": str(args.tls_cert), "ssl_keyfile": str(args.tls_key)}
    if args.tls_client_ca is not None:
        options |= {"ssl_ca_certs": str(args.tls_client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    return options


@dataclass
class Child:
    """A process `up` started, where it answers, and what the table says of it."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    detail: str
    start: Callable[[], subprocess.Popen[bytes]]  # starts it again, the same way
    release: Callable[[], None] = lambda: None  # what `up` holds for it, let go while it is stopped


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class Plan:
    """Where everything of `up` will listen, checked before anything starts.

    The mocks' sockets are bound here, by `up` itself (port 0: any free one), and handed to
    each mock: a port is never released and taken again, so nothing else can take it between.
    """

    ports: dict[str, int]
    urls: dict[str, str]
    host_in_url: str
    redis_binary: str | None
    sockets: dict[str, socket.socket]
    tls: Path | None = None  # the dev CA's folder (`--tls`): ca.pem, <name>.pem, <name>.key

    def cert(self, name: str) -> tuple[str, str]:
        """(certificate, key) of `name` in the dev CA's folder."""
        assert self.tls is not None
        return str(self.tls / f"{name}.pem"), str(self.tls / f"{name}.key")

    def probe_context(self) -> ssl.SSLContext | None:
        """How `up` itself connects to its servers: trusting the dev CA, presenting the order service's certificate."""
        if self.tls is None:
            return None
        context = ssl.create_default_context(cafile=str(self.tls / "ca.pem"))
        context.load_cert_chain(*self.cert(TLS_CLIENT))
        return context


def _plan(args: argparse.Namespace) -> Plan:
    """Ports and URLs of every server; ValueError or OSError on an unknown name, a missing contract, a busy port."""
    overrides = {name: int(port) for name, port in _pairs(args.port, "--port").items()}
    unknown = set(overrides) - set(SERVICES)
    if unknown:
        raise ValueError(f"--port names unknown services {sorted(unknown)}")
    wanted = {name: overrides.get(name, spec.default_port) for name, spec in SERVICES.items()}
    for spec in SERVICES.values():
        spec.contract_path(args.contracts_dir).stat()  # a missing contract fails here, by name
    sockets: dict[str, socket.socket] = {}
    busy = []
    for name, port in wanted.items():
        try:
            sockets[name] = _listen(args.host, port)
        except OSError:
            busy.append(f"{name} ({port})")
    ports = {name: int(sock.getsockname()[1]) for name, sock in sockets.items()}
    if not args.no_order_service and not _port_free(args.host, args.order_service_port):
        busy.append(f"the order service ({args.order_service_port})")
    redis_binary = None if args.no_redis else shutil.which("redis-server")
    if redis_binary and not _port_free(args.host, args.redis_port):
        busy.append(f"redis ({args.redis_port})")
    if busy:
        for sock in sockets.values():
            sock.close()
        raise ValueError("ports already in use: " + ", ".join(busy) + "; choose others with --port NAME=PORT")
    host_in_url = f"[{args.host}]" if ":" in args.host else args.host
    scheme = "https" if args.tls else "http"
    urls = {name: f"{scheme}://{host_in_url}:{port}" for name, port in ports.items()}
    return Plan(
        ports, urls, host_in_url, redis_binary, sockets, _dev_tls(args.control_dir / "tls") if args.tls else None
    )


def _dev_tls(folder: Path) -> Path:
    """A new dev CA in `folder`: a certificate for every mock, the order service, and each calling identity."""
    from mocks.devca import DevCA

    if folder.exists():
        shutil.rmtree(folder)
    ca = DevCA.create(folder)
    for name in (*SERVICES, REFERENCE):
        ca.issue(name)
    for identity in (TLS_CLIENT, *TLS_CALLERS):
        ca.issue(identity, identity=identity)
    return folder


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 takes a free one."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _start_redis(args: argparse.Namespace, plan: Plan, binary: str) -> Child:
    """A throwaway Redis: no snapshots, no append-only file."""
    command = [binary, "--bind", args.host, "--port", str(args.redis_port), "--save", "", "--appendonly", "no"]
    command += ["--protected-mode", "no"]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL)

    return Child("redis", f"redis://{plan.host_in_url}:{args.redis_port}/0", start(), "throwaway", start)


def _start_mock(args: argparse.Namespace, plan: Plan, name: str) -> Child:
    """`python -m mocks serve NAME` as a child; the config-service mock gets every mock's address.

    `up` keeps the mock's listening socket: a mock started again after a crash listens on it
    at once. Stopped on request, the socket is closed too (the port refuses, as a service that
    is down does) and bound again when the mock is started.
    """
    port = plan.ports[name]
    command = [sys.executable, "-m", "mocks", "serve", name, "--host", args.host, "--port", str(port)]
    command += ["--contracts-dir", str(args.contracts_dir), "--ledger", str(args.control_dir / f"{name}.ledger")]
    if name == CONFIG_SERVICE:
        command += [f"--registry={other}={url}" for other, url in plan.urls.items()]
    if plan.tls is not None:
        cert, key = plan.cert(name)
        command += ["--tls-cert", cert, "--tls-key", key, "--tls-client-ca", str(plan.tls / "ca.pem")]
    if args.require_service_tokens and name in TOKEN_OWNERS:
        command += ["--require-tokens-from", plan.urls[AUTH_SERVICE] + "/oauth/introspect"]
    if args.otlp_endpoint:
        command += ["--otlp-endpoint", args.otlp_endpoint]

    def start() -> subprocess.Popen[bytes]:
        if plan.sockets[name].fileno() == -1:  # closed by a stop on request
            plan.sockets[name] = _listen(args.host, port)
        fd = plan.sockets[name].fileno()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        return subprocess.Popen([*command, "--fd", str(fd)], env=env, pass_fds=(fd,))

    contract = os.path.relpath(SERVICES[name].contract_path(args.contracts_dir))
    return Child(name, plan.urls[name], start(), contract, start, release=lambda: plan.sockets[name].close())


def _database(args: argparse.Namespace, servers: list[PostgresServer]) -> tuple[str | None, str]:
    """The order service's database URL (None: in memory) and what the table says of it."""
    if args.database_url:
        return args.database_url, "given (--database-url)"
    if args.no_postgres or not postgres_available():
        why = "--no-postgres" if args.no_postgres else "no PostgreSQL server binaries (initdb)"
        print(f"note: the order service keeps its orders in memory ({why})", file=sys.stderr)
        return None, ""
    server = PostgresServer.create(args.postgres_port)
    servers.append(server)
    server.start(*args.postgres_setting)
    return server.url, f"throwaway, {server.root}"


def _spawn(args: argparse.Namespace, plan: Plan, children: list[Child], servers: list[PostgresServer]) -> str | None:
    """Start Redis, the mocks and (with Redis) PostgreSQL and the order service into `children`, each waited for."""
    if plan.redis_binary:
        children.append(_start_redis(args, plan, plan.redis_binary))
    children.extend(_start_mock(args, plan, name) for name in SERVICES)
    started = time.monotonic()
    _wait_ready(children, args.host, args.redis_port, args.ready_timeout, plan.probe_context())
    database: str | None = None
    if plan.redis_binary and not args.no_order_service:
        database, detail = _database(args, servers)
        children.append(_start_order_service(args, plan, database))
        _wait_ready(children[-1:], args.host, args.redis_port, args.ready_timeout, plan.probe_context())
    print(f"\nall mocks ready in {time.monotonic() - started:.2f} s\n")
    _print_table(children)
    if database:
        print(f"\norder service database: {database} ({detail})")
    if plan.tls is not None:
        print(f"\nmutual TLS: the CA is {plan.tls / 'ca.pem'}; each caller's certificate and key are")
        print(f"{plan.tls}/<identity>.pem and .key ({', '.join(TLS_CALLERS)}; the order service's: {TLS_CLIENT})")
    if any(child.name == "order-service*" for child in children):
        print("\n* the reference order service: python -m order_service.security POST <url>/orders --data ...")
    print("\nCtrl-C stops everything.", flush=True)
    return database


def _control(args: argparse.Namespace) -> int:
    """`stop NAME` / `start NAME`: leave or remove the marker the running `up` acts on."""
    pid_file = args.control_dir / "up.pid"
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (OSError, ValueError):
        print(f"error: no `mocks up` runs with the control folder {args.control_dir}", file=sys.stderr)
        return 2
    marker = args.control_dir / f"{args.name}.stopped"
    if args.command == "stop":
        marker.touch()
    else:
        marker.unlink(missing_ok=True)
    print(f"{args.name}: asked to {args.command} (see the output of `mocks up`)")
    return 0


def _control_name(child: Child) -> str:
    return REFERENCE if child.name == "order-service*" else child.name


def _supervise(children: list[Child], stopping: Callable[[], bool], control: Path) -> int:
    """Until asked to stop (then 0): a child that exits on its own is reported and started again, with backoff.

    A child with a marker in `control` (`mocks stop NAME`) is stopped and stays down until the
    marker goes (`mocks start NAME`).
    """
    restarts: dict[str, int] = {}
    due: dict[str, float] = {}
    held: set[str] = set()
    while not stopping():
        now = time.monotonic()
        for child in children:
            name = _control_name(child)
            if (control / f"{name}.stopped").exists():
                if name not in held:
                    held.add(name)
                    due.pop(child.name, None)
                    _stop_all([child])
                    child.release()
                    print(f"{name}: stopped on request (`mocks start {name}` starts it again)", flush=True)
                continue
            if name in held:
                held.discard(name)
                child.process = child.start()
                print(f"{name}: started on request (pid {child.process.pid})", flush=True)
                continue
            if child.process.poll() is None:
                continue
            if child.name not in due:
                count = restarts.get(child.name, 0)
                wait = min(RESTART_BACKOFF_MAX_S, 0.5 * 2**count)
                due[child.name] = now + wait
                print(
                    f"error: {child.name} exited with status {child.process.returncode}; "
                    f"starting it again in {wait:.1f} s (restart {count + 1})",
                    file=sys.stderr,
                    flush=True,
                )
            elif now >= due[child.name]:
                del due[child.name]
                restarts[child.name] = restarts.get(child.name, 0) + 1
                child.process = child.start()
                print(f"{child.name}: started again (pid {child.process.pid})", flush=True)
        time.sleep(0.1)
    print("stopping...", flush=True)
    return 0


def _up(args: argparse.Namespace) -> int:
    plan = _plan(args)
    children: list[Child] = []
    servers: list[PostgresServer] = []
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    control: Path = args.control_dir
    control.mkdir(parents=True, exist_ok=True)
    for stale in [*control.glob("*.stopped"), *control.glob("*.ledger")]:
        stale.unlink()
    (control / "up.pid").write_text(str(os.getpid()))
    try:
        database = _spawn(args, plan, children, servers)
        if args.ready_file is not None:
            _write_ready_file(args.ready_file, children, database, plan.tls)
        return _supervise(children, stop.is_set, control)
    finally:
        (control / "up.pid").unlink(missing_ok=True)
        _stop_all(children)
        for server in servers:
            server.remove()
        for sock in plan.sockets.values():
            sock.close()
        if args.ready_file is not None:
            args.ready_file.unlink(missing_ok=True)


def _write_ready_file(path: Path, children: list[Child], database: str | None, tls: Path | None = None) -> None:
    """The machine-readable twin of the table, written whole (a reader never sees half a file)."""
    urls = {child.name: child.url for child in children}
    ready = {
        "pid": os.getpid(),
        "mocks": {name: urls[name] for name in SERVICES},
        "redis": urls.get("redis"),
        "order_service": urls.get("order-service*"),
        "database": database,
        "tls": str(tls.resolve()) if tls is not None else None,
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(ready, indent=2) + "\n")
    partial.replace(path)


def _start_order_service(args: argparse.Namespace, plan: Plan, database: str | None) -> Child:
    """The reference order service (a separate program: the mocks do not import it) on the mocks and Redis."""
    urls, host_in_url = plan.urls, plan.host_in_url
    env = {
        **os.environ,
        **({"ORDER_SERVICE_DATABASE_URL": database} if database else {}),
        "ORDER_SERVICE_REDIS_URL": f"redis://{host_in_url}:{args.redis_port}/0",
        "ORDER_SERVICE_CONFIG_SERVICE_URL": urls[CONFIG_SERVICE],
        "ORDER_SERVICE_FALLBACK_URLS": json.dumps({n: u for n, u in urls.items() if n != CONFIG_SERVICE}),
        "PYTHONUNBUFFERED": "1",
        **({"ORDER_SERVICE_SERVICE_TOKENS__ENABLED": "true"} if args.require_service_tokens else {}),
        **(
            {"ORDER_SERVICE_TRACING__EXPORTER": "otlp", "ORDER_SERVICE_TRACING__OTLP_ENDPOINT": args.otlp_endpoint}
            if args.otlp_endpoint
            else {}
        ),
        **_order_service_tls(plan),
    }
    command = [
        sys.executable,
        "-m",
        "order_service",
        "serve",
        "--dev",
        "--host",
        args.host,
        "--port",
        str(args.order_service_port),
    ]
    url = f"{'https' if plan.tls else 'http'}://{host_in_url}:{args.order_service_port}"

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, env=env)

    return Child("order-service*", url, start(), "reference implementation, dev keys", start)


def _order_service_tls(plan: Plan) -> dict[str, str]:
    """The order service's TLS settings under `--tls`: it serves mutual TLS, and presents its certificate."""
    if plan.tls is None:
        return {}
    cert, key = plan.cert(REFERENCE)
    client_cert, client_key = plan.cert(TLS_CLIENT)
    ca = str(plan.tls / "ca.pem")
    return {
        "ORDER_SERVICE_SERVER__TLS_CERTFILE": cert,
        "ORDER_SERVICE_SERVER__TLS_KEYFILE": key,
        "ORDER_SERVICE_SERVER__TLS_CLIENT_CA": ca,
        "ORDER_SERVICE_HTTP__TLS_CA_FILE": ca,
        "ORDER_SERVICE_HTTP__TLS_CERTFILE": client_cert,
        "ORDER_SERVICE_HTTP__TLS_KEYFILE": client_key,
    }


def _wait_ready(
    children: list[Child], host: str, redis_port: int, timeout: float, context: ssl.SSLContext | None = None
) -> None:
    deadline = time.monotonic() + timeout
    pending = list(children)
    while pending:
        for child in list(pending):
            if child.process.poll() is not None:
                raise OSError(f"{child.name} exited with status {child.process.returncode} before it was ready")
            if _answers(child, host, redis_port, context):
                pending.remove(child)
        if pending and time.monotonic() > deadline:
            raise OSError(f"not ready after {timeout:.0f} s: " + ", ".join(c.name for c in pending))
        if pending:
            time.sleep(0.05)


def _answers(child: Child, host: str, redis_port: int, context: ssl.SSLContext | None) -> bool:
    if child.name == "redis":
        try:
            with socket.create_connection((host, redis_port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False
    probe = child.url + ("/health/ready" if child.name == "order-service*" else ADMIN_PREFIX + "/health")
    try:
        with urllib.request.urlopen(probe, timeout=0.5, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _print_table(children: list[Child]) -> None:
    rows = [("service", "url", "contract", "admin")]
    for child in children:
        admin = child.url + ADMIN_PREFIX if child.name not in ("redis", "order-service*") else "-"
        rows.append((child.name, child.url, child.detail, admin))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _stop_all(children: list[Child]) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    deadline = time.monotonic() + 5
    for child in children:
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
