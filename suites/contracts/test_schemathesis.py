"""Schemathesis runs every operation of every mock, with positive and negative data.

Each mock must answer every generated request as its contract says: documented status,
content type, headers and body schema; invalid data rejected, valid data accepted; never
a server error.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from mocks.registry import SERVICES
from suites.fixtures.mocks import InProcessMocks

pytestmark = pytest.mark.schemathesis

# Well-formed credentials for the order-service mock, which checks their form, not their
# truth (signatures are the real order service's job); schemathesis also sends broken ones.
CREDENTIALS = {
    "UserJwt": {"bearer": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl"},
    "ServiceIdentity": {"api_key": "algo_engine"},
    "InternalApiKey": {"api_key": "dev-algo-engine-key-0001"},
    "RequestTimestamp": {"api_key": "1795700000"},
    "RequestSignature": {"api_key": "0" * 64},
}


# A fixed seed keeps CI repeatable; `make fuzz` runs fresh seeds with more examples.
SEED = int(os.environ.get("HARNESS_FUZZ_SEED", "20261126"))
EXAMPLES = int(os.environ.get("HARNESS_FUZZ_EXAMPLES", "25"))


def config_for(service: str) -> SchemathesisConfig:
    settings: dict[str, object] = {
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": EXAMPLES},
        "checks": {
            # 409: a generated P&L snapshot older than the stored one is refused, as documented.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409"]},
        },
    }
    if service == "order-service":
        settings["auth"] = {"openapi": CREDENTIALS}
    return SchemathesisConfig.from_dict(settings)


@pytest.fixture(params=sorted(SERVICES))
def contract_schema(request: pytest.FixtureRequest, mocks: InProcessMocks) -> schemathesis.schemas.BaseSchema:
    name = request.param
    schema = schemathesis.openapi.from_path(mocks.app(name).engine.contract.path, config=config_for(name))
    schema.app = mocks.app(name)
    return schema


lazy = schemathesis.pytest.from_fixture("contract_schema")


@lazy.parametrize()
def test_mock_conforms_to_its_contract(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
    case.call_and_validate()
