"""The JSON of Socket.IO packets and of its Redis message queue, through
orjson. Every push is encoded by the process that emits it and decoded by
every web process that hears it on the queue; the standard library's encoder
and decoder were 7-9% of a web process's CPU on the load floor.

The same JSON on the wire as `json.dumps` gives: non-string keys as strings,
tuples as lists; compact, text as UTF-8 rather than `\\u` escapes, NaN as
null. An integer past 64 bits is read as a float, so a client cannot make the
server parse a huge integer (what engineio's own `json.loads` guards against)."""

from __future__ import annotations

from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(data: Any, *, separators: tuple[str, str] | None = None) -> str:
    """Socket.IO asks for compact separators; orjson writes nothing else."""
    del separators
    return orjson.dumps(data, option=_OPTIONS).decode()


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)
