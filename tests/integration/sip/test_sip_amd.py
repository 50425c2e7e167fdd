"""Answering-machine detection against sipp: only for calls that ask for it;
a machine is hung up, or left our message after its greeting (silence or a
beep), and is never reported as a live answer."""

from __future__ import annotations

import asyncio
import wave
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dialer.carrier import AmdAction, AmdMode, AmdResult, OriginateRequest
from dialer.sip.amd import AmdConfig
from dialer.sip.audio import DEFAULT_VOICEMAIL_WAV, Prompt
from dialer.sip.rtp import RtpEndpoint, RtpPacket
from dialer.sip.trunk import SipTrunk, SipTrunkConfig
from dialer.sip.ua import UaConfig
from tests.integration.sip.greetings import GREETING_SSRC, write_greeting
from tests.integration.sip.helpers import FAST, Recorder

pytestmark = pytest.mark.sipp

PCAP = "/usr/share/sip-tester/g711a.pcap"  # Debian's sip-tester: 4.7 s of a person talking
# Quicker than the defaults so each test takes seconds.
TUNING = AmdConfig(greeting_end_silence_s=1.0, max_message_wait_s=8.0)


@dataclass
class AmdCall:
    rec: Recorder
    media: dict[str, int] = field(default_factory=dict)  # RTP counters at the end
    received_when_message_began: int | None = None
    echoed: int = 0  # packets sipp sent back that were not its greeting: our message

    def count_echo(self, packet: RtpPacket) -> None:
        if packet.ssrc != GREETING_SSRC:
            self.echoed += 1


def _call(
    uri: str,
    amd: AmdMode,
    *,
    config: AmdConfig = TUNING,
    voicemail: Path | None = None,
    proxy: str | None = None,
) -> AmdCall:
    async def go() -> AmdCall:
        ua = UaConfig(trunk_uri=uri, timers=FAST, outbound_proxy=proxy)
        trunk = SipTrunk(SipTrunkConfig(ua=ua, keepalive_interval_s=None, amd=config))
        await trunk.start()
        result = AmdCall(Recorder())
        request = OriginateRequest(
            "cust-1",
            "+989121234567",
            "+982100000000",
            5,
            amd=amd,
            voicemail_wav=str(voicemail) if voicemail else None,
        )
        try:
            await trunk.originate(request, result.rec)
            rtp = await _media_of(trunk, "cust-1")
            while not (result.rec.answered.is_set() or result.rec.ended.is_set()):
                if rtp.stats.sent and result.received_when_message_began is None:
                    result.received_when_message_began = rtp.stats.received
                    rtp.listener = result.count_echo  # the trunk listens no more
                await asyncio.sleep(0.005)
            if not result.rec.ended.is_set():
                await trunk.hang_up("cust-1")
            await asyncio.wait_for(result.rec.ended.wait(), 15)
            await asyncio.sleep(0.1)  # the last echoes of our message
            result.media = vars(rtp.stats).copy()
        finally:
            await trunk.stop()
        return result

    return asyncio.run(go())


async def _media_of(trunk: SipTrunk, call_id: str) -> RtpEndpoint:
    for _ in range(500):
        leg = trunk._customers.get(call_id)
        if leg is not None and leg.call.rtp is not None:
            return leg.call.rtp
        await asyncio.sleep(0.01)
    raise AssertionError("the call never got media")


def test_hangup_ends_a_machine_without_a_live_answer(sipp):
    customer = sipp("uas_answer_play.xml", keys={"pcap": PCAP})
    call = _call(customer.uri, AmdMode.HANGUP)
    assert customer.wait() == 0, customer.errors()
    assert call.rec.phases == ["dialing", "ended"]  # never reported as a live answer
    final = call.rec.final
    assert final.outcome == "machine"
    assert final.sip_reason.startswith("answering machine:")
    assert final.amd is not None
    assert (final.amd.result, final.amd.action) == (AmdResult.MACHINE, AmdAction.HUNG_UP)
    # The default rules call a greeting longer than 1.5 s a machine.
    assert 1500 <= final.amd.decision_ms < 4000
    assert final.amd.answered_at < final.at
    assert call.media["sent"] == 0
    assert any(w.startswith("received BYE") for w in customer.sent_and_received())


