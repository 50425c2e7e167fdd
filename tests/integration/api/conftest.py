"""The API through the app's own HTTP server, driven with `requests`; every
answer is checked against the OpenAPI document the app serves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from flask import Flask
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from callcenter.api.openapi import document
from callcenter.models import Campaign, User
from callcenter.services import api_tokens
from callcenter.states import Role
from tests.factories import make_user
from tests.support import free_port, serve_in_thread

OPENAPI = document()
REGISTRY = Registry().with_resource("urn:openapi", DRAFT202012.create_resource(OPENAPI))


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The documented path template and operation that `path` answers to."""
    for template, operations in OPENAPI["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return template, operations[method.lower()]
    raise AssertionError(f"{method} {path} is not in the OpenAPI document")


def check_against_document(method: str, path: str, response: requests.Response) -> None:
    template, operation = operation_for(method, path)
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, (
        f"{method} {template} answered {response.status_code}, which the document does not list"
    )
    if documented.get("content") is None:
        return
    where = ["paths", template, method.lower(), "responses", str(response.status_code)]
    pointer = "/".join(part.replace("~", "~0").replace("/", "~1") for part in where)
    schema = {"$ref": f"urn:openapi#/{pointer}/content/application~1json/schema"}
    validator = Draft202012Validator(schema, registry=REGISTRY)
    errors = sorted(validator.iter_errors(response.json()), key=str)
    assert not errors, f"{method} {template} {response.status_code}: {errors[0]}"


@dataclass
class Api:
    """Requests to the running server with a token; each answer is checked
    against the document (and kept, for the tests that look at coverage)."""

    base: str
    token: str | None = None
    seen: list[tuple[str, str, int]] = field(default_factory=list)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        response = requests.request(method, self.base + path, headers=headers, timeout=10, **kwargs)
        check_against_document(method, path, response)
        self.seen.append((method, operation_for(method, path)[0], response.status_code))
        return response

    def with_token(self, token: str | None) -> Api:
        return Api(self.base, token, self.seen)


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    port = free_port()
    http = make_server("127.0.0.1", port, app, threaded=True)
    thread = serve_in_thread(http)
    yield f"http://127.0.0.1:{port}"
    http.shutdown()
    thread.join(5)


@pytest.fixture
def api(server: str) -> Api:
    return Api(server)


def new_token(
    session: Session,
    role: Role = Role.MANAGER,
    campaigns: list[Campaign] | None = None,
    *,
    admin: User | None = None,
) -> str:
    """A token made as the admin screen makes it; committed."""
    admin = admin or make_user(session, Role.ADMIN)
    _row, token = api_tokens.create_token(
        session,
        name=f"crm-{role.value}",
        role=role,
        campaigns=campaigns or [],
        all_campaigns=campaigns is None,
        actor=admin,
    )
    session.commit()
    return token
