"""gunicorn's settings for the web tier, one place for every way it is started
(deploy/, the Procfile, docs/deployment.md and the tests):

    gunicorn -c python:callcenter.gunicorn_conf -b 127.0.0.1:8001 callcenter.wsgi:app

gevent worker: a connected browser's socket is a greenlet of a few tens of KB,
not a thread, so one process holds the whole floor's sockets and still serves
pages (docs/deployment.md, "Web processes"). One worker per process: the
Socket.IO clients and the Prometheus registry live in that process.
"""

worker_class = "gevent"
workers = 1
# Connections the worker accepts at once: the sockets it may hold
# (web.sockets_per_process, default 1000) plus room for page requests.
worker_connections = 2000
timeout = 30
# How long a connection may wait for its next request, and (gunicorn times
# both alike) for its first: past it gunicorn closes it without an answer.
# Its 2 s default dropped clients slowed by load or a long round trip, and
# raced nginx's idle upstream connections (a request sent on one gunicorn had
# just closed got a 502): nginx now drops them after 5 s (deploy/nginx.conf).
# Not longer: a stopping worker waits for its idle connections too.
keepalive = 10
graceful_timeout = 30
accesslog = "-"


def post_worker_init(worker: object) -> None:
    """The worker has loaded the app: what it built lives as long as the worker."""
    from callcenter.process_memory import freeze_what_startup_built

    freeze_what_startup_built()
