"""The shared base of every service client.

One pooled `httpx.AsyncClient` per client, connect/read timeouts, bounded retries (with
backoff, jitter and Retry-After) of idempotent calls only, the service's circuit breaker,
discovery of the base URL, strict parsing of answers into contract models, and the
fallbacks of `order_service.fallbacks`. httpx's errors become `order_service.errors` in
`map_transport_errors`, the one boundary where that happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

import httpx
import orjson
from opentelemetry.trace import StatusCode
from pydantic import ValidationError

from order_service import tracing
from order_service.clients.balancer import Balancer, BalancerBoard, Instance
from order_service.clients.breaker import BreakerBoard, CircuitBreaker
from order_service.clients.models import ContractModel
from order_service.clients.retry import RetryPolicy, parse_retry_after
from order_service.clients.tokens import TokenUnavailableError
from order_service.errors import (
    CircuitOpenError,
    ContractViolationError,
    Mismatch,
    ServiceError,
    ServiceNotFoundError,
    ServiceRejectedError,
    ServiceTimeoutError,
    ServiceUnavailableError,
)
from order_service.fallbacks import FALLBACKS, Fallback
from order_service.fallbacks.outbox import Deferred, Delivery, Outbox, OutboxItem
from order_service.fallbacks.stale import StaleCache
from order_service.metrics import ClientMetrics
from order_service.security.mtls import CertificateReloader
from order_service.settings import HttpSettings, Settings

log = logging.getLogger("order_service.clients")

T = TypeVar("T", bound=ContractModel)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class Resolver(Protocol):
    """Where a service is: discovery, or anything that answers the same."""

    async def resolve(self, service: str) -> str:
        """The base URL of `service`."""

    async def resolve_all(self, service: str) -> list[tuple[str, int]]:
        """Every instance of `service` as (base URL without a trailing slash, weight)."""

    def invalidate(self, service: str) -> None:
        """Forget where `service` is (after a connection failure)."""


@dataclass(frozen=True)
class Call(Generic[T]):
    """One contract operation to perform."""

    operation: str
    method: str
    path: str
    model: type[T]
    success: frozenset[int] = frozenset({200})
    params: Mapping[str, Any] | None = None
    body: Any = None
    idempotency_key: str | None = None
    cache_key: Hashable = field(default=None, compare=False)

    @property
    def idempotent(self) -> bool:
        """Whether the call may be retried: a safe method, or a write with an Idempotency-Key."""
        return self.method in IDEMPOTENT_METHODS or self.idempotency_key is not None


def tls_context(http: HttpSettings) -> ssl.SSLContext | bool:
    """What the clients verify servers with (the system's CAs, or `tls_ca_file`), with a client certificate.

    The certificate (`tls_certfile`, `tls_keyfile`) is presented to servers that ask for one (mutual TLS).
    One context per set of files, shared by every client, and watched: a rotated certificate or CA
    is used by new connections without a restart.
    """
    if http.tls_ca_file is None and http.tls_certfile is None:
        return True
    files = (http.tls_ca_file, http.tls_certfile, http.tls_keyfile)
    with _TLS_LOCK:
        known = _TLS_CONTEXTS.get(files)
        if known is not None:
            return known
        context = ssl.create_default_context(cafile=str(http.tls_ca_file) if http.tls_ca_file else None)
        if http.tls_certfile is not None:
            if http.tls_keyfile is None:
                raise ValueError("http.tls_certfile needs http.tls_keyfile")
            context.load_cert_chain(http.tls_certfile, http.tls_keyfile)
            CertificateReloader(context, http.tls_certfile, http.tls_keyfile, http.tls_ca_file).start()
        _TLS_CONTEXTS[files] = context
        return context


_TLS_CONTEXTS: dict[tuple[Path | None, ...], ssl.SSLContext] = {}
_TLS_LOCK = threading.Lock()


def new_idempotency_key(operation: str) -> str:
    """A fresh Idempotency-Key for one write of `operation` (its retries and replays reuse it)."""
    return f"{operation}-{uuid.uuid4().hex}"


@contextlib.contextmanager
def map_transport_errors(service: str, operation: str) -> Iterator[None]:
    """Translate httpx's transport errors into the client's own: the only place they are translated."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ServiceTimeoutError(
            f"{service} {operation}: no answer in time ({type(exc).__name__})", service=service, operation=operation
        ) from exc
    except httpx.TransportError as exc:
        raise ServiceUnavailableError(
            f"{service} {operation}: cannot reach the service ({type(exc).__name__}: {exc})",
            service=service,
            operation=operation,
        ) from exc
    except AttributeError as exc:
        # httpcore on anyio asks a just-connected socket for its peer; when the link was reset in
        # between, the socket is gone and this AttributeError comes out instead of a network
        # error (found by the crash tier: a cut link answered 500). Any other one is a bug.
        if "getpeername" not in str(exc):
            raise
        raise ServiceUnavailableError(
            f"{service} {operation}: the connection was reset as it opened ({exc})",
            service=service,
            operation=operation,
        ) from exc


