"""User tokens: a verified token is remembered until it expires, and only its exact text is."""

from __future__ import annotations

import time

import jwt
import pytest

from order_service.security.dev import dev_security_settings
from order_service.security.errors import AuthenticationError
from order_service.security.users import UserTokens

SETTINGS = dev_security_settings()


def token(exp: float, accounts: tuple[str, ...] = ("ZX1234",), secret: str | None = None) -> str:
    claims = {"sub": "user-1", "aud": "order-service", "exp": int(exp), "trading_accounts": list(accounts)}
    return jwt.encode(claims, secret or SETTINGS.jwt_secret or "", algorithm="HS256")


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    clock = Clock()
    tokens = UserTokens(SETTINGS, clock=clock)
    sent = token(clock.now + 30)
    assert tokens.user_from_header(f"Bearer {sent}").subject == "user-1"
    clock.now += 29
    assert tokens.user_from_header(f"Bearer {sent}").trading_accounts == {"ZX1234"}
    clock.now += 2  # past exp: the remembered entry is dropped and the full check refuses it
    with pytest.raises(AuthenticationError) as refused:
        tokens.user_from_header(f"Bearer {sent}")
    assert refused.value.reason == "bad_token"


def test_a_token_differing_by_one_byte_is_checked_in_full() -> None:
    tokens = UserTokens(SETTINGS)
    good = token(time.time() + 60)
    tokens.user_from_header(f"Bearer {good}")
    header, payload, signature = good.split(".")
    tampered = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    with pytest.raises(AuthenticationError):
        tokens.user_from_header(f"Bearer {tampered}")
    with pytest.raises(AuthenticationError):
        tokens.user_from_header(f"Bearer {token(time.time() + 60, secret='another-secret-of-32-bytes-length!')}")


def test_the_memory_is_bounded() -> None:
    tokens = UserTokens(SETTINGS, cache_size=3)
    sent = [token(time.time() + 60, accounts=(f"ZX{1000 + i}",)) for i in range(7)]
    for each in sent:
        tokens.user_from_header(f"Bearer {each}")
    assert len(tokens._verified) <= 3
    assert tokens.user_from_header(f"Bearer {sent[0]}").trading_accounts == {"ZX1000"}


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("as_bool", [False, True])
def test_time_claims_must_be_json_numbers(claim: str, as_bool: bool) -> None:
    """`"exp": "1796154100"` (a numeric string) and `"exp": true` are refused; PyJWT alone accepts the string."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": "user-1", "aud": "order-service", "exp": now + 60, "nbf": now, "iat": now}
    claims[claim] = True if as_bool else str(claims[claim])
    text = jwt.encode(claims, SETTINGS.jwt_secret or "", algorithm="HS256")
    with pytest.raises(AuthenticationError, match="bad_token") as caught:
        UserTokens(SETTINGS).user_from_header(f"Bearer {text}")
    if not as_bool:  # true as exp is 1, long expired: PyJWT says so first
        assert f"the {claim} claim is not a JSON number" in str(caught.value)


def test_numeric_time_claims_are_accepted() -> None:
    now = int(time.time())
    claims = {"sub": "user-1", "aud": "order-service", "exp": now + 60.5, "nbf": now - 60, "iat": now - 60}
    text = jwt.encode(claims, SETTINGS.jwt_secret or "", algorithm="HS256")
    assert UserTokens(SETTINGS).user_from_header(f"Bearer {text}").subject == "user-1"
