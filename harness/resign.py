"""Re-signing replayed requests during provider verification.

A pact keeps the requests its consumer sent, signatures and all; replayed later, their
timestamps are stale and their signatures seen. `ResigningProxy` stands between the pact
verifier and the provider on loopback: each request loses the signing headers it came
with, gets what `prepare` adds (a fresh user token, say), is signed afresh by an
`httpx.Auth` (a new timestamp and nonce; v1 or v2) and goes on to the provider. Each
answer is kept, so the report can tell a refused signature (401 with a `Signature`
challenge) from any other mismatch.

    with ResigningProxy("http://127.0.0.1:8000", dev_signer("algo_engine")) as proxy:
        verify against proxy.url
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from harness.errors import UsageError
from harness.hops import NOT_FORWARDED, NOT_RETURNED
from order_service.security.signing import NEVER_SIGNED, RequestSigner

Prepare = Callable[[httpx.Request], None]
Signer = Callable[[httpx.Request], httpx.Auth]  # the request (its X-Service-Identity) -> who signs it
_DROPPED = NOT_FORWARDED | NEVER_SIGNED  # the recorded signature goes; a fresh one is made


@dataclass(frozen=True)
class Exchange:
    """One replayed request and the provider's answer."""

    method: str
    path: str  # with the query, as the verifier sent it
    status: int
    challenge: str | None  # the answer's WWW-Authenticate
    body: str

    @property
    def signature_refused(self) -> bool:
        """The provider refused the request's signature (not the user token, not the operation)."""
        return self.status == 401 and (self.challenge or "").lower().startswith("signature")


class ResigningProxy:
    """A loopback HTTP server that re-signs every request on its way to `upstream` (see the module doc)."""

    def __init__(self, upstream: str, signer: httpx.Auth | Signer, prepare: Prepare | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self._signer = signer
        self._prepare = prepare
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=30)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="resigning-proxy", daemon=True)

    @property
    def url(self) -> str:
        """Where the verifier sends its requests."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ResigningProxy:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def forward(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> httpx.Response:
        """Send one request on, signed afresh; keep the exchange."""
        kept = [(k, v) for k, v in headers if k.lower() not in _DROPPED]
        identity = next((v for k, v in headers if k.lower() == "x-service-identity"), None)
        request = self._http.build_request(method, self.upstream + target, headers=kept, content=body)
        if identity is not None:
            request.headers["x-service-identity"] = identity  # who the pact says calls, for a per-identity signer
        if self._prepare is not None:
            self._prepare(request)
        signer = self._signer if isinstance(self._signer, httpx.Auth) else self._signer(request)
        answer = self._http.send(request, auth=signer)
        with self._lock:
            self.exchanges.append(
                Exchange(method, target, answer.status_code, answer.headers.get("www-authenticate"), answer.text)
            )
        return answer


def _handler(proxy: ResigningProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                answer = proxy.forward(self.command, self.path, list(self.headers.items()), body)
            except (httpx.HTTPError, UsageError) as exc:
                self._answer(502, [("content-type", "application/json")], _error(f"re-signing proxy: {exc}"))
                return
            kept = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in NOT_RETURNED]
            self._answer(answer.status_code, kept, answer.content)

        def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _relay

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the verifier reports; the proxy keeps quiet

    return Handler


def _error(message: str) -> bytes:
    return json.dumps({"error": "unavailable", "message": message}).encode()


def signer_from_credentials(path: Path, *, version: int = 2, identity: str | None = None) -> Signer:
    """Sign as `identity`, or as each request's `X-Service-Identity`, with that identity's keys in `path`.

    `path` is a credentials file as the order service reads it, with plain `api_keys`
    (`order_service/security/dev_credentials.json` is the dev one): the newest secret signs.

    Raises:
        UsageError: the file cannot be read, or lacks `identity`.
    """
    try:
        services: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["services"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: not a credentials file ({exc})") from exc
    if identity is not None and identity not in services:
        raise UsageError(f"{path} has no keys for {identity!r} (it has {', '.join(sorted(services))})")

    def choose(request: httpx.Request) -> httpx.Auth:
        who = identity or request.headers.get("x-service-identity")
        entry = services.get(who or "")
        if entry is None or not entry.get("api_keys"):
            raise UsageError(f"no plain API key in {path} for {who!r}: give --sign-as, or other credentials")
        return RequestSigner(
            identity=str(who),
            api_key=entry["api_keys"][0],
            secret=entry["signing_secrets"][0].encode(),
            version=version,
        )

    return choose


def bearer_token(token: str) -> Prepare:
    """Put `Authorization: Bearer token` on each request (replacing the pact's example)."""

    def prepare(request: httpx.Request) -> None:
        request.headers["authorization"] = f"Bearer {token}"

    return prepare


def dev_user_tokens() -> Prepare:
    """A fresh dev user token on each request, for the account its `X-Trading-Account-Id` names."""
    from order_service.security.dev import dev_user_token

    def prepare(request: httpx.Request) -> None:
        account = request.headers.get("x-trading-account-id")
        if "authorization" in request.headers and account:
            request.headers["authorization"] = f"Bearer {dev_user_token(accounts=(account,))}"

    return prepare
