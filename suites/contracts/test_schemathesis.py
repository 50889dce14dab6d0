"""Schemathesis runs every operation of every mock, with positive and negative data.

Each mock must answer every generated request as its contract says: documented status,
content type, headers and body schema; invalid data rejected, valid data accepted; never
a server error.
"""

from __future__ import annotations

import os

import hypothesis
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from harness.servers import InProcessMocks
from mocks.faults import FaultSpec
from mocks.registry import SERVICES

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


def config_for(service: str, **extra: object) -> SchemathesisConfig:
    # 409: a generated P&L snapshot older than the stored one is refused, as documented.
    accepted = ["2xx", "404", "409"]  # never 401/403: valid data carries well-formed credentials
    checks: dict[str, object] = {"positive_data_acceptance": {"expected-statuses": accepted}}
    settings: dict[str, object] = {
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": EXAMPLES},
        "checks": checks,
    }
    if service == "analytics-service":
        # An upsert is checked against the strategy's other stored days (derived P&L must stay inside the
        # contract's formats, as its text says): a valid body may get the documented 422 after earlier ones.
        upsert = {"positive_data_acceptance": {"expected-statuses": [*accepted, "422"]}}
        settings["operations"] = [
            {"include-operation-id": op, "checks": upsert} for op in ("calculatePnlMetrics", "bulkCalculatePnlMetrics")
        ]
    if service == "auth-service":
        # Generated client credentials are well formed but not a registered client's: the documented 401.
        issue = {"positive_data_acceptance": {"expected-statuses": [*accepted, "401"]}}
        settings["operations"] = [{"include-operation-id": "issueToken", "checks": issue}]
    if service == "order-service":
        settings["auth"] = {"openapi": CREDENTIALS}
        # DELETE cancels: the order stays readable as CANCELLED, as the contract says, not gone.
        checks["use_after_free"] = {"enabled": False}
        # A change is checked against the order it changes (an SL order needs a trigger price), which no
        # request schema can say: a valid body may still get the documented 422.
        modify = {"positive_data_acceptance": {"expected-statuses": [*accepted, "422"]}}
        settings["operations"] = [{"include-operation-id": "modifyOrder", "checks": modify}]
    return SchemathesisConfig.from_dict({**settings, **extra})


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


def test_the_order_service_mock_follows_order_lifecycles(mocks: InProcessMocks) -> None:
    """Stateful, through the contract's links: place, then read, modify and cancel that order on the mock."""
    # Only the contract's links: an inferred one from the order list would tie a step to every earlier order.
    config = config_for("order-service", phases={"stateful": {"inference": {"algorithms": []}}})
    schema = schemathesis.openapi.from_path(mocks.app("order-service").engine.contract.path, config=config)
    schema.app = mocks.app("order-service")
    settings = hypothesis.settings(
        max_examples=EXAMPLES, stateful_step_count=6, deadline=None, derandomize="HARNESS_FUZZ_SEED" not in os.environ
    )
    schema.as_state_machine().run(settings=settings)
    journal = mocks.app("order-service").engine.journal
    for operation in ("getOrder", "modifyOrder", "cancelOrder"):  # the links led to orders that exist
        assert journal.find(operation_id=operation, status=200, limit=1), operation


def test_a_mock_that_refuses_valid_credentials_fails_the_run(mocks: InProcessMocks) -> None:
    """Planted defect: the order-service mock answers 401 to well-formed credentials on one operation."""
    app = mocks.app("order-service")
    refusal = {"error": "unauthorized", "message": "invalid credentials"}  # a contract-valid 401, wrongly sent
    app.engine.faults.add(FaultSpec(kind="respond", status=401, body=refusal, operation_id="listOrders"))
    schema = schemathesis.openapi.from_path(app.engine.contract.path, config=config_for("order-service"))
    schema.app = app
    operation = schema.find_operation_by_id("listOrders")

    @hypothesis.given(operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    @hypothesis.settings(max_examples=5, deadline=None, database=None, derandomize=True)
    def run(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
        case.call_and_validate()

    with pytest.raises(BaseExceptionGroup) as caught:  # schemathesis reports its failures as a group
        run()
    assert "Schema-valid request rejected" in str(caught.value)
    assert "[401] Unauthorized" in str(caught.value)
