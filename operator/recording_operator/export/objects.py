"""A seekable, read-only file over an object in the store, for the demuxer in its thread.

The demuxer wants ``read`` and ``seek``; the store answers ranged GETs on the event loop (the
delivery's S3 client, ``delivery.objectstore``). Each read is one ranged GET of at least
``BLOCK`` bytes, so memory stays one block per open segment however large the object.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

# The one read-side use of the delivery's S3 client (an exception in .importlinter): the API
# reaches the store only through here.
from ..delivery.objectstore import ObjectStore, StoreError, content_type

__all__ = ["BLOCK", "ObjectStore", "RangedObject", "StoreError", "content_type", "split_url"]

#: Bytes per ranged GET (a 20 s 720p segment is a handful of them).
BLOCK = 1024 * 1024


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or not parts.path.strip("/"):
        raise ValueError(f"{url!r} is not an s3://bucket/key URL")
    return parts.netloc, parts.path.lstrip("/")


class RangedObject(io.RawIOBase):
    """Reads ``key`` of ``store`` through ``loop`` (which must not be the calling thread's)."""

    def __init__(self, store: ObjectStore, key: str, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._store = store
        self._key = key
        self._loop = loop
        self._size = self._call(store.object_size(key))
        self._pos = 0
        self._block_start = 0
        self._block = b""

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._pos >= self._size or not len(view):
            return 0
        inside = self._block_start <= self._pos < self._block_start + len(self._block)
        if not inside:
            length = min(max(BLOCK, len(view)), self._size - self._pos)
            self._block = self._call(self._store.read_range(self._key, self._pos, length))
            self._block_start = self._pos
            if not self._block:
                return 0
        at = self._pos - self._block_start
        count = min(len(view), len(self._block) - at)
        view[:count] = self._block[at:at + count]
        self._pos += count
        return count

