"""The garbage collector once a server process has started.

What a process builds while it starts (modules, the Flask app, SQLAlchemy's
mappers and compiled statements, the Socket.IO server) lives as long as the
process. Left to the collector, every full collection walks all of it again:
on the load floor that was 100-160 ms a full collection in a web process and
about a tenth of the consumer's CPU (docs/scaling.md, stop 37). Frozen, a
full collection walks only what the work itself made."""

from __future__ import annotations

import gc


def freeze_what_startup_built() -> None:
    """Collect once, then move every object alive now out of the
    collector's reach for the life of the process. Called once, when the
    process has built what it serves with and before it takes work."""
    gc.collect()
    gc.freeze()
