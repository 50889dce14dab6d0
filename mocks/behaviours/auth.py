"""Auth service mock: service tokens by the client credentials grant, introspection and revocation.

Tokens are opaque and random; each expires `expires_in` seconds (300 unless seeded) after
it was issued, on the mock's clock, so a test moves the clock to expire one. Clients come
from `mocks/dev_oauth_clients.json` (development only) or seed data:
`{"clients": {"<id>": {"secret": "...", "scope": "owners"}}, "expires_in": 60}`.
Each issued token is counted (`snapshot()["issued"]`), so a test can tell one refresh
from many.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from typing_extensions import override

from mocks.behaviour import Behaviour, ProviderState, Reply
from mocks.clock import MockClock
from mocks.validation import MockRequest

DEV_CLIENTS = Path(__file__).resolve().parent.parent / "dev_oauth_clients.json"
DEFAULT_EXPIRES_IN = 300


def _unauthorized(message: str) -> Reply:
    return Reply(401, {"error": "unauthorized", "message": message}, (("www-authenticate", 'Basic realm="auth"'),))


class AuthBehaviour(Behaviour):
    """Issues, introspects and revokes tokens (see the module doc)."""

    def __init__(self, clock: MockClock) -> None:
        super().__init__(clock)
        self._dev_clients: dict[str, dict[str, str]] = json.loads(DEV_CLIENTS.read_text())["clients"]
        self.handlers = {
            "issueToken": self.issue,
            "introspectToken": self.introspect,
            "revokeToken": self.revoke,
        }
        self.states = [
            ProviderState(
                r"client (?P<client_id>[a-z][a-z0-9_-]{1,62}) is registered with secret (?P<secret>\S{16,256})",
                "the client, with that secret",
                lambda p: self.seed({"clients": {p["client_id"]: {"secret": p["secret"]}}}),
            ),
            ProviderState(
                r"tokens expire after (?P<expires_in>[0-9]{1,6}) s",
                "tokens issued from now on last that long",
                lambda p: self.seed({"expires_in": int(p["expires_in"])}),
            ),
        ]
        self.reset()

    @override
    def reset(self) -> None:
        self.clients: dict[str, dict[str, str]] = {k: dict(v) for k, v in self._dev_clients.items()}
        self.expires_in = DEFAULT_EXPIRES_IN
        self.tokens: dict[str, dict[str, Any]] = {}  # token -> client_id, scope, exp (unix s), revoked
        self.issued = 0

    @override
    def seed(self, data: Mapping[str, Any]) -> None:
        unknown = set(data) - {"clients", "expires_in"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; expected clients, expires_in")
        for client_id, entry in data.get("clients", {}).items():
            if not isinstance(entry, Mapping) or len(str(entry.get("secret", ""))) < 16:
                raise ValueError(f"client {client_id}: needs a secret of at least 16 characters")
            self.clients[client_id] = {"secret": str(entry["secret"]), "scope": str(entry.get("scope", "owners"))}
        if "expires_in" in data:
            expires_in = data["expires_in"]
            if not isinstance(expires_in, int) or expires_in < 1:
                raise ValueError("expires_in: a whole number of seconds, at least 1")
            self.expires_in = expires_in

    @override
    def snapshot(self) -> dict[str, Any]:
        now = self._now()
        active = sum(1 for t in self.tokens.values() if self._active(t, now))
        return {"clients": sorted(self.clients), "expires_in": self.expires_in, "issued": self.issued, "active": active}

    def _now(self) -> int:
        return int(self.clock.now().timestamp())

    @staticmethod
    def _active(token: Mapping[str, Any], now: int) -> bool:
        return not token["revoked"] and now < token["exp"]

    def issue(self, request: MockRequest) -> Reply:
        """issueToken: a new token for a known client with its secret (401 otherwise)."""
        form = request.body
        client = self.clients.get(form["client_id"])
        offered = str(form["client_secret"]).encode()
        if client is None or not hmac.compare_digest(client["secret"].encode(), offered):
            return _unauthorized("invalid client credentials")
        scope = form.get("scope") or client["scope"]
        token = "tk_" + secrets.token_urlsafe(24)
        self.tokens[token] = {"client_id": form["client_id"], "scope": scope, "exp": self._now() + self.expires_in}
        self.tokens[token]["revoked"] = False
        self.issued += 1
        body = {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in, "scope": scope}
        return Reply(200, body, (("cache-control", "no-store"),))

    def introspect(self, request: MockRequest) -> Reply:
        """introspectToken: whether the token is active now, and whose."""
        token = self.tokens.get(request.body["token"])
        if token is None or not self._active(token, self._now()):
            return Reply(200, {"active": False})
        return Reply(
            200, {"active": True, "client_id": token["client_id"], "scope": token["scope"], "exp": token["exp"]}
        )

    def revoke(self, request: MockRequest) -> Reply:
        """revokeToken: the token is inactive from now on."""
        token = self.tokens.get(request.body["token"])
        if token is not None:
            token["revoked"] = True
        return Reply(200, {"revoked": True})

    def is_active(self, token: str) -> bool:
        """Whether `token` is active now (what an owner mock asks when it requires tokens in-process)."""
        found = self.tokens.get(token)
        return found is not None and self._active(found, self._now())
