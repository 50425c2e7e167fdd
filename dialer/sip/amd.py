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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from dialer.sip import g711

Verdict = Literal["human", "machine"]
FRAME_S = 0.02


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
        frame_s = len(payload) / 8000
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
