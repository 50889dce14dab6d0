"""A throwaway development CA and the certificates it signs, for mutual TLS on loopback.

Made at start (`mocks up --tls`) or by a test, in a folder of its own: `ca.pem` (the CA a
server trusts for client certificates, and a client for servers) and, per name,
`<name>.pem` and `<name>.key` (EC P-256, the key readable by its owner only). A service's
identity is in its certificate as a SAN URI, `spiffe://trading/<identity>` by default; a
server certificate names 127.0.0.1 and localhost. Never for production: the CA's key sits
beside its certificate, unencrypted.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SPIFFE_PREFIX = "spiffe://trading/"
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, as files."""

    cert: Path
    key: Path


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as sink:
        sink.write(pem)


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` at once: a server reloading it never reads half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)


class DevCA:
    """A CA whose certificate and key are files in `folder`."""

    def __init__(self, folder: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self.folder = folder
        self._cert = cert
        self._key = key

    @property
    def cert_path(self) -> Path:
        """The CA certificate (PEM): what servers and clients trust."""
        return self.folder / "ca.pem"

    @classmethod
    def create(cls, folder: Path, name: str = "order-contract-harness dev CA", days: int = 30) -> DevCA:
        """A new CA in `folder` (made if needed)."""
        folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        ca = cls(folder, cert, key)
        _write_atomically(ca.cert_path, cert.public_bytes(serialization.Encoding.PEM))
        _write_key(folder / "ca.key", key)
        return ca

    def issue(
        self,
        name: str,
        *,
        identity: str | None = None,
        dns: Sequence[str] = ("localhost",),
        ips: Sequence[str] = ("127.0.0.1",),
        uri_prefix: str = SPIFFE_PREFIX,
        valid_from: dt.datetime | None = None,
        valid_until: dt.datetime | None = None,
    ) -> Issued:
        """`<name>.pem` and `<name>.key`: for servers and clients both; `identity` as the SAN URI when given."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        if identity is not None:
            names.append(x509.UniformResourceIdentifier(uri_prefix + identity))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity or name)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid_from or now - dt.timedelta(minutes=5))
            .not_valid_after(valid_until or now + dt.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        issued = Issued(self.folder / f"{name}.pem", self.folder / f"{name}.key")
        _write_key(issued.key.with_name(issued.key.name + ".partial"), key)
        issued.key.with_name(issued.key.name + ".partial").replace(issued.key)
        _write_atomically(issued.cert, cert.public_bytes(serialization.Encoding.PEM))
        return issued
