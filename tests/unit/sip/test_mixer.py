"""The N-party G.711 mixer: who hears whom, levels, limiting, joins and leaves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dialer.sip import g711
from dialer.sip.mixer import FRAME_SAMPLES, FULL_SCALE, KNEE, Mixer, MixerError, soft_limit
from dialer.sip.sdp import PCMA, PCMU
from tests.integration.sip.tone import tone_levels

CUSTOMER, AGENT, SUPERVISOR = 440.0, 1000.0, 2000.0
TONES = (CUSTOMER, AGENT, SUPERVISOR)


def tone_pcm(frequency: float, frames: int, amplitude: float = 8000, phase: int = 0) -> np.ndarray:
    n = np.arange(phase, phase + frames * FRAME_SAMPLES)
    return np.rint(amplitude * np.sin(2 * math.pi * frequency * n / 8000)).astype(np.int16)


def tone_frames(frequency: float, frames: int, codec: int, amplitude: float = 8000) -> list[bytes]:
    payload = g711.encode(tone_pcm(frequency, frames, amplitude).tobytes(), codec)
    return [payload[i : i + FRAME_SAMPLES] for i in range(0, len(payload), FRAME_SAMPLES)]


def heard(frames: list[bytes], codec: int) -> dict[float, float]:
    samples = list(g711.decode(b"".join(frames), codec))
    return tone_levels(samples, TONES)


def loud(levels: dict[float, float], frequency: float) -> bool:
    return levels[frequency] > 1e6


def quiet(levels: dict[float, float], frequency: float) -> bool:
    return levels[frequency] < 1e3


def three_party(codecs: tuple[int, int, int] = (PCMA, PCMU, PCMU)) -> Mixer:
    mixer = Mixer()
    for name, codec in zip(("customer", "agent", "supervisor"), codecs, strict=True):
        mixer.add(name, codec)
    return mixer


def run(mixer: Mixer, ticks: int, sources: dict[str, tuple[float, int]]) -> dict[str, list[bytes]]:
    """Push one frame of each source's tone per tick and mix; what each listener got."""
    streams = {name: tone_frames(freq, ticks, codec) for name, (freq, codec) in sources.items()}
    out: dict[str, list[bytes]] = {}
    for tick in range(ticks):
        for name, frames in streams.items():
            mixer.push(name, sources[name][1], frames[tick])
        for listener, frame in mixer.mix().items():
            assert len(frame) == FRAME_SAMPLES
            out.setdefault(listener, []).append(frame)
    return out


SOURCES = {"customer": (CUSTOMER, PCMA), "agent": (AGENT, PCMU), "supervisor": (SUPERVISOR, PCMU)}
LISTEN = {"supervisor": {"customer", "agent"}, "agent": {"customer"}, "customer": {"agent"}}
WHISPER = {
    "supervisor": {"customer", "agent"},
    "agent": {"customer", "supervisor"},
    "customer": {"agent"},
}
BARGE = {
    "supervisor": {"customer", "agent"},
    "agent": {"customer", "supervisor"},
    "customer": {"agent", "supervisor"},
}


def test_listen_the_supervisor_hears_both_and_nobody_hears_the_supervisor():
    mixer = three_party()
    mixer.set_matrix(LISTEN)
    out = run(mixer, 50, SOURCES)
    supervisor = heard(out["supervisor"], PCMU)
    assert loud(supervisor, CUSTOMER) and loud(supervisor, AGENT)
    assert quiet(supervisor, SUPERVISOR)
    agent, customer = heard(out["agent"], PCMU), heard(out["customer"], PCMA)
    assert loud(agent, CUSTOMER) and quiet(agent, SUPERVISOR) and quiet(agent, AGENT)
    assert loud(customer, AGENT) and quiet(customer, SUPERVISOR) and quiet(customer, CUSTOMER)


def test_whisper_only_the_agent_hears_the_supervisor():
    mixer = three_party()
    mixer.set_matrix(WHISPER)
    out = run(mixer, 50, SOURCES)
    agent, customer = heard(out["agent"], PCMU), heard(out["customer"], PCMA)
    assert loud(agent, SUPERVISOR) and loud(agent, CUSTOMER)
    assert quiet(customer, SUPERVISOR) and loud(customer, AGENT)


