"""Consumer pacts with the config service: service discovery as the order service uses it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pact import Pact, match

from order_service.clients.discovery import ConfigServiceClient
from order_service.errors import ServiceNotFoundError
from suites.pact.matchers import JSON, error_body

pytestmark = [pytest.mark.anyio, pytest.mark.pact]
PROVIDER = "config-service"
NewPact = Callable[[str], Pact]
ENDPOINT = {
    "name": "strategy-service",
    "scheme": match.regex("http", regex=r"^https?$"),
    "host": match.str("127.0.0.1"),
    "port": match.int(8101),
    "base_url": match.regex("http://127.0.0.1:8101", regex=r"^https?://[^/]+$"),
    "ttl_seconds": match.int(30),
}


async def test_discover_a_service(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a lookup of a registered service")
        .given("service strategy-service is registered")
        .with_request("GET", "/services/strategy-service")
        .will_respond_with(200)
        .with_body(ENDPOINT, content_type=JSON)
    )
    with pact.serve() as server:
        async with ConfigServiceClient(base_url=str(server.url)) as client:
            endpoint = await client.get_service_endpoint("strategy-service")
    assert endpoint.port == 8101


async def test_discover_an_unknown_service(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a lookup of a service that is not registered")
        .given("service billing-service is not registered")
        .with_request("GET", "/services/billing-service")
        .will_respond_with(404)
        .with_body(error_body("not_found"), content_type=JSON)
    )
    with pact.serve() as server:
        async with ConfigServiceClient(base_url=str(server.url)) as client:
            with pytest.raises(ServiceNotFoundError):
                await client.get_service_endpoint("billing-service")


async def test_list_services(new_pact: NewPact) -> None:
    pact = new_pact(PROVIDER)
    (
        pact.upon_receiving("a listing of the registry")
        .given("service strategy-service is registered")
        .with_request("GET", "/services")
        .will_respond_with(200)
        .with_body({"items": match.each_like(ENDPOINT | {"name": match.str("strategy-service")})}, content_type=JSON)
    )
    with pact.serve() as server:
        async with ConfigServiceClient(base_url=str(server.url)) as client:
            listing = await client.list_services()
    assert listing.items
