"""How `make test` spreads the suite over pytest-xdist workers
(`--dist loadgroup --no-loadscope-reorder`):

- a file's tests stay in one worker, in their order: module fixtures (a
  browser, a server) start once;
- the files that make network namespaces run one at a time: several share a
  subnet (10.231.x) and namespace names, which two workers must not make at
  once;
- the files that start whole topologies of processes and kill or starve them
  on purpose run one at a time: two of them side by side on a 2-core machine
  miss each other's deadlines;
- the longest work is handed out first, so no worker is left with a long file
  while the others have finished.
"""

from __future__ import annotations

import pytest

from tests.lanes import needs

NAMESPACES_GROUP = "network-namespaces"
NAMESPACES = (
    "tests/integration/sip/",
    "tests/integration/webphone_production/",
)
PROCESSES_GROUP = "processes"
PROCESSES = (
    "tests/integration/faults/",
    "tests/e2e/faults/",
    "tests/e2e/test_embedded_run.py",
    "tests/e2e/recording/test_embedded_recording.py",
    "tests/integration/test_socket_flood.py",
    "tests/integration/test_process_health.py",
    "tests/integration/test_gunicorn_web.py",
    "tests/integration/dialer/test_dialer_cli.py",
    "tests/integration/webhooks/test_webhook_consumer.py",
    "tests/integration/leads/test_lead_import_jobs.py",
    "tests/integration/api/test_api_rate_limit.py",
)

# What a file needs, roughly in the order of how long its tests take.
LONGEST_FIRST = (
    ({"slow", "browser", "network"}, 1),
    ({"sipp", "processes"}, 2),
    ({"postgres", "redis"}, 3),
)
SHORTEST = len(LONGEST_FIRST) + 1


def _path(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def _one_at_a_time_group(path: str) -> str | None:
    if path.startswith(NAMESPACES):
        return NAMESPACES_GROUP
    if path.startswith(PROCESSES):
        return PROCESSES_GROUP
    return None


def _rank(item: pytest.Item) -> int:
    if _one_at_a_time_group(_path(item)) is not None:
        return 0
    found = needs(item)
    return next((rank for services, rank in LONGEST_FIRST if found & services), SHORTEST)


# tryfirst: pytest-xdist reads the xdist_group marks in its own
# pytest_collection_modifyitems, which must see these.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    file_rank: dict[str, int] = {}
    for item in items:
        path = _path(item)
        file_rank[path] = min(file_rank.get(path, SHORTEST), _rank(item))
        item.add_marker(pytest.mark.xdist_group(_one_at_a_time_group(path) or path))
    first_seen = {path: index for index, path in enumerate(dict.fromkeys(map(_path, items)))}
    items.sort(key=lambda item: (file_rank[_path(item)], first_seen[_path(item)]))
