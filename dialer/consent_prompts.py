"""The campaigns' uploaded recording notices, fetched from the recording store
(folder or S3) into a folder of the dialer's once, then played from disk.
Keys are named by content, so a file here is never out of date."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from callcenter.recording_store import RecordingStore, StoreError

log = logging.getLogger(__name__)


class ConsentPromptCache:
    def __init__(self, store: RecordingStore, folder: Path) -> None:
        self.store = store
        self.folder = folder
        self._lock = threading.Lock()

    def local_path(self, key: str) -> str | None:
        """The notice's file on this host; None when the store cannot give it
        (the shipped notice is played instead). Blocks: call from a thread."""
        path = self.folder / key.replace("/", "_")
        if path.is_file():
            return str(path)
        with self._lock:
            if path.is_file():
                return str(path)
            try:
                self._fetch(key, path)
            except (StoreError, OSError) as exc:
                log.warning("recording notice %s not fetched from the store: %s", key, exc)
                return None
        return str(path)

    def _fetch(self, key: str, path: Path) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        size = self.store.size(key)
        with partial.open("wb") as out:
            for chunk in self.store.read(key, 0, size - 1):
                out.write(chunk)
        os.replace(partial, path)
