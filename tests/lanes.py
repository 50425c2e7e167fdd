"""Which real services each test needs, read from the fixtures it uses and
where it lives, so no marker is ever forgotten: `make test` runs them all,
`make test-fast` (-m fast) only the tests that need none of them."""

from __future__ import annotations

import pytest

SERVICES = ("postgres", "redis", "sipp", "browser", "network", "processes", "slow")

NEEDS_BY_FIXTURE = {
    "postgres": {"postgres_url", "postgres_database", "private_postgres"},
    "redis": {"redis_url", "dialer_redis_url", "private_redis"},
    "sipp": {"sipp"},
    "browser": {"browser", "playwright", "chromium_with_microphone", "webphone_bench"},
    "network": {"netns", "kamailio", "registrar", "baresip"},
    "processes": {"embedded_server", "phone_server", "gunicorn", "topology", "seaweed"},
}
NEEDS_BY_PLACE = {
    "tests/e2e/": ("browser", "processes"),
    "tests/integration/sip/": ("sipp", "network"),
    "tests/integration/webphone/": ("browser", "network"),
    "tests/integration/faults/": ("processes",),
    # searches that run for tens of seconds by design, and whole dialer runs
    "tests/fuzz/": ("slow",),
    "tests/integration/floor/test_floor_model.py": ("slow",),
    "tests/integration/dialer/test_dialer_end_to_end.py": ("slow",),
}


def needs(item: pytest.Item) -> set[str]:
    fixtures = set(getattr(item, "fixturenames", ()))
    found = {service for service, names in NEEDS_BY_FIXTURE.items() if fixtures & names}
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    if params.get("database") == "postgresql" or params.get("counters") == "redis":
        found.add("postgres" if params.get("database") == "postgresql" else "redis")
    path = item.nodeid.split("::", 1)[0]
    for place, services in NEEDS_BY_PLACE.items():
        if path.startswith(place):
            found.update(services)
    found.update(marker.name for marker in item.iter_markers() if marker.name in SERVICES)
    return found


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fast: needs no service, browser or process of its own")
    config.addinivalue_line("markers", "network: network namespaces, Kamailio, rtpengine, baresip")
    config.addinivalue_line("markers", "processes: starts the app or its workers as processes")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        services = needs(item)
        for service in services:
            item.add_marker(service)
        if not services:
            item.add_marker("fast")