def test_silence_after_the_answer_goes_on_as_not_sure(sipp):
    customer = sipp("uas_answer_wait.xml")  # answers, sends no audio
    call = _call(customer.uri, AmdMode.HANGUP, config=AmdConfig(total_analysis_s=0.5))
    assert customer.wait() == 0, customer.errors()
    assert call.rec.phases == ["dialing", "answered", "ended"]
    answered = call.rec.events[1]
    assert answered.amd is not None
    assert (answered.amd.result, answered.amd.action) == (
        AmdResult.NOT_SURE,
        AmdAction.PASSED_TO_AGENT,
    )
    assert answered.amd.decision_ms >= 900  # the 0.5 s window and its 0.5 s grace
    assert call.rec.final.outcome == "answered" and call.rec.final.amd is None


def test_with_amd_off_a_machine_is_answered_at_once(sipp):
    customer = sipp("uas_answer_play.xml", keys={"pcap": PCAP})
    call = _call(customer.uri, AmdMode.OFF)
    assert customer.wait() == 0, customer.errors()
    assert call.rec.phases == ["dialing", "answered", "ended"]
    assert all(event.amd is None for event in call.rec.events)
    # answered on the 200 OK, long before the 1.5 s of greeting detection needs
    assert call.media["received"] < 50
    assert call.rec.final.outcome == "answered"


@pytest.fixture
def short_message(tmp_path: Path) -> tuple[Path, int]:
    """The first 0.8 s of the shipped message as the campaign's own WAV; its frames."""
    path = tmp_path / "our-message.wav"
    with wave.open(str(DEFAULT_VOICEMAIL_WAV), "rb") as shipped, wave.open(str(path), "wb") as ours:
        ours.setparams(shipped.getparams())
        ours.writeframes(shipped.readframes(int(0.8 * shipped.getframerate())))
    return path, -(-len(Prompt.load(path).pcma) // 160)


@pytest.mark.parametrize("through_proxy", [False, True], ids=["direct", "kamailio"])
def test_message_is_left_when_the_greeting_falls_silent(
    sipp, kamailio, tmp_path, short_message, through_proxy
):
    greeting = write_greeting(tmp_path / "greeting.pcap", speech_s=3.0, silence_s=2.5)
    customer = sipp("uas_answer_play.xml", keys={"pcap": str(greeting.pcap)}, extra=["-rtp_echo"])
    wav, frames = short_message
    proxy = kamailio.uri if through_proxy else None
    call = _call(customer.uri, AmdMode.MESSAGE, voicemail=wav, proxy=proxy)
    assert customer.wait() == 0, customer.errors()  # it got our BYE
    assert call.rec.phases == ["dialing", "ended"]
    final = call.rec.final
    assert final.outcome == "machine" and final.amd is not None
    assert (final.amd.result, final.amd.action) == (AmdResult.MACHINE, AmdAction.MESSAGE_PLAYED)
    # Our message began after the whole greeting and 1 s (50 frames) of its silence...
    began = call.received_when_message_began
    assert began is not None and began >= greeting.speech_frames + 45
    # ... and all of it reached sipp: it echoed it back to us.
    assert call.media["sent"] == frames
    assert call.echoed >= 0.9 * frames
    assert any(w.startswith("received BYE") for w in customer.sent_and_received())


def test_message_is_left_right_after_the_beep(sipp, tmp_path, short_message):
    greeting = write_greeting(tmp_path / "beep.pcap", speech_s=3.0, beep_s=0.4, silence_s=3.0)
    customer = sipp("uas_answer_play.xml", keys={"pcap": str(greeting.pcap)}, extra=["-rtp_echo"])
    wav, frames = short_message
    call = _call(customer.uri, AmdMode.MESSAGE, voicemail=wav)
    assert customer.wait() == 0, customer.errors()
    final = call.rec.final
    assert final.amd is not None and final.amd.action is AmdAction.MESSAGE_PLAYED
    began = call.received_when_message_began
    after_beep = greeting.speech_frames + greeting.beep_frames
    # at the end of the beep, long before a second of silence would have said so
    assert began is not None and after_beep <= began < after_beep + 25
    assert call.media["sent"] == frames
    assert call.echoed >= 0.9 * frames


def test_a_message_file_that_cannot_be_read_falls_back_to_the_shipped_one(tmp_path):
    async def go() -> tuple[Prompt, Prompt]:
        trunk = SipTrunk(SipTrunkConfig(ua=UaConfig(), keepalive_interval_s=None))
        await trunk.start()
        try:
            broken = tmp_path / "broken.wav"
            broken.write_bytes(b"RIFF not really")
            return (
                await trunk._voicemail(str(tmp_path / "gone.wav")),
                await trunk._voicemail(str(broken)),
            )
        finally:
            await trunk.stop()

    shipped = Prompt.load(DEFAULT_VOICEMAIL_WAV)
    assert asyncio.run(go()) == (shipped, shipped)
