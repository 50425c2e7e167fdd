"""The OpenAPI 3.1 document of /api/v1/ (served at /api/v1/openapi.json).
tests/integration/api/test_openapi.py keeps it true: every route is here and
nothing else, each operation's x-roles are its view's, and the answers the
tests get validate against these schemas."""

from __future__ import annotations

from typing import Any

NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
MOMENT = {"type": "string", "format": "date-time"}
NULLABLE_MOMENT = {"type": ["string", "null"], "format": "date-time"}
MANAGERS = ["manager", "admin"]
STAFF = ["supervisor", "manager", "admin"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any], *, required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


SCHEMAS: dict[str, Any] = {
    "Error": _object(
        {"error": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}}
    ),
    "LeadRecord": {
        "type": "object",
        "description": "One lead as a row of a lead file: `phone` is needed; the other lead "
        "fields are optional; any other key is kept as the lead's own field.",
        "properties": {
            "phone": {"type": ["string", "integer"]},
            **{
                name: {"type": ["string", "null"]}
                for name in (
                    "title",
                    "first_name",
                    "last_name",
                    "full_name",
                    "company",
                    "email",
                    "city",
                    "address",
                    "notes",
                    "timezone",
                )
            },
            "priority": {"type": ["integer", "string", "null"]},
        },
        "required": ["phone"],
        "additionalProperties": {"type": ["string", "number", "null"]},
    },
    "RecordResult": _object(
        {
            "line": {"type": "integer", "minimum": 1},
            "status": {"enum": ["imported", "rejected", "dnc", "duplicate", "already_in_campaign"]},
            "phone": NULLABLE_STRING,
            "lead_id": NULLABLE_INT,
            "code": NULLABLE_STRING,
            "message": NULLABLE_STRING,
            "warnings": {"type": "array", "items": {"type": "string"}},
        }
    ),
    "AddLeadsResult": _object(
        {
            "lead_list_id": {"type": "integer"},
            "imported": {"type": "integer"},
            "rows": {"type": "array", "items": _ref("RecordResult")},
        }
    ),
    "Lead": _object(
        {
            "id": {"type": "integer"},
            "campaign_id": {"type": "integer"},
            "state": {"type": "string"},
            "priority": {"type": "integer"},
            "attempts": {"type": "integer"},
            "next_attempt_at": NULLABLE_MOMENT,
            "phone": {"type": "string"},
            "phone2": NULLABLE_STRING,
            "title": {"type": "string"},
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "company": {"type": "string"},
            "email": NULLABLE_STRING,
            "city": {"type": "string"},
            "address": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        }
    ),
    "LeadChanges": {
        "type": "object",
        "properties": {
            name: {"type": ["string", "integer"] if name == "priority" else "string"}
            for name in (
                "title",
                "first_name",
                "last_name",
                "company",
                "email",
                "city",
                "address",
                "notes",
                "priority",
            )
        },
        "minProperties": 1,
        "additionalProperties": False,
    },
    "Callback": _object(
        {
            "id": {"type": "integer"},
            "lead_id": {"type": "integer"},
            "campaign_id": {"type": "integer"},
            "due_at": MOMENT,
            "agent_id": NULLABLE_INT,
            "status": {"enum": ["pending", "done", "cancelled", "missed"]},
            "note": {"type": "string"},
        }
    ),
    "NewCallback": _object(
        {"due_at": MOMENT, "agent_id": NULLABLE_INT, "note": {"type": "string"}},
        required=["due_at"],
    ),
    "DncEntry": _object(
        {
            "phone": {"type": "string"},
            "campaign_id": NULLABLE_INT,
            "reason": {"type": "string"},
            "source": {"type": "string"},
        }
    ),
    "NewDncEntry": _object(
        {"phone": {"type": "string"}, "campaign_id": NULLABLE_INT, "reason": {"type": "string"}},
        required=["phone"],
    ),
    "CampaignStatus": _object(
        {"id": {"type": "integer"}, "status": {"enum": ["active", "paused", "archived"]}}
    ),
    "Call": _object(
        {
            "id": {"type": "string"},
            "campaign_id": {"type": "integer"},
            "lead_id": {"type": "integer"},
            "customer_id": {"type": "integer"},
            "agent_id": NULLABLE_INT,
            "phone": {"type": "string"},
            "state": {"type": "string"},
            "outcome": NULLABLE_STRING,
            "dialed_at": MOMENT,
            "answered_at": NULLABLE_MOMENT,
            "connected_at": NULLABLE_MOMENT,
            "ended_at": NULLABLE_MOMENT,
            "disposition": {
                "oneOf": [
                    {"type": "null"},
                    _object(
                        {
                            "code": {"type": "string"},
                            "category": {"type": "string"},
                            "notes": {"type": "string"},
                            "set_at": MOMENT,
                        }
                    ),
                ]
            },
            "script_path": {
                "type": "array",
                "description": "Every script step entered, in order.",
                "items": _object(
                    {"step": {"type": "integer"}, "via": {"type": "string"}, "at": MOMENT}
                ),
            },
            "rejection": {
                "oneOf": [
                    {"type": "null"},
                    _object(
                        {
                            "step": {"type": "integer"},
                            "reason_code": NULLABLE_STRING,
                            "reason": NULLABLE_STRING,
                        }
                    ),
                ]
            },
            "recording": {
                "description": "The stored recording: `url` is its player page (a login with "
                "the right to hear it is needed there).",
                "oneOf": [
                    {"type": "null"},
                    _object(
                        {
                            "url": {"type": "string", "format": "uri"},
                            "duration_ms": NULLABLE_INT,
                            "sha256": NULLABLE_STRING,
                            "media_type": {"type": "string"},
                        }
                    ),
                ],
            },
        }
    ),
    "Appointment": _object(
        {
            "id": {"type": "integer"},
            "campaign_id": NULLABLE_INT,
            "lead_id": NULLABLE_INT,
            "call_id": NULLABLE_STRING,
            "customer_id": {"type": "integer"},
            "owner_id": {"type": "integer"},
            "booked_by_id": {"type": "integer"},
            "starts_at": MOMENT,
            "ends_at": MOMENT,
            "kind": {"enum": ["in_person", "online"]},
            "location": {"type": "string"},
            "meeting_link": {"type": "string"},
            "contact_number": {"type": "string"},
            "status": {"type": "string"},
        }
    ),
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    texts = {
        401: "No token, or an unknown or revoked one.",
        403: "The token's role (or, for the global do-not-call list, its scope) may not do this.",
        404: "Not found, or outside the token's campaigns.",
        409: "Not allowed in the lead's present state.",
        422: "Invalid input; `details` names the field.",
        429: "Too many requests with this token.",
    }
    return {
        str(status): _json(_ref("Error"), texts[status]) for status in (401, 403, 429, *statuses)
    }


