"""Listen, whisper and barge on a real call: three softphones, three tones.

Three baresip phones (Debian's baresip-core) each speak a tone of their own
from a WAV (customer 440 Hz, agent 1000 Hz, supervisor 2000 Hz) and dump
what they decode. The dialer calls the agent's and the supervisor's phones
(nailed-up legs), calls the customer, bridges, then in one call: plain
bridge, listen, whisper, barge, and the supervisor out again. Each phone's
decoded audio is cut at the moments the mode changed and measured (Goertzel)
for each tone: who heard whom in each mode.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import struct
import subprocess
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dialer.carrier import AgentLegRequest, OriginateRequest
from tests.integration.sip.conftest import HOST, free_udp_port
from tests.integration.sip.helpers import Recorder, trunk_for
from tests.integration.sip.tone import RATE, read_wav_samples, tone_levels

pytestmark = pytest.mark.sipp

CUSTOMER_HZ, AGENT_HZ, SUPERVISOR_HZ = 440.0, 1000.0, 2000.0
TONES = (CUSTOMER_HZ, AGENT_HZ, SUPERVISOR_HZ)
SEGMENT_S = 3.0
EDGE_S = 0.7  # left out at each end of a segment: the switch, the jitter buffers
# The call stays up this long after its last segment: the dumps are placed on
# the loop's clock by a tone's first arrival, which a loaded machine delays
# past EDGE_S, so the last segment's window would end after the dump did.
TAIL_S = 1.5
CUSTOMER_NUMBER = "+989121234567"

CONFIG = """poll_method epoll
sip_listen {host}:{port}
audio_player aubridge,{name}
audio_source aufile,{tone}
audio_alert aubridge,{name}
module_path /usr/lib/baresip/modules
module stdio.so
module g711.so
module aubridge.so
module aufile.so
module sndfile.so
module_app account.so
module_app menu.so
snd_path {recordings}
rtp_ports {rtp_low}-{rtp_high}
"""


@dataclass
class Phone:
    name: str
    uri: str
    recordings: Path
    log: Path
    process: subprocess.Popen[bytes]

    def decoded(self, limit_s: float = 10.0) -> list[int]:
        """What the phone decoded (its WAV header is whole once the call is torn down)."""
        deadline = time.monotonic() + limit_s
        while True:
            found = list(self.recordings.glob("dump-*-dec.wav"))
            try:
                samples = read_wav_samples(found[0]) if len(found) == 1 else []
            except (EOFError, wave.Error):
                samples = []
            if samples or time.monotonic() > deadline:
                return samples
            time.sleep(0.1)

    async def ready(self, limit_s: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while "baresip is ready" not in self.log.read_text(errors="replace"):
            assert loop.time() < deadline, self.log.read_text(errors="replace")
            await asyncio.sleep(0.05)


def write_tone_wav(path: Path, frequency: float, seconds: float) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * frequency * n / RATE)))
                for n in range(int(RATE * seconds))
            )
        )


@pytest.fixture
def phones(tmp_path: Path) -> Iterator[dict[str, Phone]]:
    binary = shutil.which("baresip")
    if binary is None:
        pytest.fail("baresip is not installed (Debian package baresip-core)")
    started: dict[str, Phone] = {}
    try:
        for name, user, frequency in (
            ("customer", CUSTOMER_NUMBER, CUSTOMER_HZ),
            ("agent", "1001", AGENT_HZ),
            ("supervisor", "2001", SUPERVISOR_HZ),
        ):
            home = tmp_path / name
            config_dir, recordings = home / "baresip", home / "recordings"
            config_dir.mkdir(parents=True)
            recordings.mkdir()
            tone = home / "tone.wav"
            write_tone_wav(tone, frequency, 8 * SEGMENT_S)
            port, rtp_low = free_udp_port(tcp=True, tls=True), free_udp_port(pair=True)
            (config_dir / "config").write_text(
                CONFIG.format(
                    host=HOST,
                    port=port,
                    name=name,
                    tone=tone,
                    recordings=recordings,
                    rtp_low=rtp_low,
                    rtp_high=rtp_low + 20,
                )
            )
            (config_dir / "accounts").write_text(f"<sip:{user}@{HOST}>;regint=0;answermode=auto\n")
            (config_dir / "contacts").write_text("")
            log = home / "baresip.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [binary, "-f", str(config_dir)],
                    stdin=subprocess.DEVNULL,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            started[name] = Phone(name, f"sip:{user}@{HOST}:{port}", recordings, log, process)
        yield started
    finally:
        for phone in started.values():
            phone.process.terminate()
            try:
                phone.process.wait(5)
            except subprocess.TimeoutExpired:
                phone.process.kill()
                phone.process.wait()


SCHEDULE = ("bridge", "listen", "whisper", "barge", "after")


async def _one_monitored_call(phones: dict[str, Phone]) -> dict[str, float]:
    """Run the schedule; the loop time each segment started."""
    for phone in phones.values():
        await phone.ready()
    trunk = trunk_for(f"sip:{HOST}:{phones['customer'].uri.rsplit(':', 1)[1]}", local_host=HOST)
    await trunk.start()
    loop = asyncio.get_running_loop()
    agent, supervisor, call = Recorder(), Recorder(), Recorder()
    starts: dict[str, float] = {}
    try:
        await trunk.connect_agent(AgentLegRequest("agent-1", phones["agent"].uri), agent)
        await trunk.connect_agent(AgentLegRequest("sup-1", phones["supervisor"].uri), supervisor)
        await asyncio.wait_for(agent.answered.wait(), 10)
        await asyncio.wait_for(supervisor.answered.wait(), 10)
        await trunk.originate(OriginateRequest("cust-1", CUSTOMER_NUMBER, "+982100000000", 8), call)
        await asyncio.wait_for(call.answered.wait(), 10)
        await trunk.bridge("cust-1", "agent-1")
        for segment in SCHEDULE:
            if segment in ("listen", "whisper", "barge"):
                await trunk.monitor("cust-1", "sup-1", segment)
            elif segment == "after":
                await trunk.end_monitor("cust-1", "sup-1")
            starts[segment] = loop.time()
            await asyncio.sleep(SEGMENT_S)
        await asyncio.sleep(TAIL_S)
        await trunk.disconnect_agent("sup-1")
        await trunk.hang_up("cust-1")
        await trunk.disconnect_agent("agent-1")
        for recorder in (agent, supervisor, call):
            await asyncio.wait_for(recorder.ended.wait(), 10)
    finally:
        await trunk.stop()
    return starts


def _onset(samples: list[int], frequency: float) -> int:
    """The first sample of the first 20 ms in which the tone is heard."""
    for start in range(0, len(samples) - 160, 160):
        if _hears(tone_levels(samples[start : start + 160], (frequency,)), frequency):
            return start
    raise AssertionError(f"{frequency} Hz is never heard")


def _levels_by_segment(
    samples: list[int],
    starts: dict[str, float],
    anchor: tuple[str, float],
    segments: tuple[str, ...],
) -> dict[str, dict[float, float]]:
    """Tone levels per segment. The dump is placed on the loop's clock by the
    moment a tone first arrives, which is when segment ``anchor[0]`` began
    (plus the network and the phone's jitter buffer, well inside EDGE_S)."""
    segment, frequency = anchor
    first = starts[segment] - _onset(samples, frequency) / RATE  # loop time of sample 0
    levels = {}
    for segment in segments:
        begin = starts[segment] + EDGE_S
        end = starts[segment] + SEGMENT_S - EDGE_S
        window = samples[int((begin - first) * RATE) : int((end - first) * RATE)]
        assert len(window) > RATE, (segment, len(samples), first, starts)
        levels[segment] = tone_levels(window, TONES)
    return levels


def _hears(levels: dict[float, float], frequency: float) -> bool:
    return levels[frequency] > 1e5  # a 8000-amplitude tone measures ~1.6e7


def _deaf_to(levels: dict[float, float], frequency: float) -> bool:
    return levels[frequency] < 1e3


def test_who_hears_whom_in_listen_whisper_and_barge(phones):
    starts = asyncio.run(_one_monitored_call(phones))
    customer = _levels_by_segment(
        phones["customer"].decoded(), starts, ("bridge", AGENT_HZ), SCHEDULE
    )
    agent = _levels_by_segment(phones["agent"].decoded(), starts, ("bridge", CUSTOMER_HZ), SCHEDULE)
    supervisor = _levels_by_segment(
        phones["supervisor"].decoded(),
        starts,
        ("listen", CUSTOMER_HZ),
        ("listen", "whisper", "barge"),
    )
    report = {"customer": customer, "agent": agent, "supervisor": supervisor}

    for mode in ("listen", "whisper", "barge"):  # the supervisor hears both sides
        assert _hears(supervisor[mode], CUSTOMER_HZ), report
        assert _hears(supervisor[mode], AGENT_HZ), report
    for segment in SCHEDULE:  # the customer and the agent always hear each other
        assert _hears(customer[segment], AGENT_HZ), (segment, report)
        assert _hears(agent[segment], CUSTOMER_HZ), (segment, report)

    for segment in ("bridge", "listen", "after"):  # nobody hears the supervisor
        assert _deaf_to(customer[segment], SUPERVISOR_HZ), (segment, report)
        assert _deaf_to(agent[segment], SUPERVISOR_HZ), (segment, report)
    assert _hears(agent["whisper"], SUPERVISOR_HZ), report  # whisper: the agent alone
    assert _deaf_to(customer["whisper"], SUPERVISOR_HZ), report
    assert _hears(agent["barge"], SUPERVISOR_HZ), report  # barge: everybody
    assert _hears(customer["barge"], SUPERVISOR_HZ), report


async def _supervisor_drops_mid_barge(phones: dict[str, Phone]) -> dict[str, float]:
    """Barge, then the supervisor's softphone quits (it hangs up as it goes)."""
    for phone in phones.values():
        await phone.ready()
    trunk = trunk_for(f"sip:{HOST}:{phones['customer'].uri.rsplit(':', 1)[1]}", local_host=HOST)
    await trunk.start()
    loop = asyncio.get_running_loop()
    agent, supervisor, call = Recorder(), Recorder(), Recorder()
    starts: dict[str, float] = {}
    try:
        await trunk.connect_agent(AgentLegRequest("agent-1", phones["agent"].uri), agent)
        await trunk.connect_agent(AgentLegRequest("sup-1", phones["supervisor"].uri), supervisor)
        await asyncio.wait_for(agent.answered.wait(), 10)
        await asyncio.wait_for(supervisor.answered.wait(), 10)
        await trunk.originate(OriginateRequest("cust-1", CUSTOMER_NUMBER, "+982100000000", 8), call)
        await asyncio.wait_for(call.answered.wait(), 10)
        await trunk.bridge("cust-1", "agent-1")
        await trunk.monitor("cust-1", "sup-1", "barge")
        starts["barge"] = loop.time()
        await asyncio.sleep(SEGMENT_S)
        phones["supervisor"].process.terminate()
        await asyncio.wait_for(supervisor.ended.wait(), 10)
        starts["dropped"] = loop.time()
        await asyncio.sleep(SEGMENT_S + TAIL_S)
        still_bridged = trunk.media_stats("cust-1")["relayed_in"]
        await trunk.hang_up("cust-1")
        await trunk.disconnect_agent("agent-1")
        await asyncio.wait_for(call.ended.wait(), 10)
        await asyncio.wait_for(agent.ended.wait(), 10)
    finally:
        await trunk.stop()
    assert call.phases == ["dialing", "ringing", "answered", "ended"], call.phases
    assert still_bridged > 0
    return starts


def test_the_supervisor_dropping_out_leaves_the_customer_and_agent_talking(phones):
    starts = asyncio.run(_supervisor_drops_mid_barge(phones))
    segments = ("barge", "dropped")
    customer = _levels_by_segment(
        phones["customer"].decoded(), starts, ("barge", AGENT_HZ), segments
    )
    agent = _levels_by_segment(phones["agent"].decoded(), starts, ("barge", CUSTOMER_HZ), segments)
    report = {"customer": customer, "agent": agent}
    assert _hears(customer["barge"], SUPERVISOR_HZ) and _hears(agent["barge"], SUPERVISOR_HZ)
    assert _hears(customer["dropped"], AGENT_HZ), report
    assert _hears(agent["dropped"], CUSTOMER_HZ), report
    assert _deaf_to(customer["dropped"], SUPERVISOR_HZ), report
    assert _deaf_to(agent["dropped"], SUPERVISOR_HZ), report


def test_the_customer_hanging_up_closes_the_mix_and_leaves_the_phones_up(phones):
    async def go() -> tuple[list[str], int, int]:
        for phone in phones.values():
            await phone.ready()
        port = phones["customer"].uri.rsplit(":", 1)[1]
        trunk = trunk_for(f"sip:{HOST}:{port}", local_host=HOST)
        await trunk.start()
        agent, supervisor, call = Recorder(), Recorder(), Recorder()
        try:
            await trunk.connect_agent(AgentLegRequest("agent-1", phones["agent"].uri), agent)
            await trunk.connect_agent(
                AgentLegRequest("sup-1", phones["supervisor"].uri), supervisor
            )
            await asyncio.wait_for(agent.answered.wait(), 10)
            await asyncio.wait_for(supervisor.answered.wait(), 10)
            request = OriginateRequest("cust-1", CUSTOMER_NUMBER, "+982100000000", 8)
            await trunk.originate(request, call)
            await asyncio.wait_for(call.answered.wait(), 10)
            await trunk.bridge("cust-1", "agent-1")
            await trunk.monitor("cust-1", "sup-1", "whisper")
            await asyncio.sleep(1.0)
            phones["customer"].process.terminate()  # the customer hangs up
            await asyncio.wait_for(call.ended.wait(), 10)
            sent_then = trunk.media_stats("sup-1")["sent"]
            await asyncio.sleep(0.5)
            sent_after = trunk.media_stats("sup-1")["sent"]
            phases = [*agent.phases, *supervisor.phases]
            await trunk.disconnect_agent("sup-1")
            await trunk.disconnect_agent("agent-1")
            await asyncio.wait_for(supervisor.ended.wait(), 10)
        finally:
            await trunk.stop()
        return phases, sent_then, sent_after

    phases, sent_then, sent_after = asyncio.run(go())
    # Both phones were still up when the call ended; the mix stopped feeding
    # the supervisor (the dialer then hangs their leg up).
    assert "ended" not in phases, phases
    assert sent_then > 0 and sent_after == sent_then
