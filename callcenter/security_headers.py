"""Headers every response carries: no framing, no MIME sniffing, no referrer
leaks across origins, the microphone for our own pages only (the browser
phone), a Content-Security-Policy that runs scripts and styles from this
origin only (no inline script is left), and HSTS in production (where TLS
terminates in front)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response

from callcenter.settings import Settings

BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), geolocation=(), microphone=(self)",
}
HSTS = "max-age=31536000; includeSubDomains"


def content_security_policy(settings: Settings) -> str:
    """Everything from this origin; the browser phone may also connect to its
    phone server (the proxy's wss:// URL, or the built-in gateway's port on
    whatever host the agent opened the screen from)."""
    phone_server = ""
    if settings.webphone.enabled:
        if settings.webphone.ws_url:
            parts = urlsplit(settings.webphone.ws_url)
            phone_server = f" {parts.scheme}://{parts.netloc}"
        else:
            phone_server = f" ws://*:{settings.webphone.gateway_port}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self'{phone_server}",
            "media-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def init_app(app: Flask, settings: Settings) -> None:
    headers = {**BASE_HEADERS, "Content-Security-Policy": content_security_policy(settings)}
    if settings.is_production:
        headers["Strict-Transport-Security"] = HSTS

    def add_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    app.after_request(add_headers)
