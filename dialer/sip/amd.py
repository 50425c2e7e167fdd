"""Answering-machine detection from energy and cadence (the classic Asterisk AMD rules).

A person answers with a short greeting ("Hello?", under ~1.5 s) and then
waits in silence for the caller; a machine talks on: a long greeting, many
words, little silence. The detector looks at 20 ms frames of the callee's
audio after the answer and decides:

* ``machine`` - the greeting is longer than ``max_greeting_s``, or it has
  more than ``max_words`` words before a pause, or it is still talking when
  ``total_analysis_s`` runs out;
* ``human``   - a short greeting followed by ``after_greeting_silence_s`` of
  silence;
* ``human`` as well when nobody speaks for ``initial_silence_s`` (a person
  who picked up and waits; we would rather connect than drop a live call).

The trunk says ``not_sure`` when no audio arrives at all (and passes the call
on, as for a person).

For a voicemail drop, :class:`GreetingEnd` then tells when the machine has
finished its greeting: a run of silence, or a beep (a pure tone) that has
just stopped. The trunk bounds the wait (``max_message_wait_s``) and treats
a stream that stops altogether as silence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from dialer.sip import g711

Verdict = Literal["human", "machine", "not_sure"]
GreetingEndReason = Literal["silence", "beep"]
FRAME_S = 0.02
RATE = 8000


@dataclass(frozen=True)
class AmdConfig:
    initial_silence_s: float = 2.5
    max_greeting_s: float = 1.5
    after_greeting_silence_s: float = 0.8
    total_analysis_s: float = 5.0
    min_word_s: float = 0.1
    between_words_silence_s: float = 0.05
    max_words: int = 3
    silence_rms: float = 400.0  # RMS of 16-bit samples below which a frame is silence
    # Voicemail drop: the greeting is over after this much silence, or after a beep.
    greeting_end_silence_s: float = 1.5
    beep_min_s: float = 0.1
    beep_purity: float = 0.8  # share of a frame's energy at its one frequency
    max_message_wait_s: float = 20.0  # from the verdict: the message is played by then


@dataclass
class AmdResult:
    verdict: Verdict
    reason: str


class AnsweringMachineDetector:
    """Feed G.711 payloads (one RTP packet each); :attr:`result` is set once decided."""

    def __init__(self, codec: int, config: AmdConfig | None = None) -> None:
        self.config = config or AmdConfig()
        self._table = g711.decode_table(codec)
        self.result: AmdResult | None = None
        self._elapsed = 0.0
        self._voice_s = 0.0  # current run of voiced frames
        self._silence_s = 0.0  # current run of silent frames
        self._greeting_s = 0.0
        self._words = 0
        self._in_word = False
        self._heard_voice = False

    def feed(self, payload: bytes) -> AmdResult | None:
        if self.result is not None or not payload:
            return self.result
        table = self._table
        rms = math.sqrt(sum(table[b] ** 2 for b in payload) / len(payload))
        frame_s = len(payload) / RATE
        self._elapsed += frame_s
        if rms >= self.config.silence_rms:
            self._on_voice(frame_s)
        else:
            self._on_silence(frame_s)
        if self.result is None and self._elapsed >= self.config.total_analysis_s:
            self._decide("machine", "still talking at the end of the analysis window")
        return self.result

    def _on_voice(self, frame_s: float) -> None:
        cfg = self.config
        self._silence_s = 0.0
        self._voice_s += frame_s
        if self._voice_s >= cfg.min_word_s and not self._in_word:
            self._in_word = True
            self._heard_voice = True
            self._words += 1
            if self._words > cfg.max_words:
                self._decide("machine", f"more than {cfg.max_words} words")
        if self._heard_voice:
            self._greeting_s += frame_s
            if self._greeting_s > cfg.max_greeting_s:
                self._decide("machine", f"greeting longer than {cfg.max_greeting_s} s")

    def _on_silence(self, frame_s: float) -> None:
        cfg = self.config
        self._silence_s += frame_s
        if self._silence_s >= cfg.between_words_silence_s:
            self._voice_s = 0.0
            self._in_word = False
        if not self._heard_voice:
            if self._silence_s >= cfg.initial_silence_s:
                self._decide("human", "silence after answer")
            return
        self._greeting_s += frame_s
        if self._silence_s >= cfg.after_greeting_silence_s:
            self._decide("human", "short greeting, then silence")

    def _decide(self, verdict: Verdict, reason: str) -> None:
        if self.result is None:
            self.result = AmdResult(verdict, reason)


class GreetingEnd:
    """Feed a machine's audio after the verdict; :attr:`reason` is set once
    its greeting is over: ``silence`` (``greeting_end_silence_s`` of it) or
    ``beep`` (a tone of at least ``beep_min_s`` that has just stopped)."""

    def __init__(self, codec: int, config: AmdConfig | None = None) -> None:
        self.config = config or AmdConfig()
        self._table = g711.decode_table(codec)
        self.reason: GreetingEndReason | None = None
        self._silence_s = 0.0
        self._tone_s = 0.0
        self._tone_hz: float | None = None

    def feed(self, payload: bytes) -> GreetingEndReason | None:
        if self.reason is not None or not payload:
            return self.reason
        cfg = self.config
        samples = [self._table[b] for b in payload]
        frame_s = len(samples) / RATE
        energy = sum(x * x for x in samples)
        voiced = math.sqrt(energy / len(samples)) >= cfg.silence_rms
        tone = tone_frequency(samples, energy, cfg.beep_purity) if voiced else None
        if (
            tone is not None
            and self._tone_hz is not None
            and abs(tone - self._tone_hz) < 0.05 * tone
        ):
            self._tone_s += frame_s
        else:
            if self._tone_s >= cfg.beep_min_s:
                self.reason = "beep"
                return self.reason
            self._tone_hz, self._tone_s = tone, frame_s if tone is not None else 0.0
        self._silence_s = 0.0 if voiced else self._silence_s + frame_s
        if self._silence_s >= cfg.greeting_end_silence_s:
            self.reason = "silence"
        return self.reason


def tone_frequency(samples: list[int], energy: float, purity: float) -> float | None:
    """The frequency of a frame that is one pure tone (300-3000 Hz), else None.

    The frequency comes from the rising zero crossings (interpolated between
    samples); the frame is a tone when the energy at that frequency (Goertzel)
    is at least ``purity`` of the frame's energy. Speech spreads its energy
    over many harmonics and fails that test."""
    crossings = [
        i - 1 + samples[i - 1] / (samples[i - 1] - samples[i])
        for i in range(1, len(samples))
        if samples[i - 1] < 0 <= samples[i]
    ]
    if len(crossings) < 3 or energy <= 0:
        return None
    frequency = (len(crossings) - 1) * RATE / (crossings[-1] - crossings[0])
    if not 300 <= frequency <= 3000:
        return None
    coefficient = 2 * math.cos(2 * math.pi * frequency / RATE)
    before = earlier = 0.0
    for x in samples:
        before, earlier = x + coefficient * before - earlier, before
    power = before * before + earlier * earlier - coefficient * before * earlier
    return frequency if 2 * power / (len(samples) * energy) >= purity else None
