"""Demo data for the embedded default: teams, staff, two campaigns and a few
hundred leads with Persian and English names. Passwords are random and
returned to the caller, who shows them once."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.models import (
    Campaign,
    CampaignStatus,
    Customer,
    DialMode,
    Lead,
    LeadList,
    PauseReason,
    User,
)
from callcenter.services import accounts, disposition_codes
from callcenter.states import LeadState, Role

PERSIAN_FIRST = [
    "علی",
    "مریم",
    "رضا",
    "زهرا",
    "حسین",
    "فاطمه",
    "محمد",
    "سارا",
    "امیر",
    "نرگس",
    "مهدی",
    "لیلا",
    "سعید",
    "نازنین",
    "حمید",
    "پریسا",
    "کاوه",
    "شیرین",
    "بهرام",
    "یاسمن",
]
PERSIAN_LAST = [
    "احمدی",
    "محمدی",
    "حسینی",
    "رضایی",
    "کریمی",
    "موسوی",
    "جعفری",
    "صادقی",
    "رحیمی",
    "کاظمی",
    "نوری",
    "فرهادی",
    "شریفی",
    "تهرانی",
    "اکبری",
    "قاسمی",
    "مرادی",
    "یزدانی",
]
PERSIAN_FEMALE = {
    "مریم",
    "زهرا",
    "فاطمه",
    "سارا",
    "نرگس",
    "لیلا",
    "نازنین",
    "پریسا",
    "شیرین",
    "یاسمن",
}
ENGLISH_FIRST = [
    "James",
    "Mary",
    "Robert",
    "Linda",
    "David",
    "Susan",
    "Daniel",
    "Karen",
    "Paul",
    "Emma",
    "Mark",
    "Olivia",
    "Peter",
    "Sophie",
]
ENGLISH_FEMALE = {"Mary", "Linda", "Susan", "Karen", "Emma", "Olivia", "Sophie"}
ENGLISH_LAST = [
    "Smith",
    "Brown",
    "Taylor",
    "Wilson",
    "Clarke",
    "Walker",
    "Wright",
    "Hughes",
    "Green",
    "Hall",
    "Wood",
    "Turner",
]
PERSIAN_COMPANIES = ["پارس تجارت", "آریا صنعت", "نوین پخش", "البرز سازه", "کیمیا دارو", ""]
ENGLISH_COMPANIES = ["Northwind Ltd", "Contoso Trading", "Fabrikam", "Globex", ""]
MOBILE_PREFIXES = ["12", "13", "19", "35", "36", "01", "21"]
CITIES = ["تهران", "اصفهان", "شیراز", "مشهد", "تبریز"]
PAUSE_REASONS = [
    ("break", "استراحت", "Break", 15),
    ("lunch", "ناهار", "Lunch", 45),
    ("training", "آموزش", "Training", 60),
    ("meeting", "جلسه", "Meeting", 60),
]


@dataclass
class DemoResult:
    credentials: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # username, role, password
    campaigns: int = 0
    leads: int = 0


def has_users(session: Session) -> bool:
    return session.scalar(select(User.id).limit(1)) is not None


# Tehran office lines (fictional): the campaigns' caller IDs, and each
# agent's direct line that the script reads back with the meeting.
DIRECT_NUMBERS = {
    "agent1": "+982188776601",
    "agent2": "+982188776602",
    "agent3": "+982188776603",
    "agent4": "+982188776701",
    "agent5": "+982188776702",
    "sales1": "+982188776610",
    "sales2": "+982188776710",
}


def load_demo(
    session: Session, *, seed: int | None = None, leads_per_campaign: int = 150
) -> DemoResult:
    rng = random.Random(seed)
    result = DemoResult()
    _pause_reasons(session)
    team_fa = accounts.get_or_create_team(session, "تیم فروش تهران")
    team_en = accounts.get_or_create_team(session, "Sales Team B")
    staff = [
        ("admin", "مدیر سیستم", Role.ADMIN, None, "fa"),
        ("manager", "Nasrin Manager", Role.MANAGER, None, "en"),
        ("supervisor", "سرپرست سالن", Role.SUPERVISOR, team_fa, "fa"),
        ("agent1", "نیلوفر کریمی", Role.AGENT, team_fa, "fa"),
        ("agent2", "بابک نوری", Role.AGENT, team_fa, "fa"),
        ("agent3", "سمیرا رضایی", Role.AGENT, team_fa, "fa"),
        ("agent4", "John Carter", Role.AGENT, team_en, "en"),
        ("agent5", "Anna Lee", Role.AGENT, team_en, "en"),
        ("sales1", "مهدی صادقی", Role.AGENT, team_fa, "fa"),
        ("sales2", "Laura Bennett", Role.AGENT, team_en, "en"),
    ]
    salespeople = {"sales1", "sales2"}  # they hold the meetings the agents book
    for username, name, role, team, locale in staff:
        user, password = accounts.create_user(
            session,
            username=username,
            full_name=name,
            role=role,
            team=team,
            locale=locale,
            actor=None,
        )
        if role is Role.SUPERVISOR:
            user.supervised.extend([team_fa, team_en])
        user.is_salesperson = username in salespeople
        if role is Role.AGENT:  # read back to customers as "my direct number" (step 7)
            user.direct_number = DIRECT_NUMBERS[username]
        result.credentials.append((username, role.value, password))
    campaigns = [
        Campaign(
            name="فروش بیمه تکمیلی",
            company_name="بیمه پارسیان نمونه",
            description="هزینه‌های درمان کارکنانتان را با خیال راحت پوشش دهید",
            product="بیمه تکمیلی درمان",
            dial_mode=DialMode.PREDICTIVE,
            status=CampaignStatus.ACTIVE,
            teams=[team_fa],
            caller_id="+982188776600",
        ),
        Campaign(
            name="Business Software Demo",
            company_name="Contoso Software",
            description="close your books in half the time",
            product="accounting software",
            dial_mode=DialMode.PROGRESSIVE,
            status=CampaignStatus.ACTIVE,
            teams=[team_en],
            caller_id="+982188776700",
        ),
    ]
    session.add_all(campaigns)
    session.flush()
    for campaign in campaigns:
        disposition_codes.seed_defaults(session, campaign)
    _pin_scripts(session, campaigns, ("fa", "en"))
    for campaign, persian in zip(campaigns, (True, False), strict=True):
        result.leads += _leads(session, rng, campaign, persian, leads_per_campaign)
    result.campaigns = len(campaigns)
    return result


def _pin_scripts(session: Session, campaigns: list[Campaign], locales: tuple[str, ...]) -> None:
    """Each demo campaign uses the built-in script in its language."""
    from callcenter.services import scripts_catalog

    for campaign, locale in zip(campaigns, locales, strict=True):
        campaign.script_version_id = scripts_catalog.builtin_version(session, locale).id


def _pause_reasons(session: Session) -> None:
    for code, label_fa, label_en, limit in PAUSE_REASONS:
        if session.get(PauseReason, code) is None:
            session.add(
                PauseReason(code=code, label_fa=label_fa, label_en=label_en, limit_minutes=limit)
            )


def _leads(
    session: Session, rng: random.Random, campaign: Campaign, persian: bool, count: int
) -> int:
    lead_list = LeadList(
        campaign_id=campaign.id, name="demo", rows_total=count, rows_imported=count
    )
    session.add(lead_list)
    session.flush()
    now = utcnow()
    for _ in range(count):
        customer = Customer(phone_e164=_unique_mobile(session, rng), **_person(rng, persian))
        session.add(customer)
        session.flush()
        session.add(
            Lead(
                campaign_id=campaign.id,
                customer_id=customer.id,
                lead_list_id=lead_list.id,
                state=LeadState.NEW,
                priority=rng.choice([0, 0, 0, 1, 2]),
                next_attempt_at=now - timedelta(minutes=rng.randint(0, 600)),
            )
        )
    return count


def _person(rng: random.Random, persian: bool) -> dict[str, str]:
    if persian:
        first = rng.choice(PERSIAN_FIRST)
        return {
            "first_name": first,
            "last_name": rng.choice(PERSIAN_LAST),
            "title": "خانم" if first in PERSIAN_FEMALE else "آقای",
            "company": rng.choice(PERSIAN_COMPANIES),
            "city": rng.choice(CITIES),
            "locale": "fa",
        }
    first = rng.choice(ENGLISH_FIRST)
    return {
        "first_name": first,
        "last_name": rng.choice(ENGLISH_LAST),
        "title": "Ms" if first in ENGLISH_FEMALE else "Mr",
        "company": rng.choice(ENGLISH_COMPANIES),
        "city": "Tehran",
        "locale": "en",
        "email": f"{first.lower()}.{rng.randint(100, 999)}@example.com",
    }


def _unique_mobile(session: Session, rng: random.Random) -> str:
    while True:
        operator = rng.choice(MOBILE_PREFIXES)
        number = f"+989{operator}{rng.randint(0, 9_999_999):07d}"
        if session.scalar(select(Customer.id).where(Customer.phone_e164 == number)) is None:
            return number
