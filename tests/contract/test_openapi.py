"""The committed OpenAPI document is the API: it must match what the code generates and serves."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import openapi  # noqa: E402


@pytest.mark.contract
def test_committed_openapi_document_matches_the_code() -> None:
    # GIVEN the document generated from the routes and models now
    generated = openapi.generate()
    # THEN it is the committed one (run `make openapi` after changing the API)
    assert (ROOT / "docs" / "openapi.json").read_text() == generated


@pytest.mark.contract
def test_every_route_of_the_template_is_documented_and_vice_versa() -> None:
    from tests.support.template import template

    documented = {
        (method.upper(), path)
        for path, operations in json.loads(openapi.generate())["paths"].items()
        for method in operations
    }
    events = template()["Resources"]["ApiFunction"]["Properties"]["Events"].values()
    routed = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events}
    routed.discard(("GET", "/openapi.json"))  # the document itself
    assert documented == routed


@pytest.mark.contract
def test_errors_are_documented_as_problem_details() -> None:
    document = json.loads(openapi.generate())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) == 401:  # answered by the JWT authorizer, as AWS words it
                    assert list(response["content"]) == ["application/json"]
                elif int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)


@pytest.mark.contract
def test_the_query_parameters_the_api_accepts_are_the_documented_ones() -> None:
    from genjobs.handlers.api import app
    from genjobs.routes.guards import declared_query_parameters

    # What the guard refusing unknown query parameters accepts on each route.
    declared = {
        f"{route.method} {route.openapi_path}": declared_query_parameters(route)
        for route in app._static_routes + app._dynamic_routes
    }
    documented = {
        f"{method.upper()} {path}": frozenset(
            p["name"] for p in op.get("parameters", []) if p["in"] == "query"
        )
        for path, operations in json.loads(openapi.generate())["paths"].items()
        for method, op in operations.items()
    }
    assert {route: names for route, names in documented.items() if names} == {
        route: names for route, names in declared.items() if names
    }
