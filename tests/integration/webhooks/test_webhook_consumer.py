"""`callcenter consume` sends the webhooks, and nothing is lost when it dies:
events queued while it is down are sent when it is back, and one it was
sending when it was killed is sent again once its lease runs out."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.db import Database
from callcenter.models import WebhookDelivery, WebhookDeliveryStatus
from callcenter.services import webhooks
from callcenter.states import Role
from tests.factories import make_user
from tests.integration.web_tier import environment
from tests.integration.webhooks.receiver import HANG, receiver
from tests.support import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]
CALLCENTER = Path(sys.executable).parent / "callcenter"


@contextmanager
def consumer(env: dict[str, str], tmp_path: Path, name: str) -> Iterator[subprocess.Popen[str]]:
    log = (tmp_path / f"{name}.log").open("w")
    process = subprocess.Popen(
        [str(CALLCENTER), "consume", "--heartbeat", "0.5"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def test_nothing_is_lost_across_a_consumer_restart(tmp_path: Path, redis_url: str) -> None:
    # The killed consumer's lease is three timeouts plus 5 s: the second
    # consumer waits that long to send the delivery again. A receiver on this
    # host answers within milliseconds.
    env = environment(
        tmp_path,
        redis_url,
        CC_WEBHOOKS__TIMEOUT_SECONDS="1.5",
        CC_WEBHOOKS__FIRST_RETRY_SECONDS="0.2",
    )
    database = Database(f"sqlite:///{tmp_path / 'instance' / 'callcenter.db'}")

    def statuses() -> dict[str, WebhookDeliveryStatus]:
        with database.read_sessions() as session:
            rows = session.scalars(select(WebhookDelivery)).all()
            return {row.event_id: row.status for row in rows}

    def enqueue(data: dict[str, int]) -> str:
        with database.unit_of_work() as session:
            (delivery,) = webhooks.enqueue(session, "appointment.booked", data)
            return delivery.event_id

    with receiver(HANG) as crm:
        with database.unit_of_work() as session:
            admin = make_user(session, Role.ADMIN)
            webhooks.create_subscription(
                session, name="CRM", url=crm.url, events=["appointment.booked"], actor=admin
            )
        in_flight = enqueue({"appointment_id": 1})

        with consumer(env, tmp_path, "first") as first:
            log = tmp_path / "first.log"
            wait_until(lambda: crm.received, 60, "the first consumer's post", first, log)
            first.kill()  # mid-request: the receiver has not answered
            first.wait()
        crm.released.set()

        queued_while_down = [enqueue({"appointment_id": n}) for n in (2, 3)]
        assert set(statuses().values()) == {WebhookDeliveryStatus.PENDING}

        with consumer(env, tmp_path, "second") as second:
            log = tmp_path / "second.log"
            wait_until(
                lambda: set(statuses().values()) == {WebhookDeliveryStatus.DELIVERED},
                60,
                "every delivery delivered",
                second,
                log,
                state=lambda: str(statuses()),
            )

    got = [r.headers["X-Callcenter-Delivery"] for r in crm.received]
    assert set(got) == {in_flight, *queued_while_down}
    assert got.count(in_flight) == 2, "sent again after the lease of the killed consumer ran out"
    database.dispose()
