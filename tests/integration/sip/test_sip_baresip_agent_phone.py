"""A real softphone as the agent's phone: baresip (Debian's baresip-core)
answers the nailed-up agent leg by itself, the customer (sipp) speaks a
1 kHz tone, and the tone is what the agent's phone decodes."""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import time
import wave
from pathlib import Path

import pytest

from dialer.carrier import AgentLegRequest, OriginateRequest
from tests.integration.sip.conftest import HOST, free_udp_port
from tests.integration.sip.helpers import Recorder, trunk_for
from tests.integration.sip.tone import read_wav_samples, tone_levels, write_tone_pcap

pytestmark = pytest.mark.sipp

TONE_HZ = 1000.0
OTHER_HZ = (400.0, 700.0, 1400.0, 2200.0)

BARESIP_CONFIG = """poll_method epoll
sip_listen {host}:{port}
audio_player aubridge,agent
audio_source aubridge,agent
audio_alert aubridge,agent
module_path {modules}
module stdio.so
module g711.so
module aubridge.so
module sndfile.so
module_app account.so
module_app menu.so
snd_path {recordings}
rtp_ports {rtp_low}-{rtp_high}
"""


@pytest.fixture
def baresip(tmp_path: Path):
    binary = shutil.which("baresip")
    if binary is None:
        pytest.fail("baresip is not installed (Debian package baresip-core)")
    port = free_udp_port(tcp=True, tls=True)
    config_dir, recordings = tmp_path / "baresip", tmp_path / "recordings"
    config_dir.mkdir()
    recordings.mkdir()
    rtp_low = free_udp_port(pair=True)
    (config_dir / "config").write_text(
        BARESIP_CONFIG.format(
            host=HOST,
            port=port,
            modules="/usr/lib/baresip/modules",
            recordings=recordings,
            rtp_low=rtp_low,
            rtp_high=rtp_low + 20,
        )
    )
    (config_dir / "accounts").write_text(f"<sip:1001@{HOST}>;regint=0;answermode=auto\n")
    (config_dir / "contacts").write_text("")
    log = tmp_path / "baresip.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [binary, "-f", str(config_dir)],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"sip:1001@{HOST}:{port}", recordings, log, process
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _decoded_once_closed(recordings: Path, limit_s: float = 10.0) -> list[int]:
    """What the phone decoded: its WAV header is complete once the call is torn down."""
    deadline = time.monotonic() + limit_s
    while True:
        found = list(recordings.glob("dump-*-dec.wav"))
        try:
            samples = read_wav_samples(found[0]) if len(found) == 1 else []
        except (EOFError, wave.Error):
            samples = []
        if samples or time.monotonic() > deadline:
            return samples
        time.sleep(0.1)


async def _until_ready(log: Path, limit_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while "baresip is ready" not in log.read_text(errors="replace"):
        assert loop.time() < deadline, log.read_text(errors="replace")
        await asyncio.sleep(0.05)


def test_the_customers_voice_reaches_a_real_softphone_on_the_agent_leg(sipp, baresip, tmp_path):
    agent_uri, recordings, log, _process = baresip
    pcap = tmp_path / "tone.pcap"
    packets = write_tone_pcap(pcap, TONE_HZ, seconds=2.0)
    customer = sipp("uas_answer_play.xml", keys={"pcap": str(pcap)}, name="customer")

    async def go():
        await _until_ready(log)
        trunk = trunk_for(customer.uri, local_host=HOST)
        await trunk.start()
        agent, call = Recorder(), Recorder()
        try:
            await trunk.connect_agent(AgentLegRequest("agent-1", agent_uri), agent)
            await asyncio.wait_for(agent.answered.wait(), 10)
            await trunk.originate(
                OriginateRequest("cust-1", "+989121234567", "+982100000000", 5), call
            )
            await asyncio.wait_for(call.answered.wait(), 10)
            await trunk.bridge("cust-1", "agent-1")
            loop = asyncio.get_running_loop()
            deadline, relayed = loop.time() + 10, -1
            while loop.time() < deadline:  # until the tone has stopped coming
                await asyncio.sleep(0.5)
                sent = trunk.media_stats("agent-1")["sent"]
                if sent == relayed and sent > 0:
                    break
                relayed = sent
            await asyncio.sleep(0.3)  # the last packets through the phone's jitter buffer
            await trunk.hang_up("cust-1")
            await trunk.disconnect_agent("agent-1")
            await asyncio.wait_for(agent.ended.wait(), 10)
        finally:
            await trunk.stop()
        return relayed, agent

    relayed, agent = asyncio.run(go())
    # sipp starts its tone at answer, a moment before the bridge is made.
    assert relayed >= 0.9 * packets, relayed
    assert agent.phases == ["dialing", "ringing", "answered", "ended"], agent.phases
    samples = _decoded_once_closed(recordings)
    frames = [samples[i : i + 160] for i in range(0, len(samples), 160)]
    loud = [f for f in frames if math.sqrt(sum(s * s for s in f) / len(f)) > 2000]
    # G.711 both ways (A-law from the customer, mu-law to the phone): ~8,500 RMS arrives.
    assert len(loud) >= 0.85 * packets, f"{len(loud)} of {packets} tone frames reached the phone"
    levels = tone_levels(samples, (TONE_HZ, *OTHER_HZ))
    assert all(levels[TONE_HZ] > 100 * levels[other] for other in OTHER_HZ), levels
