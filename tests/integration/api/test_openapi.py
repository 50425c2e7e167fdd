"""The OpenAPI document stays true: it is a valid OpenAPI 3.1 document, the
app serves it, it lists exactly the API's routes, each with its view's roles.
(The answers validate against it in every API test: conftest.Api.)"""

from __future__ import annotations

import re

from flask import Flask
from openapi_spec_validator import validate

from callcenter.api.openapi import document
from callcenter.auth.access import roles_for_endpoint
from tests.integration.api.conftest import Api


def _api_routes(app: Flask) -> dict[tuple[str, str], str]:
    routes = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes[(path, method.lower())] = rule.endpoint
    return routes


def test_the_document_is_valid_openapi_3_1() -> None:
    validate(document())
    assert document()["openapi"].startswith("3.1")


def test_every_route_is_documented_and_nothing_else(app: Flask) -> None:
    documented = {
        (path, method) for path, operations in document()["paths"].items() for method in operations
    }
    assert set(_api_routes(app)) == documented


def test_each_operation_names_its_views_roles_and_endpoint(app: Flask) -> None:
    for (path, method), endpoint in _api_routes(app).items():
        operation = document()["paths"][path][method]
        assert operation["operationId"] == endpoint.removeprefix("api.")
        roles = roles_for_endpoint(app, endpoint)
        if roles is None:
            assert operation.get("security") == [], f"{path} is public but not documented so"
            continue
        assert sorted(operation["x-roles"]) == sorted(str(role) for role in roles), path
        for status in ("401", "403", "429"):
            assert status in operation["responses"], f"{method} {path} does not list {status}"


def test_the_app_serves_the_document(api: Api) -> None:
    served = api.call("GET", "/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.json() == document()
