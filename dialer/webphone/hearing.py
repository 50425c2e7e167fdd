"""What a browser leg heard from the agent: how many seconds of audio, how
loud, and at what frequency, measured from running sums so a leg held up for
hours keeps no samples."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

RATE = 8000
_BLOCK = 1024  # spectrum resolution 7.8 Hz, refined by interpolation
_SILENT_DBFS = -120.0
_WINDOW = np.hanning(_BLOCK)


@dataclass(frozen=True)
class Heard:
    seconds: float
    level_dbfs: float
    """RMS level of everything heard, in dB below a full-scale square wave
    (a full-scale sine reads -3 dBFS); -120 for silence."""
    frequency_hz: float | None
    """The strongest frequency over everything heard; None when silent."""


class Hearing:
    """Accumulates 8 kHz 16-bit samples; :meth:`heard` summarises them."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._samples = 0
        self._energy = 0.0
        self._spectrum = np.zeros(_BLOCK // 2 + 1)
        self._block = np.zeros(_BLOCK)
        self._filled = 0

    def feed(self, samples: npt.NDArray[Any]) -> None:
        """16-bit samples (any integer or float array of them)."""
        chunk = samples.astype(np.float64).ravel()
        self._samples += chunk.size
        self._energy += float(np.dot(chunk, chunk))
        while chunk.size:
            taken = min(chunk.size, _BLOCK - self._filled)
            self._block[self._filled : self._filled + taken] = chunk[:taken]
            self._filled += taken
            chunk = chunk[taken:]
            if self._filled == _BLOCK:
                self._spectrum += np.abs(np.fft.rfft(self._block * _WINDOW)) ** 2
                self._filled = 0

    def heard(self) -> Heard:
        seconds = self._samples / RATE
        if self._samples == 0 or self._energy == 0.0:
            return Heard(seconds, _SILENT_DBFS, None)
        rms = math.sqrt(self._energy / self._samples)
        level = max(_SILENT_DBFS, 20 * math.log10(rms / 32768))
        return Heard(round(seconds, 2), round(level, 1), self._peak_frequency())

    def _peak_frequency(self) -> float | None:
        spectrum = self._spectrum
        if not spectrum[1:].any():
            return None
        peak = int(np.argmax(spectrum[1:-1])) + 1
        # Parabolic interpolation on the log power of the peak and its neighbours.
        left, centre, right = np.log(spectrum[peak - 1 : peak + 2] + 1e-12)
        denominator = left - 2 * centre + right
        offset = 0.5 * (left - right) / denominator if denominator else 0.0
        return round(float(peak + offset) * RATE / _BLOCK, 1)
