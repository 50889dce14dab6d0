"""Consumer impact on real edits of our contracts: which of our pact interactions, and which client methods.

The expected interactions are read off the pact files by hand (their descriptions), and the
client methods off `order_service/clients`: a revision is joined with what the order
service really sends and reads.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.compat.impact import Hit, client_methods, consumer_impact, pacts_of
from harness.compat.operations import compare_documents
from mocks.contract import contract_from_document
from mocks.document import read_document

ROOT = Path(__file__).resolve().parents[2]
STRATEGY = ROOT / "contracts" / "strategy-service.yaml"
CLIENTS = ROOT / "order_service" / "clients"


def impact_of(edit: Callable[[dict[str, Any]], None]) -> list[Hit]:
    base = read_document(STRATEGY)
    revision = copy.deepcopy(base)
    edit(revision)
    comparison = compare_documents(base, revision, STRATEGY.name)
    base_contract = contract_from_document(base, STRATEGY, answers=False)
    revision_contract = contract_from_document(revision, STRATEGY, answers=False)
    ids = [op.operation_id for op in base_contract.operations.values()]
    pacts = pacts_of(ROOT / "pacts", "strategy-service")
    return consumer_impact(comparison, base_contract, revision_contract, pacts, client_methods(CLIENTS, ids))


def remove_valid(document: dict[str, Any]) -> None:
    """The field `validate_strategy` returns: gone from StrategyValidation."""
    schemas = document["components"]["schemas"]
    del schemas["StrategyValidation"]["properties"]["valid"]
    schemas["StrategyValidation"]["required"].remove("valid")


def test_removing_a_field_the_order_service_reads_names_the_interactions_and_the_client_method() -> None:
    hits = impact_of(remove_valid)
    assert {h.interaction for h in hits} == {"a validation of an active strategy", "a validation of a paused strategy"}
    for hit in hits:
        assert hit.consumer == "order-service"
        assert hit.operation_id == "validateStrategy"
        assert "strategy.StrategyServiceClient.validate_strategy" in hit.client_methods
        assert "strategy.StrategyServiceClient.get_strategy_validation" in hit.client_methods
        assert any(r.startswith("response-body-property-removed") for r in hit.reasons)
        # the replay against the revised contract agrees: the pact's body no longer fits
        assert any("replayed against the revision" in r and "valid" in r for r in hit.reasons)


def test_a_narrower_request_limit_hits_the_interactions_that_send_the_field() -> None:
    def fewer_positions(document: dict[str, Any]) -> None:
        document["components"]["schemas"]["PnlSyncRequest"]["properties"]["open_positions"]["maximum"] = (
            1  # the pacts send 2
        )

    hits = impact_of(fewer_positions)
    assert {h.interaction for h in hits} == {"a P&L sync", "a P&L sync older than the stored snapshot"}
    assert all("strategy.StrategyServiceClient.sync_strategy_pnl" in h.client_methods for h in hits)
    assert all(any("request-body-maximum-decreased" in r for r in h.reasons) for h in hits)


def test_a_breaking_change_no_interaction_touches_hits_none() -> None:
    def drop_422(document: dict[str, Any]) -> None:
        del document["paths"]["/strategies/{strategy_id}/sync-pnl"]["post"]["responses"]["422"]  # no pact expects it

    assert impact_of(drop_422) == []


@pytest.mark.parametrize("edit", ["add an optional response property", "describe a field"])
def test_a_change_that_breaks_nothing_hits_nothing(edit: str) -> None:
    def change(document: dict[str, Any]) -> None:
        schemas = document["components"]["schemas"]
        if edit == "describe a field":
            schemas["StrategyValidation"]["properties"]["valid"]["description"] = "whether orders are accepted"
        else:
            schemas["Strategy"]["properties"]["note"] = {"type": "string"}

    assert impact_of(change) == []


def test_client_methods_follow_callers_within_a_module(tmp_path: Path) -> None:
    (tmp_path / "orders.py").write_text(
        "class Client:\n"
        "    def get_raw(self, i):\n"
        "        return self.call(thing_call(i))\n"
        "    def get(self, i):\n"
        "        return self.get_raw(i).value\n"
        "    def other(self):\n"
        "        return self.call('listThings')\n"
        "def thing_call(i):\n"
        "    return Call('getThing', i)\n"
    )
    assert client_methods(tmp_path, ["getThing", "listThings", "absent"]) == {
        "getThing": ["orders.Client.get", "orders.Client.get_raw", "orders.thing_call"],
        "listThings": ["orders.Client.other"],
    }
