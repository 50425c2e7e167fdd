"""G.711 mu-law and A-law (ITU-T G.711), table driven, pure Python.

Encoding uses 64 Ki-entry tables built once, so a whole WAV converts with one
``bytes`` comprehension; A-law <-> mu-law is a 256-byte ``bytes.translate``
table, which is what the RTP bridge uses when the two legs chose different
codecs.
"""

from __future__ import annotations

import array
import functools
import sys

from dialer.sip.sdp import PCMA, PCMU

_BIAS = 0x84
_CLIP14 = 8159


def _ulaw_encode_sample(sample: int) -> int:
    # The 14-bit form of the reference (Sun) coder: shift first, so negative
    # values round toward minus infinity exactly as every other G.711 coder does.
    value = sample >> 2
    mask = 0x7F if value < 0 else 0xFF
    value = min(-value if value < 0 else value, _CLIP14) + (_BIAS >> 2)
    segment = max(0, (value >> 6).bit_length()) if value >= 0x40 else 0
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


def _ulaw_decode_byte(byte: int) -> int:
    byte = ~byte & 0xFF
    sign = byte & 0x80
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return -magnitude if sign else magnitude


def _alaw_encode_sample(sample: int) -> int:
    sign = 0x80 if sample >= 0 else 0
    magnitude = min(sample if sample >= 0 else -sample - 1, 32767) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (sign | code) ^ 0x55


def _alaw_decode_byte(byte: int) -> int:
    byte ^= 0x55
    sign = byte & 0x80
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    base = (mantissa << 4) + (8 if exponent == 0 else 0x108)
    magnitude = base << (exponent - 1) if exponent else base
    return magnitude if sign else -magnitude


@functools.cache
def encode_table(codec: int) -> bytes:
    """65536-byte table: ``table[sample & 0xFFFF]`` is the code of a 16-bit sample."""
    encode = _ulaw_encode_sample if codec == PCMU else _alaw_encode_sample
    return bytes(encode(v - 65536 if v >= 32768 else v) for v in range(65536))


@functools.cache
def decode_table(codec: int) -> tuple[int, ...]:
    decode = _ulaw_decode_byte if codec == PCMU else _alaw_decode_byte
    return tuple(decode(b) for b in range(256))


@functools.cache
def transcode_table(src: int, dst: int) -> bytes:
    """256-byte table for ``payload.translate(table)`` from codec ``src`` to ``dst``."""
    if src == dst:
        return bytes(range(256))
    enc = encode_table(dst)
    return bytes(enc[s & 0xFFFF] for s in decode_table(src))


def encode(pcm16: bytes, codec: int) -> bytes:
    """Signed 16-bit little-endian mono PCM to G.711 ``codec`` (PCMU or PCMA)."""
    if codec not in (PCMU, PCMA):
        raise ValueError(f"not a G.711 payload type: {codec}")
    samples = array.array("h")
    samples.frombytes(pcm16[: len(pcm16) // 2 * 2])
    if sys.byteorder == "big":
        samples.byteswap()
    table = encode_table(codec)
    return bytes(table[s & 0xFFFF] for s in samples)


def decode(payload: bytes, codec: int) -> array.array[int]:
    """G.711 bytes to signed 16-bit samples."""
    table = decode_table(codec)
    return array.array("h", (table[b] for b in payload))
