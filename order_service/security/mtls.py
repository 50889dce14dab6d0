"""Mutual TLS: the service identity a client certificate proves, and keeping the server's certificates fresh.

With `server.tls_client_ca` set, the order service accepts only connections whose client
certificate chains to that CA (refused at the handshake otherwise: no certificate, an
unknown CA, an expired certificate). The certificate names the calling service: a SAN URI
`<tls_uri_prefix><identity>` (`spiffe://trading/algo_engine`), or with `tls_identity =
"dns"` a DNS name `<identity>.<tls_dns_suffix>`; a signed request whose
`X-Service-Identity` is not the certificate's is refused with 403. `CertificateReloader`
reloads the server's certificate, key and client CA when their files change, so a
rotation needs no restart: new connections get the new ones, open ones keep theirs.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("order_service.security.mtls")


def identity_of(
    der: bytes, *, mode: str = "uri", uri_prefix: str = "spiffe://trading/", dns_suffix: str = ""
) -> str | None:
    """The service identity a DER client certificate names, or None when it names none."""
    from cryptography import x509  # loaded by the first TLS connection, not by every import of the clients

    try:
        names = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (ValueError, x509.ExtensionNotFound):
        return None
    if mode == "uri":
        uris = names.value.get_values_for_type(x509.UniformResourceIdentifier)
        found = [u[len(uri_prefix) :] for u in uris if u.startswith(uri_prefix)]
    else:
        suffix = "." + dns_suffix if dns_suffix else ""
        found = [d[: len(d) - len(suffix)] for d in names.value.get_values_for_type(x509.DNSName) if d.endswith(suffix)]
    return found[0] if len(found) == 1 else None  # two identities in one certificate prove neither


class CertificateReloader:
    """Reload `context`'s certificate chain and CA when the files change (polled every `interval` s).

    For a server the CA is the one client certificates must chain to; for a client, the one
    servers must. A CA file can add CAs to the context but not take one away (OpenSSL keeps
    what it loaded): dropping a CA needs a restart.
    """

    def __init__(
        self, context: ssl.SSLContext, certfile: Path, keyfile: Path, client_ca: Path | None, interval: float = 2.0
    ) -> None:
        self._context = context
        self._files: Sequence[Path] = [p for p in (certfile, keyfile, client_ca) if p is not None]
        self._certfile, self._keyfile, self._client_ca = certfile, keyfile, client_ca
        self._interval = interval
        self._seen = self._stamps()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="tls-reload", daemon=True)
        self.reloads = 0

    def _stamps(self) -> list[tuple[int, int]]:
        stamps = []
        for path in self._files:
            try:
                info = os.stat(path)
                stamps.append((info.st_mtime_ns, info.st_size))
            except OSError:
                stamps.append((0, 0))
        return stamps

    def start(self) -> None:
        """Watch in a thread of its own."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(self._interval):
            stamps = self._stamps()
            if stamps != self._seen and self.reload():
                self._seen = stamps

    def reload(self) -> bool:
        """Load the files again; False (the old ones stay) while they do not fit together yet."""
        try:
            self._context.load_cert_chain(self._certfile, self._keyfile)
            if self._client_ca is not None:
                self._context.load_verify_locations(cafile=self._client_ca)
        except (OSError, ssl.SSLError) as exc:
            log.warning("TLS_RELOAD_FAILED the previous certificate stays: %s", exc)
            return False
        self.reloads += 1
        log.warning("TLS_RELOADED %s", self._certfile)
        return True
