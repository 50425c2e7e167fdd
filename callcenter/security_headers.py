"""Headers every response carries: no framing, no MIME sniffing, no referrer
leaks across origins, the microphone for our own pages only (the browser
phone), and HSTS in production (where TLS terminates in front)."""

from __future__ import annotations

from flask import Flask, Response

BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), geolocation=(), microphone=(self)",
}
HSTS = "max-age=31536000; includeSubDomains"


def init_app(app: Flask, *, production: bool) -> None:
    def add_headers(response: Response) -> Response:
        for name, value in BASE_HEADERS.items():
            response.headers.setdefault(name, value)
        if production:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    app.after_request(add_headers)