class ServiceClient:
    """Base of the strategy, account, analytics and config clients."""

    service: ClassVar[str]

    def __init__(
        self,
        *,
        base_url: str | None = None,
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        settings: Settings | None = None,
        breakers: BreakerBoard | None = None,
        balancers: BalancerBoard | None = None,
        metrics: ClientMetrics | None = None,
        outbox: Outbox | None = None,
        stale: StaleCache | None = None,
        auth: httpx.Auth | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if base_url is None and resolver is None:
            raise ValueError(f"{type(self).__name__} needs a base_url or a resolver (discovery)")
        self.settings = settings or Settings()
        self._base_url = base_url.rstrip("/") if base_url else None
        self._fixed = [(self._base_url, 1)] if self._base_url else []
        self._resolver = resolver
        self._transport = transport
        self._auth = auth
        self.breaker: CircuitBreaker = (breakers or BreakerBoard(self.settings.breaker)).get(self.service)
        self.balancer: Balancer = (balancers or BalancerBoard(self.settings.load_balancing)).get(self.service)
        self.metrics = metrics or ClientMetrics()
        self._outbox = outbox
        self._stale = stale if stale is not None else StaleCache()
        self._flights: dict[Hashable, asyncio.Future[Any]] = {}
        self._retry = RetryPolicy(self.settings.retry, rand=rand)
        self._sleep = sleep
        self._client: httpx.AsyncClient | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            http = self.settings.http
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(
                    connect=http.connect_timeout,
                    read=http.read_timeout,
                    write=http.write_timeout,
                    pool=http.pool_timeout,
                ),
                limits=httpx.Limits(
                    max_connections=http.max_connections, max_keepalive_connections=http.max_keepalive_connections
                ),
                headers={"accept": "application/json"},
                auth=self._auth,
                verify=tls_context(http),
                trust_env=False,  # settings, not the environment, say where services are
            )
        return self._client

    async def aclose(self) -> None:
        """Close the pooled connections."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def base_url(self) -> str:
        """Where the service is now: the fixed base URL, or discovery's answer (its first instance)."""
        if self._base_url is not None:
            return self._base_url
        assert self._resolver is not None
        return (await self._resolver.resolve(self.service)).rstrip("/")

    async def _instance(self, avoid: Collection[str]) -> Instance:
        """The instance for the next attempt: the balancer's pick among discovery's current set."""
        if self._resolver is not None and self._base_url is None:
            self.balancer.update(await self._resolver.resolve_all(self.service))  # cached; normalised by discovery
        else:
            self.balancer.update(self._fixed)
        return self.balancer.pick(avoid)

    # -- one call ------------------------------------------------------------------------
    async def _send(self, call: Call[T], *, retries: bool = True) -> httpx.Response:
        """Perform a call until a final answer: a documented success, or an error raised."""
        headers = {"idempotency-key": call.idempotency_key} if call.idempotency_key else {}
        attempt = 0
        failed_on: set[str] = set()  # instances this call failed on: a retry goes elsewhere if it can
        while True:
            attempt += 1
            if not self.breaker.allow():
                raise CircuitOpenError(
                    f"{self.service} {call.operation}: circuit open after "
                    f"{self.breaker.consecutive_failures} consecutive failures",
                    service=self.service,
                    operation=call.operation,
                )
            retry_after: float | None = None
            instance: Instance | None = None
            try:
                instance = await self._instance(failed_on)
                started = time.perf_counter()
                try:
                    response = await self._attempt(call, instance.url + call.path, headers, attempt)
                except ServiceError:
                    self.balancer.done(instance, ok=False, seconds=time.perf_counter() - started)
                    raise
                self.balancer.done(instance, ok=response.status_code < 500, seconds=time.perf_counter() - started)
                if response.status_code == 429 or response.status_code >= 500:
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                    raise ServiceUnavailableError(
                        f"{self.service} {call.operation}: answered {response.status_code}"
                        + (f" (retry after {retry_after:.0f} s)" if retry_after is not None else ""),
                        service=self.service,
                        operation=call.operation,
                        retry_after=retry_after,
                    )
            except (ServiceUnavailableError, ServiceTimeoutError) as exc:
                if not isinstance(exc, TokenUnavailableError):  # the auth service's outage, not the owner's
                    self.breaker.record_failure()
                if instance is not None:
                    failed_on.add(instance.url)
                alone = len(self.balancer.instances) <= 1  # with several, the balancer ejects the dead one
                if isinstance(exc.__cause__, httpx.ConnectError) and self._resolver is not None and alone:
                    self._resolver.invalidate(self.service)  # it may have moved: resolve it again
                if not (retries and call.idempotent and self._retry.may_retry(attempt)):
                    raise
                self.metrics.retries.labels(self.service, call.operation).inc()
                await self._sleep(self._retry.delay(attempt, retry_after))
                continue
            self.breaker.record_success()
            return self._check_status(call, response)

    async def _attempt(self, call: Call[T], url: str, headers: dict[str, str], attempt: int) -> httpx.Response:
        """One request on the wire, a client span around it when traced (its `traceparent` goes along)."""
        if not tracing.enabled():
            with map_transport_errors(self.service, call.operation):
                return await self._http().request(call.method, url, params=call.params, json=call.body, headers=headers)
        attributes = {
            "peer.service": self.service,
            "rpc.method": call.operation,
            "http.request.method": call.method,
            "url.full": url,
            "http.request.resend_count": attempt - 1 or None,
        }
        with tracing.span(f"{self.service} {call.operation}", attributes, kind=tracing.CLIENT) as span:
            traced = dict(headers)
            tracing.inject(traced)
            with map_transport_errors(self.service, call.operation):
                response = await self._http().request(
                    call.method, url, params=call.params, json=call.body, headers=traced
                )
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(StatusCode.ERROR, f"answered {response.status_code}")
            return response

    def _check_status(self, call: Call[T], response: httpx.Response) -> httpx.Response:
        status = response.status_code
        if status in call.success:
            return response
        body = _json_or_text(response)
        message = body.get("message") if isinstance(body, dict) else None
        where = f"{self.service} {call.operation}"
        if status == 404:
            raise ServiceNotFoundError(
                f"{where}: {message or 'not found'}", service=self.service, operation=call.operation
            )
        if 400 <= status < 500:
            raise ServiceRejectedError(
                f"{where}: refused with {status}: {message or body}",
                service=self.service,
                operation=call.operation,
                status=status,
                body=body,
            )
        raise ContractViolationError(
            f"{where}: answered {status}, which the contract does not document",
            service=self.service,
            operation=call.operation,
            mismatches=(Mismatch("", f"status {status} is not one of {sorted(call.success)}"),),
        )

    def _parse(self, call: Call[T], response: httpx.Response) -> T:
        try:
            return call.model.model_validate_json(response.content)
        except ValidationError as exc:
            mismatches = tuple(
                Mismatch(".".join(str(part) for part in error["loc"]), error["msg"]) for error in exc.errors()
            )
            raise ContractViolationError(
                f"{self.service} {call.operation}: the answer breaks the contract",
                service=self.service,
                operation=call.operation,
                mismatches=mismatches,
            ) from exc

    async def _perform(self, call: Call[T]) -> T:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return self._parse(call, await self._send(call))
        except ServiceError as exc:
            outcome = _outcome(exc)
            raise
        finally:
            self.metrics.request_duration.labels(self.service, call.operation, outcome).observe(
                time.perf_counter() - started
            )

    # -- with fallbacks ------------------------------------------------------------------
    async def _read(self, call: Call[T]) -> T:
        """A read; identical reads in flight at the same moment share one request (and its answer or error).

        Under load many orders validate the same strategy at once: one request answers them
        all, and the answer is no older than the request each caller would have sent.
        """
        key = (call.method, call.path, tuple(sorted((call.params or {}).items())))
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._read_once(call))
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        result: T = await asyncio.shield(flight)  # one caller cancelled does not cancel the others' request
        return result

    def _landed(self, key: Hashable, flight: asyncio.Future[Any]) -> None:
        self._flights.pop(key, None)
        if not flight.cancelled():
            flight.exception()  # retrieved here, so an error every caller abandoned is not reported as lost

    async def _read_once(self, call: Call[T]) -> T:
        """A read; while the owner is unavailable, the last known answer, marked stale."""
        key = (self.service, call.operation, call.cache_key)
        fallback = FALLBACKS.get((self.service, call.operation), Fallback.NONE)
        try:
            result = await self._perform(call)
        except (ServiceUnavailableError, ServiceTimeoutError) as exc:
            remembered = self._stale.get(key, self.settings.stale_max_age) if fallback is Fallback.STALE_READ else None
            if remembered is None:
                raise
            self.metrics.fallbacks.labels(self.service, call.operation, "stale_read").inc()
            log.warning("SERVICE_FALLBACK stale read of %s %s: %s", self.service, call.operation, exc)
            assert isinstance(remembered.value, call.model)
            return remembered.value.as_stale(remembered.at_wall)  # type: ignore[return-value]
        if fallback is Fallback.STALE_READ:
            self._stale.put(key, result)
        return result

    async def _write(self, call: Call[T]) -> T | Deferred:
        """A write; while the owner is unavailable (or older writes wait), kept in the outbox."""
        fallback = FALLBACKS.get((self.service, call.operation), Fallback.NONE)
        keeps = fallback is Fallback.OUTBOX and self._outbox is not None
        if keeps and self._outbox is not None and await self._outbox.depth(self.service) > 0:
            return await self._keep(call, "older writes to this service are still waiting")
        try:
            return await self._perform(call)
        except (ServiceUnavailableError, ServiceTimeoutError) as exc:
            if not keeps:
                raise
            return await self._keep(call, str(exc))

    async def _keep(self, call: Call[T], reason: str) -> Deferred:
        assert self._outbox is not None
        item = OutboxItem(
            service=self.service,
            operation=call.operation,
            method=call.method,
            path=call.path,
            body=call.body,
            idempotency_key=call.idempotency_key,
        )
        await self._outbox.append(item)
        self.metrics.fallbacks.labels(self.service, call.operation, "outbox").inc()
        self.metrics.outbox_depth.labels(self.service).set(await self._outbox.depth(self.service))
        log.warning("SERVICE_FALLBACK outbox %s %s kept as %s: %s", self.service, call.operation, item.id, reason)
        return Deferred(outbox_id=item.id, service=self.service, operation=call.operation)

    async def deliver(self, item: OutboxItem) -> tuple[Delivery, str]:
        """Replay one kept write, once (the relay tries again later)."""
        call: Call[ContractModel] = Call(
            operation=item.operation,
            method=item.method,
            path=item.path,
            model=ContractModel,
            success=frozenset(range(200, 300)),
            body=item.body,
            idempotency_key=item.idempotency_key,
        )
        try:
            await self._send(call, retries=False)
        except (ServiceUnavailableError, ServiceTimeoutError) as exc:
            return "unavailable", str(exc)
        except ServiceError as exc:
            return "rejected", str(exc)
        return "delivered", ""


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text[:500]


def _outcome(exc: ServiceError) -> str:
    for kind, label in (
        (CircuitOpenError, "circuit_open"),
        (ServiceUnavailableError, "unavailable"),
        (ServiceTimeoutError, "timeout"),
        (ServiceNotFoundError, "not_found"),
        (ServiceRejectedError, "rejected"),
        (ContractViolationError, "contract_violation"),
    ):
        if isinstance(exc, kind):
            return label
    return "error"
