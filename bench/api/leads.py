"""Leads through the JSON API: requests of 1,000 records each, through the
app's own HTTP server (werkzeug, threaded) with `requests`, on a fresh SQLite
file.

    .venv/bin/python -m bench.api.leads [--requests 10]

Prints records/s and the median request time."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests
from werkzeug.serving import make_server

from callcenter import migrate
from callcenter.app import create_app
from callcenter.db import Database
from callcenter.models import Campaign
from callcenter.services import accounts, api_tokens
from callcenter.settings import load_settings
from callcenter.states import Role

PER_REQUEST = 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="api-bench-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    migrate.upgrade(url)
    database = Database(url)
    with database.unit_of_work() as session:
        campaign = Campaign(name="bench")
        session.add(campaign)
        admin, _ = accounts.create_user(
            session, username="bench", full_name="Bench", role=Role.ADMIN, actor=None
        )
        session.flush()
        _row, token = api_tokens.create_token(
            session, name="bench", role=Role.MANAGER, campaigns=[campaign],
            all_campaigns=False, actor=admin,
        )  # fmt: skip
        campaign_id = campaign.id
    settings = load_settings(environ={}, overrides={"instance_path": str(folder)})
    app = create_app(settings, database=database)
    app.config["RATELIMIT_ENABLED"] = False
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/api/v1/campaigns/{campaign_id}/leads"
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    with requests.Session() as http:
        for batch in range(args.requests):
            records = [
                {"phone": f"0912{batch:03d}{n:04d}", "first_name": "سارا", "last_name": "احمدی"}
                for n in range(PER_REQUEST)
            ]
            started = time.perf_counter()
            answer = http.post(base, json={"leads": records}, headers=headers, timeout=120)
            times.append(time.perf_counter() - started)
            assert answer.status_code == 200 and answer.json()["imported"] == PER_REQUEST
    server.shutdown()
    total = PER_REQUEST * args.requests
    print(
        f"{total} leads in {args.requests} requests of {PER_REQUEST}: "
        f"{total / sum(times):.0f} records/s, median request {statistics.median(times):.2f} s"
    )


if __name__ == "__main__":
    main()
