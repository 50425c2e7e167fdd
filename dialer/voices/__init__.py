"""What the simulated customers say into an agent's browser phone: one short
recorded line per moment of a call, in Persian or English; and the notice a
customer hears before a recorded call reaches an agent (``*-consent.wav``), the
message to a customer who rang back while nobody was free (``*-ringback.wav``)
and the hold chime (``hold.wav``). The WAVs beside
this module are made by ``make_voices.sh`` (espeak-ng and sox, `make voices`)
and committed, so nothing is needed at run time."""

from __future__ import annotations

import functools
from enum import StrEnum
from pathlib import Path

from dialer.sip.audio import read_wav_pcm8k

VOICES = Path(__file__).parent
LANGUAGES = ("fa", "en")


class Line(StrEnum):
    HELLO = "hello"  # a person answers: "Hello? ... Yes, who is calling?"
    MACHINE = "machine"  # a voicemail greeting, then the beep
    GOODBYE = "goodbye"  # a person about to hang up


def language_of(locale: str | None, default: str) -> str:
    """``fa`` or ``en`` from a locale such as ``fa_IR`` or ``en-GB``."""
    for candidate in (locale, default):
        code = (candidate or "").replace("-", "_").split("_")[0].lower()
        if code in LANGUAGES:
            return code
    return "en"


def consent_wav(language: str | None) -> str:
    """The shipped recording notice ("this call is recorded ...") in ``fa`` or ``en``."""
    return str(VOICES / f"{language_of(language, 'en')}-consent.wav")


def ringback_wav(language: str | None) -> str:
    """The shipped message to a customer who rang back while every agent was
    busy ("thank you for calling, we will call you back shortly")."""
    return str(VOICES / f"{language_of(language, 'en')}-ringback.wav")


def hold_wav() -> str:
    """What a customer on hold hears: a soft generated chime, no voice."""
    return str(VOICES / "hold.wav")


@functools.cache
def pcm8k(language: str, line: Line) -> bytes:
    """The line as 8 kHz 16-bit mono PCM, ready for ``BrowserLeg.play``."""
    return read_wav_pcm8k((VOICES / f"{language_of(language, 'en')}-{line}.wav").read_bytes())
