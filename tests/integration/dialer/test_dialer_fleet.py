"""Several dialers: one holds a campaign at a time, a lost one is taken over
and what it left open is closed (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from callcenter.db import Database, utcnow
from callcenter.events import CallDialing
from callcenter.models import Call, Campaign, Lead
from callcenter.models.fleet import CampaignLease
from callcenter.services import calls, dialer_fleet, lead_lifecycle, scripts_catalog
from callcenter.services.dialer_fleet import LOST_REASON, DialerIdentity
from callcenter.states import CallOutcome, CallState, LeadState
from dialer.db_port import DatabaseServices
from tests.factories import make_campaign, make_lead
from tests.support import statements

LEASE = timedelta(seconds=15)
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=utcnow().tzinfo)


def _sign_in(database: Database, name: str, trunk: str = "default") -> str:
    identity = DialerIdentity(id=name, host="host", pid=1, trunk=trunk)
    with database.unit_of_work() as session:
        dialer_fleet.sign_in(session, identity, now=T0)
    return name


def _hold(database: Database, dialer_id: str, at: datetime) -> dialer_fleet.HeldCampaigns:
    with database.unit_of_work() as session:
        held = dialer_fleet.hold_campaigns(session, dialer_id, now=at, lease=LEASE)
        session.expunge_all()
    return held


def _ids(held: dialer_fleet.HeldCampaigns) -> list[int]:
    return [campaign.id for campaign in held.campaigns]


def _campaigns(database: Database, count: int) -> list[int]:
    with database.unit_of_work() as session:
        return [make_campaign(session).id for _ in range(count)]


def test_one_dialer_holds_a_campaign_and_renews_it(database: Database) -> None:
    (campaign_id,) = _campaigns(database, 1)
    first, second = _sign_in(database, "first"), _sign_in(database, "second")
    assert _ids(_hold(database, first, T0)) == [campaign_id]
    assert _ids(_hold(database, second, T0 + timedelta(seconds=1))) == []
    # Renewed every tick, the lease never expires under the first dialer.
    for tick in range(1, 40):
        at = T0 + timedelta(seconds=tick)
        assert _ids(_hold(database, first, at)) == [campaign_id]
        assert _ids(_hold(database, second, at)) == []


def test_live_dialers_share_the_free_campaigns(database: Database) -> None:
    campaign_ids = _campaigns(database, 4)
    first, second = _sign_in(database, "first"), _sign_in(database, "second")
    mine = _ids(_hold(database, first, T0))
    theirs = _ids(_hold(database, second, T0))
    assert len(mine) == 2 and len(theirs) == 2
    assert sorted(mine + theirs) == campaign_ids


def test_a_dialer_dials_only_the_campaigns_on_its_trunk(database: Database) -> None:
    with database.unit_of_work() as session:
        on_default = make_campaign(session).id
        on_tehran = make_campaign(session, trunk="tehran").id
    first, tehran = _sign_in(database, "first"), _sign_in(database, "tehran", trunk="tehran")
    assert _ids(_hold(database, first, T0)) == [on_default]
    assert _ids(_hold(database, tehran, T0)) == [on_tehran]


def test_an_expired_lease_is_taken_over_and_a_clean_stop_frees_at_once(database: Database) -> None:
    (campaign_id,) = _campaigns(database, 1)
    first, second = _sign_in(database, "first"), _sign_in(database, "second")
    _hold(database, first, T0)
    assert _hold(database, second, T0 + LEASE - timedelta(seconds=1)).campaigns == []
    taken = _hold(database, second, T0 + LEASE + timedelta(seconds=1))
    assert _ids(taken) == [campaign_id] and taken.taken_over == [campaign_id]
    # The first comes back: it does not get the campaign back.
    assert _ids(_hold(database, first, T0 + LEASE + timedelta(seconds=2))) == []

    with database.unit_of_work() as session:
        dialer_fleet.sign_off(session, second, now=T0 + LEASE + timedelta(seconds=3))
    again = _hold(database, first, T0 + LEASE + timedelta(seconds=4))
    assert _ids(again) == [campaign_id] and again.taken_over == []


def _dial(database: Database, campaign_id: int, dialer_id: str, at: datetime) -> tuple[int, str]:
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        lead = make_lead(session, campaign)
        lead_lifecycle.claim_attempt(session, lead.id, now=at)
        event = CallDialing(
            call_id=f"{dialer_id}-{lead.id}",
            campaign_id=campaign_id,
            lead_id=lead.id,
            attempt=1,
            dialer_id=dialer_id,
            occurred_at=at,
        )
        calls.apply_event(session, event)
        return lead.id, event.call_id


def test_the_new_holder_closes_only_what_lost_dialers_left_open(database: Database) -> None:
    campaign_id, elsewhere = _campaigns(database, 2)
    lost, live, taker = (_sign_in(database, name) for name in ("lost", "live", "taker"))
    assert _ids(_hold(database, lost, T0)) == [campaign_id]
    assert _ids(_hold(database, live, T0)) == [elsewhere]
    lost_lead, lost_call = _dial(database, campaign_id, lost, T0)
    # A call of a dialer that is alive (it held the campaign before) is its own to end.
    live_lead, live_call = _dial(database, campaign_id, live, T0)
    assert _ids(_hold(database, taker, T0 + timedelta(seconds=10))) == []
    later = T0 + LEASE + timedelta(seconds=1)
    assert _ids(_hold(database, live, later)) == [elsewhere]
    held = _hold(database, taker, later)
    assert held.taken_over == [campaign_id]

    with database.unit_of_work() as session:
        work = dialer_fleet.recover_lost_work(session, taker, [campaign_id], now=later, lease=LEASE)
    assert work.calls_closed == [lost_call]
    with database.sessions() as session:
        closed = session.get(Call, lost_call)
        untouched = session.get(Call, live_call)
        assert closed is not None and untouched is not None
        assert closed.state is CallState.ENDED
        assert (closed.outcome, closed.sip_reason) == (CallOutcome.FAILED, LOST_REASON)
        assert untouched.state is CallState.DIALING
        lead = session.get(Lead, lost_lead)
        assert lead is not None and lead.state is not LeadState.DIALING
        other = session.get(Lead, live_lead)
        assert other is not None and other.state is LeadState.DIALING


def test_a_lead_claimed_but_never_dialed_goes_back_once_its_dialer_is_lost(
    database: Database,
) -> None:
    (campaign_id,) = _campaigns(database, 1)
    lost, taker = _sign_in(database, "lost"), _sign_in(database, "taker")
    _hold(database, lost, T0)
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        lead_id = make_lead(session, campaign).id
        lead_lifecycle.claim_attempt(session, lead_id, now=T0)
    takeover = T0 + LEASE + timedelta(seconds=1)
    _hold(database, taker, takeover)

    def recover(at: datetime) -> int:
        with database.unit_of_work() as session:
            work = dialer_fleet.recover_lost_work(
                session, taker, [campaign_id], now=at, lease=LEASE
            )
        return work.leads_released

    assert recover(takeover) == 1
    with database.sessions() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and lead.state is LeadState.RETRY and lead.attempts == 1

    # The lost dialer's call.dialing arrives late: it must not claim the lead again.
    late = CallDialing(
        call_id="late",
        campaign_id=campaign_id,
        lead_id=lead_id,
        attempt=1,
        dialer_id=lost,
        occurred_at=T0,
    )
    with database.unit_of_work() as session:
        calls.apply_event(session, late)
    with database.sessions() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and lead.state is LeadState.RETRY and lead.attempts == 1
    # ...and the call row it made is closed by the holder's next sweep.
    with database.unit_of_work() as session:
        work = dialer_fleet.recover_lost_work(
            session, taker, [campaign_id], now=takeover + timedelta(seconds=10), lease=LEASE
        )
    assert work.calls_closed == ["late"]
    with database.sessions() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and lead.state is LeadState.RETRY and lead.attempts == 1
        assert session.scalars(select(CampaignLease.dialer_id)).all() == [taker]


def test_renewing_the_leases_held_asks_four_statements(database: Database) -> None:
    """A tick of a dialer that holds its campaigns: the heartbeat returns the
    trunk, the campaigns, the leases locked, the lease renewed; the live
    dialers are counted only when a campaign is free to share."""
    _campaigns(database, 1)
    first = _sign_in(database, "first")
    _hold(database, first, T0)
    with statements(database) as seen:
        _hold(database, first, T0 + timedelta(seconds=1))
    asked = [s for s in seen if not s.startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))]
    assert len(asked) == 4, asked
    assert not any("count(" in s.lower() for s in asked)


def test_the_port_reads_a_script_version_s_locale_once(database: Database) -> None:
    with database.unit_of_work() as session:
        versions = {v.locale: v.id for v in scripts_catalog.ensure_builtin_scripts(session)}
        campaign_id = make_campaign(session, script_version_id=versions["en"]).id
    port = DatabaseServices(database)
    port.sign_in(now=T0)
    assert [plan.locale for plan in port.hold_campaigns(now=T0)] == ["en"]
    with statements(database) as seen:
        assert [plan.locale for plan in port.hold_campaigns(now=T0)] == ["en"]
    assert not any("script_versions" in s for s in seen)
    with database.unit_of_work() as session:
        session.get_one(Campaign, campaign_id).script_version_id = versions["fa"]
    assert [plan.locale for plan in port.hold_campaigns(now=T0)] == ["fa"]
