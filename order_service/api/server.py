"""The order service's HTTP server: uvicorn, with a deadline for each request's headers, and TLS.

uvicorn closes idle keep-alive connections, but a client that opens a connection and sends
its headers a byte at a time (slowloris) is held for ever. `HeaderDeadline` closes a
connection whose request headers are not complete `header_timeout` seconds after the
connection opened or the request began.

With `tls_certfile` it serves HTTPS; with `tls_client_ca` too, mutual TLS: the handshake
refuses a client without a certificate from that CA, and each request's scope carries the
ASGI TLS extension (`client_cert_chain`) plus `client_identity`, the service the
certificate names (`order_service.security.mtls`), read once per connection. The files
are watched: a rotated certificate is served to new connections without a restart.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from order_service.security.mtls import CertificateReloader, identity_of
from order_service.settings import ServerSettings


class HeaderDeadline(HttpToolsProtocol):
    """httptools' protocol with the header deadline (see the module doc)."""

    header_timeout = 10.0  # set per server by `serve`
    tls_identity: dict[str, str] | None = None  # how certificates name services (mtls.identity_of's options)
    _deadline: asyncio.TimerHandle | None = None
    _tls: dict[str, Any] | None = None

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._tls = _client_tls(transport, self.tls_identity)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls is not None:
            self.scope["extensions"] = {"tls": self._tls}  # type: ignore[dict-item]
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def _client_tls(transport: asyncio.Transport, options: dict[str, str] | None) -> dict[str, Any] | None:
    """The ASGI TLS extension of a connection (None over plain TCP), with the client's service identity."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return {"client_cert_chain": [], "client_identity": None}
    identity = identity_of(der, **(options or {}))
    return {"client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)], "client_identity": identity}


def serve(app: Any, host: str, port: int, settings: ServerSettings) -> None:
    """Run `app` until stopped, with the limits of `settings` (and TLS when it names a certificate)."""
    identity = {
        "mode": settings.tls_identity,
        "uri_prefix": settings.tls_uri_prefix,
        "dns_suffix": settings.tls_dns_suffix,
    }
    protocol = type(
        "OrderServiceHttp",
        (HeaderDeadline,),
        {"header_timeout": settings.header_timeout, "tls_identity": identity},
    )
    tls: dict[str, Any] = {}
    if settings.tls_certfile is not None:
        if settings.tls_keyfile is None:
            raise ValueError("server.tls_certfile needs server.tls_keyfile")
        tls = {"ssl_certfile": str(settings.tls_certfile), "ssl_keyfile": str(settings.tls_keyfile)}
        if settings.tls_client_ca is not None:
            tls |= {"ssl_ca_certs": str(settings.tls_client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=protocol,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=int(max(1, settings.keep_alive_timeout)),
        timeout_graceful_shutdown=3,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        **tls,
    )
    config.load()
    reloader = None
    if config.ssl is not None and settings.tls_certfile is not None and settings.tls_keyfile is not None:
        reloader = CertificateReloader(
            config.ssl, settings.tls_certfile, settings.tls_keyfile, settings.tls_client_ca, settings.tls_reload_seconds
        )
        reloader.start()
    try:
        uvicorn.Server(config).run()
    finally:
        if reloader is not None:
            reloader.stop()