def test_barge_everybody_hears_everybody_else():
    mixer = three_party()
    mixer.set_matrix(BARGE)
    out = run(mixer, 50, SOURCES)
    codecs = {"customer": PCMA, "agent": PCMU, "supervisor": PCMU}
    for listener, (own, _) in SOURCES.items():
        levels = heard(out[listener], codecs[listener])
        assert quiet(levels, own)
        assert all(loud(levels, freq) for name, (freq, _) in SOURCES.items() if name != listener)


def test_a_single_source_passes_through_unchanged_or_transcoded_by_table():
    mixer = three_party()
    mixer.set_matrix(LISTEN)
    streams = {name: tone_frames(f, 5, c) for name, (f, c) in SOURCES.items()}
    for tick in range(5):
        for name, frames in streams.items():
            mixer.push(name, SOURCES[name][1], frames[tick])
        out = mixer.mix()
        table = g711.transcode_table(PCMA, PCMU)
        assert out["agent"] == streams["customer"][tick].translate(table)
        assert out["customer"] == streams["agent"][tick].translate(g711.transcode_table(PCMU, PCMA))


def test_the_mix_is_the_linear_sum_below_the_knee():
    mixer = Mixer()
    for name in ("a", "b", "listener"):
        mixer.add(name, PCMU)
    mixer.set_matrix({"listener": {"a", "b"}})
    a, b = tone_pcm(440, 1, 6000), tone_pcm(1000, 1, 6000)
    a_sent, b_sent = g711.encode(a.tobytes(), PCMU), g711.encode(b.tobytes(), PCMU)
    mixer.push("a", PCMU, a_sent)
    mixer.push("b", PCMU, b_sent)
    got = np.array(g711.decode(mixer.mix()["listener"], PCMU), dtype=np.int32)
    expected = np.array(g711.decode(a_sent, PCMU), dtype=np.int32) + g711.decode(b_sent, PCMU)
    # Only the outgoing G.711 step is lost: at most half a step, 1/32 of the value.
    assert np.all(np.abs(got - expected) <= np.abs(expected) / 32 + 8)


def test_loud_voices_together_are_limited_never_clipped_or_wrapped():
    mixer = Mixer()
    for name in ("a", "b", "c", "listener"):
        mixer.add(name, PCMU)
    mixer.set_matrix({"listener": {"a", "b", "c"}})
    same = g711.encode(tone_pcm(440, 4, 30000).tobytes(), PCMU)
    out = []
    for tick in range(4):
        frame = same[tick * FRAME_SAMPLES : (tick + 1) * FRAME_SAMPLES]
        for name in ("a", "b", "c"):
            mixer.push(name, PCMU, frame)
        out.append(mixer.mix()["listener"])
    got = np.array(g711.decode(b"".join(out), PCMU))
    source = tone_pcm(440, 4, 30000)
    assert np.abs(got).max() < FULL_SCALE
    assert np.abs(got).max() > KNEE  # loud, not quietened as a whole
    # No wrap: wherever the sum is clearly non-zero, the output has its sign.
    clear = np.abs(source) > 2000
    assert np.all(np.sign(got[clear]) == np.sign(source[clear]))


def test_soft_limit_is_identity_below_the_knee_and_monotonic_above():
    ramp = np.arange(-4 * FULL_SCALE, 4 * FULL_SCALE, 97, dtype=np.int32)
    limited = soft_limit(ramp).astype(np.int32)
    below = np.abs(ramp) <= KNEE
    assert np.array_equal(limited[below], ramp[below])
    assert np.all(np.diff(limited) >= 0)
    assert limited.max() <= FULL_SCALE and limited.min() >= -FULL_SCALE


def test_joining_and_leaving_never_touches_the_others_audio():
    mixer = Mixer()
    mixer.add("customer", PCMU)
    mixer.add("agent", PCMU)
    mixer.set_matrix({"agent": {"customer"}, "customer": {"agent"}})
    customer, agent = tone_frames(CUSTOMER, 30, PCMU), tone_frames(AGENT, 30, PCMU)
    supervisor = tone_frames(SUPERVISOR, 30, PCMU)
    for tick in range(30):
        if tick == 10:
            mixer.add("supervisor", PCMU)
            mixer.hear("supervisor", "customer")
            mixer.hear("supervisor", "agent")
        if tick == 20:
            mixer.remove("supervisor")
        mixer.push("customer", PCMU, customer[tick])
        mixer.push("agent", PCMU, agent[tick])
        if 10 <= tick < 20:
            mixer.push("supervisor", PCMU, supervisor[tick])
        out = mixer.mix()
        assert out["agent"] == customer[tick]
        assert out["customer"] == agent[tick]
        assert ("supervisor" in out) == (10 <= tick < 20)


