"""Screen-pop latency: from publishing `call.connected` on the bus to the pop
being drawn in real headless Chromium (loopback, SQLite file, in-process bus).

    PYTHONPATH=. .venv/bin/python -m bench.screen_pop.measure [--calls 50]

Prints p50/p99/max in milliseconds. The browser records the time after the
frame that shows the pop (requestAnimationFrame + a task)."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from callcenter import migrate
from callcenter.db import Database
from callcenter.events import CallAnswered, CallConnected, CallDialing, CallEnded
from callcenter.settings import load_settings
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.site import serve
from tests.factories import TEST_PASSWORD
from tests.integration.agent.agent_floor import build_floor, new_lead


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from callcenter.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        database = Database(url)
        settings = load_settings(environ={}, overrides={"env": "test", "instance_path": tmp})
        app = create_app(settings, database=database)
        bus = app.extensions["cc_bus"]
        bus.start()
        with database.sessions() as session:
            floor = build_floor(session, email=None)
            leads = [new_lead(session, floor) for _ in range(args.calls)]
        base, server = serve(app)
        latencies: list[float] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"{base}/login")
            page.fill("input[name=username]", floor.agent_username)
            page.fill("input[name=password]", TEST_PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{base}/agent/")
            page.wait_for_function("() => document.getElementById('conn').classList.contains('on')")
            if page.locator('input[name="phone_kind"][value="sip"]').count():
                page.check('input[name="phone_kind"][value="sip"]')
            page.fill("#phone", "sip:1001@pbx.local")
            page.keyboard.press("F2")
            page.wait_for_selector("#agent-state[data-state=ready]")
            for number, lead_id in enumerate(leads, start=1):
                call_id = uuid.uuid4().hex
                bus.publish(
                    CallDialing(
                        call_id=call_id, campaign_id=floor.campaign_id, lead_id=lead_id, attempt=1
                    )
                )
                bus.publish(CallAnswered(call_id=call_id))
                assert bus.wait_until_idle()
                sent = time.time() * 1000
                bus.publish(CallConnected(call_id=call_id, agent_id=floor.agent_id))
                page.wait_for_function(f"() => window.ccAgent.pops.length === {number}")
                drawn = page.evaluate(
                    "window.ccAgent.pops[window.ccAgent.pops.length - 1].drawn_at"
                )
                latencies.append(drawn - sent)
                bus.publish(CallEnded(call_id=call_id, outcome="answered"))
                page.wait_for_selector("#countdown:not([hidden])")
                page.check("input[name=dispo][value=no_decision]")
                page.keyboard.press("Alt+KeyS")
                page.wait_for_selector("#agent-state[data-state=ready]")
                page.wait_for_selector("#call[hidden]", state="attached")
            browser.close()
        server.shutdown()
        bus.stop()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(
        f"screen pop, connect event -> drawn, {len(latencies)} calls: "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
