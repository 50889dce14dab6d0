"""The crash tier's clients: signed orders, changes, cancellations, reads and replays, as callers do.

Each client is one calling service of the service matrix at a time (the identity is drawn
per call from those the matrix lets do the operation), holding a user token for the round's
accounts. It places orders under a fresh Idempotency-Key (half of them MARKET orders under
a strategy, so the fill commits a P&L sync) and retries a timeout, a cut connection or a 5xx
under the same key, re-signed, as a real client would; it modifies and cancels orders it
was answered, reads them, and now and then re-sends, byte for byte, a signed request it
captured earlier (a replay: it must be refused). Every attempt is a `Call` in the history.
Calls go to a replica drawn at random (the clients' load balancer).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from harness.chaos.history import Call, OpKind, Outcome

# Which identities may do what (the seed's service matrix); the workload draws from these.
MATRIX: dict[OpKind, tuple[str, ...]] = {
    "place": ("algo_engine", "user_interface", "strategy_service"),
    "modify": ("algo_engine", "strategy_service"),
    "cancel": ("algo_engine", "user_interface", "risk_manager"),
    "get": ("user_interface",),
}
WEIGHTS: dict[OpKind, int] = {"place": 60, "modify": 10, "cancel": 10, "get": 10, "replay": 10}
TRIES = 4
STRATEGY_ID = 42


@dataclass(frozen=True)
class WorkloadConfig:
    """What the clients do: where, how many, for how long, how patient."""

    replicas: Sequence[str]
    accounts: Sequence[str]
    clients: int = 6
    seconds: float = 60.0
    timeout: float = 5.0
    pace: float = 0.05  # seconds between a client's operations
    seed: int = 0


Signer = Callable[[str], httpx.Auth]  # identity -> its request signer


@dataclass(frozen=True)
class Captured:
    """A signed request as it went on the wire, to send again."""

    key: str
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass
class _Client:
    number: int
    config: WorkloadConfig
    signer: Signer
    token: str
    http: httpx.AsyncClient
    rng: random.Random
    run: str
    calls: list[Call]
    orders: list[tuple[str, str]] = field(default_factory=list)  # (account, order id) answered to this client
    captured: list[Captured] = field(default_factory=list)
    sent: int = 0

    async def loop(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            kind = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
            if kind != "place" and not self.orders:
                kind = "place"
            if kind == "replay" and not self.captured:
                kind = "get"
            await getattr(self, kind)()
            await asyncio.sleep(self.config.pace * self.rng.uniform(0.5, 1.5))

    def _key(self) -> str:
        self.sent += 1
        return f"{self.run}c{self.number}n{self.sent:05d}"

    def _order_body(self, key: str) -> dict[str, object]:
        body: dict[str, object] = {
            "exchange": "NSE",
            "tradingsymbol": self.rng.choice(["INFY", "TCS", "HDFCBANK"]),
            "transaction_type": self.rng.choice(["BUY", "SELL"]),
            "product": "MIS",
            "quantity": self.rng.randint(1, 20),
            "tag": key,
        }
        if self.rng.random() < 0.5:
            body |= {"order_type": "MARKET", "strategy_id": STRATEGY_ID}
        else:
            body |= {"order_type": "LIMIT", "price": str(self.rng.randint(100, 2000))}
        return body

    async def place(self) -> None:
        key = self._key()
        account = self.rng.choice(list(self.config.accounts))
        body = json.dumps(self._order_body(key)).encode()
        for attempt in range(TRIES):
            identity = self.rng.choice(MATRIX["place"])
            request = self._request("POST", "/orders", identity, account, body, key)
            call = await self._send(request, "place", identity, key=key)
            if call.outcome == "ok" and call.answered_id:
                self.orders.append((account, call.answered_id))
                if attempt == 0 and len(self.captured) < 50:
                    self.captured.append(_capture(key, request, body))
            if call.outcome != "unknown":
                return
            await asyncio.sleep(0.2 * 2**attempt)

    async def modify(self) -> None:
        account, order_id = self.rng.choice(self.orders)
        change: dict[str, object] = {"quantity": self.rng.randint(1, 30)}
        if self.rng.random() < 0.3:
            change = {"order_type": "MARKET"}  # a fill: a P&L sync when the order has a strategy
        await self._retried("PATCH", f"/orders/{order_id}", "modify", account, order_id, json.dumps(change).encode())

    async def cancel(self) -> None:
        account, order_id = self.rng.choice(self.orders)
        await self._retried("DELETE", f"/orders/{order_id}", "cancel", account, order_id, b"")

    async def get(self) -> None:
        account, order_id = self.rng.choice(self.orders)
        await self._retried("GET", f"/orders/{order_id}", "get", account, order_id, b"")

    async def replay(self) -> None:
        captured = self.rng.choice(self.captured)
        request = httpx.Request(captured.method, captured.url, headers=list(captured.headers), content=captured.body)
        request.url = request.url.copy_with(netloc=httpx.URL(self.rng.choice(self.config.replicas)).netloc)
        await self._send(request, "replay", "", replay_of=captured.key)

    async def _retried(self, method: str, path: str, kind: OpKind, account: str, order_id: str, body: bytes) -> None:
        for attempt in range(TRIES):
            identity = self.rng.choice(MATRIX[kind])
            request = self._request(method, path, identity, account, body, None)
            call = await self._send(request, kind, identity, order_id=order_id)
            if call.outcome != "unknown":
                return
            await asyncio.sleep(0.2 * 2**attempt)

    def _request(
        self, method: str, path: str, identity: str, account: str, body: bytes, key: str | None
    ) -> httpx.Request:
        headers = {"authorization": f"Bearer {self.token}", "x-trading-account-id": account}
        if body:
            headers["content-type"] = "application/json"
        if key:
            headers["idempotency-key"] = key
        url = self.rng.choice(list(self.config.replicas)) + path
        request = httpx.Request(method, url, headers=headers, content=body)
        flow = self.signer(identity).auth_flow(request)
        return next(flow)

    async def _send(self, request: httpx.Request, kind: OpKind, identity: str, **named: str | None) -> Call:
        began = time.time()
        status: int | None = None
        answered: str | None = None
        error = ""
        try:
            response = await self.http.send(request)
            status = response.status_code
            outcome = _outcome(status)
            if outcome == "ok" and kind != "get":
                answered = _order_id(response)
        except httpx.HTTPError as exc:
            outcome, error = "unknown", f"{type(exc).__name__}: {exc}"[:200]
        call = Call(
            client=self.number,
            kind=kind,
            start=began,
            end=time.time(),
            outcome=outcome,
            status=status,
            answered_id=answered,
            identity=identity,
            replica=str(request.url.netloc.decode()),
            error=error,
            **named,
        )
        self.calls.append(call)
        return call


def _outcome(status: int) -> Outcome:
    if status < 300:
        return "ok"
    # A 503 says "not done", but a commit whose answer was lost looks the same from here: the
    # client retries it like any 5xx, and the checker asks the stores.
    return "refused" if status < 500 else "unknown"


def _order_id(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    found = data.get("order_id") if isinstance(data, dict) else None
    return str(found) if found is not None else None


def _capture(key: str, request: httpx.Request, body: bytes) -> Captured:
    headers = tuple((name, value) for name, value in request.headers.items() if name != "content-length")
    return Captured(key, request.method, str(request.url), headers, body)


async def run_workload(config: WorkloadConfig, signer: Signer, token: str) -> list[Call]:
    """Run the clients until `config.seconds` pass; every call they made, in the order they ended."""
    calls: list[Call] = []
    run = uuid.uuid4().hex[:4]
    deadline = time.monotonic() + config.seconds
    limits = httpx.Limits(max_connections=4 * config.clients, keepalive_expiry=2.0)
    async with httpx.AsyncClient(timeout=config.timeout, limits=limits) as http:
        clients = [
            _Client(n, config, signer, token, http, random.Random(config.seed * 1000 + n), run, calls)
            for n in range(config.clients)
        ]
        await asyncio.gather(*(client.loop(deadline) for client in clients))
    return calls