def _operation(
    operation_id: str,
    summary: str,
    roles: list[str],
    responses: dict[str, Any],
    *,
    parameters: list[dict[str, Any]] | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "x-roles": roles,
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    return operation


def _path_id(name: str, kind: str = "integer") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _query(name: str, kind: str = "string", description: str = "") -> dict[str, Any]:
    parameter = {"name": name, "in": "query", "required": False, "schema": {"type": kind}}
    if description:
        parameter["description"] = description
    return parameter


def _paths() -> dict[str, Any]:
    lead_id = _path_id("lead_id")
    campaign_id = _path_id("campaign_id")
    return {
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi_document",
                "summary": "This document.",
                "security": [],
                "responses": {"200": {"description": "The OpenAPI document."}},
            }
        },
        "/api/v1/campaigns/{campaign_id}/leads": {
            "post": _operation(
                "add_leads",
                "Add leads to a campaign with the lead file's rules (numbers normalised, "
                "do-not-call numbers refused, duplicates merged); each record's fate by its "
                "line. The same records again change nothing.",
                MANAGERS,
                {
                    "200": _json(_ref("AddLeadsResult"), "What became of each record."),
                    **_errors(404, 422),
                },
                parameters=[campaign_id],
                body="NewLeads",
            )
        },
        "/api/v1/leads": {
            "get": _operation(
                "search_leads",
                "Find leads by number (either of the customer's), campaign or state.",
                MANAGERS,
                {
                    "200": _json(
                        _object({"leads": {"type": "array", "items": _ref("Lead")}}), "Leads."
                    ),
                    **_errors(422),
                },
                parameters=[
                    _query("campaign_id", "integer"),
                    _query("phone", description="In any common form."),
                    _query("state"),
                    _query("limit", "integer", "At most 100."),
                ],
            )
        },
        "/api/v1/leads/{lead_id}": {
            "get": _operation(
                "get_lead",
                "One lead.",
                MANAGERS,
                {"200": _json(_ref("Lead"), "The lead."), **_errors(404)},
                parameters=[lead_id],
            ),
            "patch": _operation(
                "update_lead",
                "Change the lead's customer details, checked as a lead file's row is.",
                MANAGERS,
                {"200": _json(_ref("Lead"), "The lead as it is now."), **_errors(404, 422)},
                parameters=[lead_id],
                body="LeadChanges",
            ),
        },
        "/api/v1/leads/{lead_id}/callbacks": {
            "post": _operation(
                "schedule_callback",
                "Schedule a callback for one agent or for anyone.",
                STAFF,
                {"201": _json(_ref("Callback"), "The callback."), **_errors(404, 409, 422)},
                parameters=[lead_id],
                body="NewCallback",
            )
        },
        "/api/v1/dnc": {
            "post": _operation(
                "add_dnc",
                "Put a number on a campaign's do-not-call list, or on the global one "
                "(campaign_id null: a token for all campaigns only).",
                MANAGERS,
                {"201": _json(_ref("DncEntry"), "The entry."), **_errors(404, 422)},
                body="NewDncEntry",
            ),
            "delete": _operation(
                "remove_dnc",
                "Take a number off a do-not-call list.",
                MANAGERS,
                {"204": {"description": "Removed."}, **_errors(404, 422)},
                parameters=[
                    {**_query("phone"), "required": True},
                    _query("campaign_id", "integer", "Absent: the global list."),
                ],
            ),
        },
        "/api/v1/campaigns/{campaign_id}/pause": {
            "post": _operation(
                "pause_campaign",
                "Pause a campaign: no new calls.",
                MANAGERS,
                {"200": _json(_ref("CampaignStatus"), "Its status."), **_errors(404, 409)},
                parameters=[campaign_id],
            )
        },
        "/api/v1/campaigns/{campaign_id}/resume": {
            "post": _operation(
                "resume_campaign",
                "Resume a paused campaign.",
                MANAGERS,
                {"200": _json(_ref("CampaignStatus"), "Its status."), **_errors(404, 409)},
                parameters=[campaign_id],
            )
        },
        "/api/v1/calls/{call_id}": {
            "get": _operation(
                "get_call",
                "A call with its disposition, script path, rejection and recording.",
                STAFF,
                {"200": _json(_ref("Call"), "The call."), **_errors(404)},
                parameters=[_path_id("call_id", "string")],
            )
        },
        "/api/v1/appointments": {
            "get": _operation(
                "list_appointments",
                "Booked meetings, by start time.",
                STAFF,
                {
                    "200": _json(
                        _object({"appointments": {"type": "array", "items": _ref("Appointment")}}),
                        "Meetings.",
                    ),
                    **_errors(422),
                },
                parameters=[
                    _query("campaign_id", "integer"),
                    _query("since", description="Date-time with offset: starts at or after."),
                    _query("until", description="Date-time with offset: starts before."),
                    _query("status"),
                ],
            )
        },
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "callcenter API",
            "version": "1",
            "description": "Tokens are made by an admin (Admin → API tokens), each for one "
            "role and some campaigns; send it as `Authorization: Bearer <token>`. A session "
            "cookie does not authenticate here. Each token is rate-limited.",
        },
        "security": [{"token": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **SCHEMAS,
                "NewLeads": _object(
                    {
                        "leads": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 1000,
                            "items": _ref("LeadRecord"),
                        }
                    }
                ),
            },
        },
    }
