"""The WSGI application for a production server, one process per port:

    gunicorn -c python:callcenter.gunicorn_conf -b 127.0.0.1:8001 callcenter.wsgi:app

callcenter.gunicorn_conf runs one gevent worker: Flask-SocketIO then serves
each websocket from a greenlet (callcenter.realtime.async_mode), not a thread.
Run more processes on more ports behind the proxy (docs/deployment.md). Like
`callcenter web`, the process joins the event bus's consumer group unless
CC_WEB__APPLIES_EVENTS=false leaves the events to `callcenter consume`.

It is meant to sit behind one reverse proxy on a loopback or private
address: the proxy's X-Forwarded-For/-Proto/-Host are trusted, one hop, so
the login rate limit counts per client rather than per proxy, and redirects
keep https. Never bind it to a public address without the proxy.
"""

from __future__ import annotations

from werkzeug.middleware.proxy_fix import ProxyFix

from callcenter.app import create_app, start_web_background
from callcenter.logging_setup import configure_logging
from callcenter.settings import SettingsError, load_settings

try:
    settings = load_settings()
except SettingsError as exc:
    raise SystemExit(f"callcenter: configuration error: {exc}") from None
configure_logging(settings)
app = create_app(settings)
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
start_web_background(app)
