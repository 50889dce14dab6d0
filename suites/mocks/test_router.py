"""The router: literal segments first, parameters by name, mixed segments, 404 and 405."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mocks.errors import RequestRejected
from mocks.router import Router


@dataclass(frozen=True)
class _Op:
    """What the router reads of an operation."""

    operation_id: str
    method: str
    path: str


def _router(*routes: str) -> Router:
    ops = {}
    for route in routes:
        method, path = route.split(" ")
        ops[route] = _Op(route, method, path)
    return Router(ops)  # type: ignore[arg-type]


def _match(router: Router, method: str, path: str) -> tuple[str, dict[str, str]]:
    op, params = router.match(method, path)
    return op.operation_id, params


def test_a_literal_segment_wins_over_a_parameter() -> None:
    router = _router("GET /users/{id}", "GET /users/me")
    assert _match(router, "GET", "/users/me") == ("GET /users/me", {})
    assert _match(router, "GET", "/users/42") == ("GET /users/{id}", {"id": "42"})


def test_a_literal_branch_that_leads_nowhere_falls_back_to_the_parameter() -> None:
    router = _router("GET /users/me", "GET /users/{id}/posts")
    assert _match(router, "GET", "/users/me/posts") == ("GET /users/{id}/posts", {"id": "me"})


def test_parameters_of_different_names_at_one_position_both_route() -> None:
    router = _router("GET /repos/{owner}", "DELETE /repos/{repo_id}/hooks/{hook}")
    assert _match(router, "GET", "/repos/octo") == ("GET /repos/{owner}", {"owner": "octo"})
    assert _match(router, "DELETE", "/repos/7/hooks/9") == (
        "DELETE /repos/{repo_id}/hooks/{hook}",
        {"repo_id": "7", "hook": "9"},
    )


def test_a_segment_with_a_parameter_inside_matches_before_a_whole_parameter() -> None:
    router = _router("GET /files/{name}.{ext}", "GET /files/{id}", "GET /compare/{base}...{head}")
    assert _match(router, "GET", "/files/report.pdf") == ("GET /files/{name}.{ext}", {"name": "report", "ext": "pdf"})
    assert _match(router, "GET", "/files/abc") == ("GET /files/{id}", {"id": "abc"})
    assert _match(router, "GET", "/compare/main...dev") == (
        "GET /compare/{base}...{head}",
        {"base": "main", "head": "dev"},
    )


def test_parameters_are_decoded_and_never_span_segments() -> None:
    router = _router("GET /items/{key}")
    assert _match(router, "GET", "/items/a%20b") == ("GET /items/{key}", {"key": "a b"})
    with pytest.raises(RequestRejected) as caught:
        router.match("GET", "/items/a/b")
    assert caught.value.status == 404


def test_an_empty_segment_is_not_a_parameter_value() -> None:
    router = _router("GET /items/{key}")
    with pytest.raises(RequestRejected) as caught:
        router.match("GET", "/items/")
    assert caught.value.status == 404


def test_a_known_path_with_another_method_is_405_naming_the_methods_of_that_path() -> None:
    router = _router("GET /orders/{id}", "DELETE /orders/{id}", "PUT /orders/open")
    with pytest.raises(RequestRejected) as caught:
        router.match("POST", "/orders/42")
    assert caught.value.status == 405
    assert dict(caught.value.headers)["allow"] == "DELETE, GET"


def test_of_two_templates_neither_more_concrete_the_one_with_the_method_serves() -> None:
    router = _router("GET /accounts/by-tier/{tier}", "PUT /accounts/{account_id}/tier")
    assert _match(router, "PUT", "/accounts/by-tier/tier") == (
        "PUT /accounts/{account_id}/tier",
        {"account_id": "by-tier"},
    )


def test_the_concrete_path_decides_even_when_only_the_template_has_the_method() -> None:
    """OpenAPI matches concrete paths before templated ones: GET /orders/open is not getOrder(id=open)."""
    router = _router("GET /orders/{id}", "PUT /orders/open")
    with pytest.raises(RequestRejected) as caught:
        router.match("GET", "/orders/open")
    assert caught.value.status == 405
    assert dict(caught.value.headers)["allow"] == "PUT"


def test_an_unknown_path_is_404_naming_the_request() -> None:
    router = _router("GET /orders")
    with pytest.raises(RequestRejected) as caught:
        router.match("GET", "/trades")
    assert caught.value.status == 404
    assert "GET /trades" in caught.value.message


def test_routing_ten_thousand_templates_finds_each_one() -> None:
    routes = [f"GET /r{i}/{{id}}/leaf{i % 7}" for i in range(10_000)]
    router = _router(*routes)
    for i in (0, 1234, 9999):
        assert _match(router, "GET", f"/r{i}/x/leaf{i % 7}") == (routes[i], {"id": "x"})
