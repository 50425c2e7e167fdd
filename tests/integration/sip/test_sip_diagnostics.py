"""The ``call test`` diagnostic against sipp."""

from __future__ import annotations

import io

import pytest

from dialer.sip.diagnostics import run_test_call
from dialer.sip.trunk import SipTrunkConfig
from dialer.sip.ua import UaConfig
from tests.integration.sip.helpers import FAST

pytestmark = pytest.mark.sipp


def trunk(uri: str) -> SipTrunkConfig:
    return SipTrunkConfig(ua=UaConfig(trunk_uri=uri, timers=FAST), keepalive_interval_s=None)


def test_test_call_prints_each_step_and_the_outcome(sipp):
    peer = sipp("uas_answer_local_bye.xml")
    out = io.StringIO()
    code = run_test_call("+989121234567", trunk(peer.uri), hold_s=0.1, out=out)
    assert peer.wait() == 0, peer.errors()
    text = out.getvalue()
    assert code == 0
    assert "-> 127.0.0.1" in text and "INVITE sip:+989121234567@" in text
    assert "<- " in text and "200 OK" in text
    assert "BYE" in text and "outcome: answered" in text


def test_test_call_reports_busy(sipp):
    peer = sipp("uas_final.xml", keys={"status": "486", "reason": "Busy Here"})
    out = io.StringIO()
    assert run_test_call("+989121234567", trunk(peer.uri), out=out) == 1
    assert peer.wait() == 0, peer.errors()
    assert "outcome: busy (SIP 486 Busy Here)" in out.getvalue()


def test_the_command_line_places_the_call_and_exits_with_the_outcome(sipp, tmp_path):
    from click.testing import CliRunner

    from callcenter.cli import main

    peer = sipp("uas_final.xml", keys={"status": "486", "reason": "Busy Here"})
    result = CliRunner().invoke(
        main,
        ["call", "test", "09121234567", "--trunk", peer.uri],
        env={"CC_INSTANCE_PATH": str(tmp_path)},
    )
    assert peer.wait() == 0, peer.errors()
    assert result.exit_code == 1
    assert "outcome: busy (SIP 486 Busy Here)" in result.output
    assert "INVITE sip:+989121234567@" in result.output  # normalised to E.164
