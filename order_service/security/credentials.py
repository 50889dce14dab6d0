"""Service credentials: API key hashes and signing secrets per identity, loaded from a file.

File format (JSON): `{"services": {"<identity>": {"api_keys": [...] or "api_key_sha256": [...],
"signing_secrets": ["<newest>", "<older, still accepted>"]}}}`. Only hashes of API keys
are kept in memory. Several signing secrets rotate a key: any verifies, the first signs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ServiceCredential:
    identity: str
    api_key_hashes: tuple[bytes, ...]
    signing_secrets: tuple[bytes, ...]  # newest first


def hash_api_key(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class CredentialStore:
    def __init__(self, credentials: Mapping[str, ServiceCredential]) -> None:
        self._by_identity = dict(credentials)

    def get(self, identity: str) -> ServiceCredential | None:
        return self._by_identity.get(identity)

    def identities(self) -> list[str]:
        return sorted(self._by_identity)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CredentialStore:
        services = data.get("services")
        if not isinstance(services, Mapping) or not services:
            raise ValueError("credentials need a non-empty 'services' mapping")
        loaded = {}
        for identity, entry in services.items():
            hashes = [hash_api_key(k) for k in entry.get("api_keys", [])]
            hashes += [bytes.fromhex(h) for h in entry.get("api_key_sha256", [])]
            secrets = [s.encode("utf-8") for s in entry.get("signing_secrets", [])]
            if not hashes or not secrets:
                raise ValueError(f"{identity}: needs at least one API key and one signing secret")
            loaded[identity] = ServiceCredential(identity, tuple(hashes), tuple(secrets))
        return cls(loaded)

    @classmethod
    def from_file(cls, path: Path) -> CredentialStore:
        try:
            return cls.from_mapping(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, ValueError) as exc:
            raise ValueError(f"{path}: cannot load service credentials: {exc}") from exc
