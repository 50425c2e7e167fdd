"""Answering-machine detection on synthetic audio and on the shipped message;
the end of a machine's greeting (silence, beep)."""

from __future__ import annotations

import array
import math
import wave

from dialer.sip import g711
from dialer.sip.amd import AmdConfig, AnsweringMachineDetector, GreetingEnd, tone_frequency
from dialer.sip.audio import DEFAULT_VOICEMAIL_WAV, Prompt
from dialer.sip.sdp import PCMU


def _frames(pattern: list[tuple[float, bool]]) -> list[bytes]:
    """(seconds, voiced) runs -> 20 ms PCMU frames; voice is a 300 Hz tone with vibrato."""
    samples: list[int] = []
    for seconds, voiced in pattern:
        for i in range(int(seconds * 8000)):
            level = 6000 * (1 + 0.3 * math.sin(2 * math.pi * 4 * i / 8000)) if voiced else 30
            samples.append(int(level * math.sin(2 * math.pi * 300 * i / 8000)))
    ulaw = g711.encode(array.array("h", samples).tobytes(), PCMU)
    return [ulaw[i : i + 160] for i in range(0, len(ulaw), 160)]


def _verdict(pattern):
    detector = AnsweringMachineDetector(PCMU)
    for frame in _frames(pattern):
        if detector.feed(frame):
            break
    return detector.result


def test_short_hello_then_silence_is_human():
    result = _verdict([(0.3, False), (0.6, True), (1.5, False)])
    assert result is not None and result.verdict == "human"


def test_long_greeting_is_a_machine():
    words = [(0.4, True), (0.15, False)] * 8  # "Hi, you have reached ... leave a message"
    result = _verdict([(0.2, False), *words])
    assert result is not None and result.verdict == "machine"


def test_many_short_words_are_a_machine():
    result = _verdict([(0.15, True), (0.1, False)] * 5 + [(2.0, False)])
    assert result is not None and result.verdict == "machine"
    assert "words" in result.reason


def test_silence_after_answer_counts_as_human():
    result = _verdict([(3.0, False)])
    assert result is not None and result.verdict == "human"


def _shipped_speech(seconds: float) -> list[bytes]:
    """The first seconds of the shipped voicemail message (espeak-ng's voice), in PCMU."""
    ulaw = Prompt.load(DEFAULT_VOICEMAIL_WAV).pcmu[: int(seconds * 8000)]
    return [ulaw[i : i + 160] for i in range(0, len(ulaw) - 159, 160)]


def _tone_frames(frequency: float, seconds: float) -> list[bytes]:
    samples = array.array(
        "h",
        (
            int(9000 * math.sin(2 * math.pi * frequency * i / 8000))
            for i in range(int(seconds * 8000))
        ),
    )
    ulaw = g711.encode(samples.tobytes(), PCMU)
    return [ulaw[i : i + 160] for i in range(0, len(ulaw), 160)]


def _greeting_end(frames: list[bytes]) -> tuple[str | None, int]:
    """What ended the greeting, and after how many frames."""
    detector = GreetingEnd(PCMU, AmdConfig(greeting_end_silence_s=1.0))
    for count, frame in enumerate(frames, start=1):
        if detector.feed(frame):
            return detector.reason, count
    return None, len(frames)


def test_a_greeting_ends_with_a_second_of_silence():
    speech = _shipped_speech(2.0)
    reason, count = _greeting_end(speech + _frames([(2.0, False)]))
    # 50 silent frames (a word may have tailed off in the last speech frame)
    assert reason == "silence" and len(speech) + 45 <= count <= len(speech) + 50


def test_a_greeting_ends_when_its_beep_stops():
    speech, beep = _shipped_speech(2.0), _tone_frames(1400, 0.3)
    reason, count = _greeting_end(speech + beep + _frames([(2.0, False)]))
    assert (reason, count) == ("beep", len(speech) + len(beep) + 1)


def test_speech_is_never_a_beep():
    reason, _ = _greeting_end(_shipped_speech(12.0))
    assert reason is None


def test_tone_frequency_of_a_beep_and_of_speech():
    beep = [g711.decode_table(PCMU)[b] for b in _tone_frames(1000, 0.02)[0]]
    frequency = tone_frequency(beep, sum(x * x for x in beep), 0.8)
    assert frequency is not None and abs(frequency - 1000) < 5
    table = g711.decode_table(PCMU)
    voiced = [[table[b] for b in frame] for frame in _shipped_speech(3.0)]
    assert not any(tone_frequency(s, sum(x * x for x in s), 0.8) for s in voiced)


def test_the_shipped_voicemail_message_is_small_speech():
    assert DEFAULT_VOICEMAIL_WAV.stat().st_size < 200_000
    with wave.open(str(DEFAULT_VOICEMAIL_WAV), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
    message = Prompt.load(DEFAULT_VOICEMAIL_WAV)
    assert 6.0 < message.seconds < 13.0
    detector = AnsweringMachineDetector(PCMU)
    for frame in _shipped_speech(message.seconds):
        if detector.feed(frame):
            break
    assert detector.result is not None and detector.result.verdict == "machine"
