"""Structured logs: one JSON object per record with the context ids, and no
phone number or customer name ever reaches the output."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from callcenter.logging_setup import configure_logging, redact
from callcenter.settings import load_settings


class Captured:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.installed: list[logging.Handler] = []

    def configure(self, fmt: str) -> None:
        self.installed.append(configure_logging(SimpleNamespace(log_format=fmt)))

    def err(self) -> str:
        return self.capsys.readouterr().err


@pytest.fixture
def captured(capsys: pytest.CaptureFixture[str]) -> Iterator[Captured]:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    capture = Captured(capsys)
    yield capture
    for handler in capture.installed:
        root.removeHandler(handler)
    root.handlers[:] = before
    root.setLevel(level)


def _log(captured: Captured, fmt: str, *args: object, **kwargs: object) -> str:
    captured.configure(fmt)
    logging.getLogger("callcenter.test").info(*args, **kwargs)  # type: ignore[arg-type]
    return captured.err()


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("dialing +989121234567 now", "67"),
        ("dialing 09121234567", "67"),
        ("dialing ۰۹۱۲۱۲۳۴۵۶۷", "67"),
        ("dialing ٠٩٣٥١٢٣٤٥٦٧", "67"),
        ("dialing 0912 123 4567", "67"),
        ("dialing 0098-912-123-4567", "67"),
        ("dialing +1 (202) 555-0143", "43"),
        ("landline 021-88776655", "55"),
        ("landline ۰۲۱۸۸۷۷۶۶۵۵", "55"),
        ("INVITE sip:+989121234567@trunk.example", "67"),
    ],
)
def test_phone_numbers_are_masked_to_their_last_two_digits(text: str, kept: str) -> None:
    masked = redact(text)
    assert f"[phone …{kept}]" in masked
    assert sum(ch.isdigit() for ch in masked) == 2


@pytest.mark.parametrize(
    "text",
    ["at 2026-11-23 10:07:01", "call 42 lead 1234567 campaign 7", "port 5060", "1700000000.123"],
)
def test_ids_dates_and_ports_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_json_lines_carry_context_ids_and_mask_numbers(captured: Captured) -> None:
    out = _log(
        captured,
        "json",
        "call to %s ended: %s",
        "+989121234567",
        "busy",
        extra={"call_id": "c-1", "lead_id": 7, "campaign_id": 3, "agent_id": 12},
    )
    entry = json.loads(out.strip())
    assert entry["message"] == "call to [phone …67] ended: busy"
    assert (entry["call_id"], entry["lead_id"], entry["campaign_id"], entry["agent_id"]) == (
        "c-1",
        7,
        3,
        12,
    )
    assert entry["level"] == "INFO" and entry["logger"] == "callcenter.test"
    assert entry["time"].endswith("+00:00")


def test_one_object_per_line_and_tracebacks_masked(captured: Captured) -> None:
    captured.configure("json")
    log = logging.getLogger("callcenter.test")
    try:
        raise ValueError("bad number 09121234567")
    except ValueError:
        log.exception("failed\nfor ۰۹۱۲۱۲۳۴۵۶۷")
    log.warning("second")
    lines = captured.err().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert "09121234567" not in lines[0] and "۰۹۱۲۱۲۳۴۵۶۷" not in lines[0]
    assert "ValueError: bad number [phone …67]" in first["exception"]
    assert json.loads(lines[1])["message"] == "second"


def test_name_fields_are_refused(captured: Captured) -> None:
    out = _log(captured, "json", "booked", extra={"customer_name": "Ali Rezaei", "call_id": "c"})
    assert "Ali" not in out and json.loads(out)["call_id"] == "c"


def test_text_format_masks_too_and_replaces_basic_config(captured: Captured) -> None:
    logging.basicConfig(force=False)
    out = _log(captured, "text", "dialing %s", "09351234567")
    assert out.count("dialing") == 1
    assert "INFO callcenter.test: dialing [phone …67]" in out


def test_reconfiguring_keeps_one_handler(captured: Captured) -> None:
    captured.configure("text")
    captured.configure("json")
    logging.getLogger("x").info("once")
    assert len(captured.err().splitlines()) == 1


def test_setting_from_environment(tmp_path) -> None:
    env = {"CC_LOG_FORMAT": "json", "CC_INSTANCE_PATH": str(tmp_path)}
    assert load_settings(environ=env).log_format == "json"
    assert load_settings(environ={"CC_INSTANCE_PATH": str(tmp_path)}).log_format == "text"
