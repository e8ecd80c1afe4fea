"""The bridge from the muxing thread to the HTTP response: a bounded queue of byte chunks.

PyAV muxes synchronously, so the remux runs in a worker thread writing into a ``Pipe``; the
response drains it as an async iterator. The queue holds at most ``DEPTH`` chunks of ``CHUNK``
bytes (a few MiB): a slow client slows the remux instead of growing memory, and a client that
goes away stops it at its next write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
DEPTH = 16
_END = b""


class Cancelled(Exception):
    """The reader went away: the remux stops."""


class Pipe:
    """The writable end the muxer writes to (no ``seek``: the muxer must stream)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[bytes | BaseException] = queue.Queue(DEPTH)
        self.cancelled = threading.Event()
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        if len(self._buffer) >= CHUNK:
            self._put(bytes(self._buffer))
            self._buffer.clear()
        return len(data)

    def flush(self) -> None:
        """Chunks go when full: the muxer's flushes would only make them small."""

    def _put(self, item: bytes | BaseException) -> None:
        while True:
            if self.cancelled.is_set():
                raise Cancelled
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def finish(self, error: BaseException | None = None) -> None:
        """The muxer is done (or failed): the rest, then the end (or the error)."""
        try:
            if self._buffer and error is None:
                self._put(bytes(self._buffer))
            self._put(error if error is not None else _END)
        except Cancelled:
            pass


async def byte_stream(produce: Callable[[Pipe], object]) -> AsyncIterator[bytes]:
    """Runs ``produce(pipe)`` in a thread and yields what it writes, as it writes it."""
    pipe = Pipe()

    def run() -> None:
        try:
            produce(pipe)
        except Cancelled:
            return
        except BaseException as exc:  # reported to the reader, who logs it
            pipe.finish(exc)
            return
        pipe.finish()

    worker = threading.Thread(target=run, name="export-remux", daemon=True)
    worker.start()
    try:
        while True:
            item = await asyncio.to_thread(pipe.queue.get)
            if isinstance(item, BaseException):
                # headers are gone already: all we can do is end the body early and say why
                log.error("export failed part way: %s", item)
                raise item
            if item is _END or not item:
                return
            yield item
    finally:
        pipe.cancelled.set()
        await asyncio.to_thread(worker.join, 10)
        # a getter cancelled while it waited on an empty queue is still blocked: release it
        with contextlib.suppress(queue.Full):
            pipe.queue.put_nowait(_END)
