"""Where recordings are kept: a folder, or an S3-compatible object store.

The dialer puts a finished file (after the call has ended, never during it);
the web tier reads byte ranges of it for the player and deletes it when its
retention is over. Keys hold the campaign, the day and the call id, so
several dialers write into one store without meeting.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol

from callcenter.settings import Settings

CHUNK = 64 * 1024


class StoreError(RuntimeError):
    """The store refused or did not answer; the message says why."""


class RecordingStore(Protocol):
    def put(self, key: str, path: Path, media_type: str) -> None: ...

    def size(self, key: str) -> int: ...

    def read(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes start..end (inclusive), in chunks."""

    def delete(self, key: str) -> None:
        """Remove the object; one that is already gone is not an error."""


def recording_key(campaign_id: int, call_id: str, started_at: datetime, suffix: str) -> str:
    return f"{campaign_id}/{started_at:%Y/%m/%d}/{call_id}.{suffix}"


class FolderStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise StoreError(f"key outside the store: {key!r}")
        return path

    def put(self, key: str, path: Path, media_type: str) -> None:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")
            shutil.copyfile(path, partial)
            os.replace(partial, target)
        except OSError as exc:
            raise StoreError(f"folder store {self.root}: {exc.strerror or exc}") from exc

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except OSError as exc:
            raise StoreError(f"folder store {self.root}: {exc.strerror or exc}") from exc

    def read(self, key: str, start: int, end: int) -> Iterator[bytes]:
        with self._path(key).open("rb") as file:
            file.seek(start)
            left = end - start + 1
            while left > 0 and (chunk := file.read(min(CHUNK, left))):
                left -= len(chunk)
                yield chunk

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Store:
    """Any S3-compatible store (SeaweedFS, MinIO, Ceph, AWS) through boto3."""

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        *,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        timeout_s: float = 10.0,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.endpoint = endpoint
        self._client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            region_name=region,
            config=Config(
                connect_timeout=timeout_s,
                read_timeout=timeout_s,
                retries={"max_attempts": 2, "mode": "standard"},
                s3={"addressing_style": "path"},
                signature_version="s3v4",
            ),
        )

    def _fail(self, exc: Exception) -> StoreError:
        return StoreError(f"S3 store {self.endpoint}: {exc}")

    def ensure_bucket(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError:
            try:
                self._client.create_bucket(Bucket=self.bucket)
            except (BotoCoreError, ClientError) as exc:
                raise self._fail(exc) from exc
        except BotoCoreError as exc:
            raise self._fail(exc) from exc

    def put(self, key: str, path: Path, media_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            with path.open("rb") as body:
                self._client.put_object(
                    Bucket=self.bucket, Key=key, Body=body, ContentType=media_type
                )
        except (BotoCoreError, ClientError, OSError) as exc:
            raise self._fail(exc) from exc

    def size(self, key: str) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return int(self._client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc) from exc

    def read(self, key: str, start: int, end: int) -> Iterator[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}"
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc) from exc
        yield from answer["Body"].iter_chunks(CHUNK)

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc) from exc


def store_from_settings(settings: Settings) -> RecordingStore:
    recording = settings.recording
    if recording.store == "s3":
        secret = recording.s3_secret_key
        return S3Store(
            recording.s3_endpoint,
            recording.s3_bucket,
            access_key=recording.s3_access_key,
            secret_key=secret.get_secret_value() if secret is not None else "",
            region=recording.s3_region,
            timeout_s=recording.s3_timeout_seconds,
        )
    return FolderStore(settings.recording_folder)