def test_a_silent_source_leaves_the_others_as_they_are():
    mixer = three_party((PCMU, PCMU, PCMU))
    mixer.set_matrix(LISTEN)
    frame = tone_frames(CUSTOMER, 1, PCMU)[0]
    mixer.push("customer", PCMU, frame)  # the agent sends nothing this tick
    out = mixer.mix()
    assert out["supervisor"] == frame
    assert out["customer"] == b"\xff" * FRAME_SAMPLES  # silence, the stream goes on
    assert mixer.stats.underruns == 1


def test_other_packet_lengths_are_cut_into_20_ms_frames():
    mixer = Mixer()
    mixer.add("src", PCMU)
    mixer.add("dst", PCMU)
    mixer.hear("dst", "src")
    payload = g711.encode(tone_pcm(CUSTOMER, 3).tobytes(), PCMU)
    mixer.push("src", PCMU, payload[:240])  # 30 ms packets
    mixer.push("src", PCMA, payload[240:].translate(g711.transcode_table(PCMU, PCMA)))
    frames = [mixer.mix()["dst"] for _ in range(3)]
    assert frames[0] == payload[:160]
    assert frames[1][:80] == payload[160:240]
    assert frames[1][80:] + frames[2] == payload[240:].translate(
        g711.transcode_table(PCMU, PCMA)
    ).translate(g711.transcode_table(PCMA, PCMU))


def test_a_source_running_ahead_keeps_only_the_newest_frames():
    mixer = Mixer(buffer_frames=3)
    mixer.add("src", PCMU)
    mixer.add("dst", PCMU)
    mixer.hear("dst", "src")
    frames = tone_frames(CUSTOMER, 5, PCMU)
    for frame in frames:
        mixer.push("src", PCMU, frame)
    assert [mixer.mix()["dst"] for _ in range(3)] == frames[2:]
    assert mixer.stats.overruns == 2 * FRAME_SAMPLES


def test_dtmf_and_comfort_noise_are_not_mixed():
    mixer = Mixer()
    mixer.add("src", PCMU)
    mixer.add("dst", PCMU)
    mixer.hear("dst", "src")
    mixer.push("src", 101, b"\x01\x0a\x00\xa0")
    mixer.push("src", 13, b"\x40")
    assert mixer.mix()["dst"] == b"\xff" * FRAME_SAMPLES


def test_mistakes_are_refused():
    mixer = Mixer()
    mixer.add("a", PCMU)
    with pytest.raises(MixerError):
        mixer.add("a", PCMU)
    with pytest.raises(MixerError):
        mixer.add("b", 9)  # G.722 is not mixed here
    with pytest.raises(MixerError):
        mixer.hear("a", "a")
    with pytest.raises(MixerError):
        mixer.hear("a", "nobody")
    with pytest.raises(MixerError):
        mixer.set_matrix({"a": {"nobody"}})
    mixer.push("nobody", PCMU, b"\xff" * FRAME_SAMPLES)  # a late packet of a leg gone: ignored
    assert mixer.mix() == {}


@pytest.mark.parametrize("codec", [PCMU, PCMA])
def test_the_c_path_and_the_numpy_path_mix_the_same(monkeypatch, codec):
    from dialer.sip import mixer as mixer_module

    if mixer_module._C is None:
        pytest.fail("audioop (or audioop-lts) is a dependency: it must be importable")
    rng = np.random.default_rng(7)
    for amplitude in (300, 6000, 12000, 20000):  # below, near and above the knee
        sources = [
            (c, g711.encode(rng.integers(-amplitude, amplitude, 160, dtype=np.int16).tobytes(), c))
            for c in (PCMU, PCMA, PCMU)
        ]
        fast = Mixer._frame_for(codec, sources)
        monkeypatch.setattr(mixer_module, "_C", None)
        slow = Mixer._frame_for(codec, sources)
        monkeypatch.undo()
        assert fast == slow, amplitude
