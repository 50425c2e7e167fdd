"""The JSON API under /api/v1/ for other systems (CRM, web forms), with its
OpenAPI document."""
