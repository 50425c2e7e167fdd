"""Answering-machine detection on synthetic audio."""

from __future__ import annotations

import array
import math

from dialer.sip import g711
from dialer.sip.amd import AnsweringMachineDetector
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
