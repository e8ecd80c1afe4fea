"""Running the runner on its own thread and event loop, for programs that are not asyncio
(or whose loop must not carry the pods' processes and watches)."""

from __future__ import annotations

import asyncio
import io
import sys
import threading
import traceback
from types import TracebackType
from typing import Any

from .runner import LocalKubelet


class KubeletThread:
    """``LocalKubelet`` on a daemon thread. ``start()`` blocks until the node is registered
    (re-raising a start failure); ``stop()`` blocks until every pod process has ended."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.kubelet = LocalKubelet(*args, **kwargs)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._halt: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 60.0) -> KubeletThread:
        self._thread = threading.Thread(target=self._main, name="local-kubelet", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the local kubelet did not start within {timeout}s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout: float | None = None) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._halt is not None:
            self._loop.call_soon_threadsafe(self._halt.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("the local kubelet did not stop in time; where it is:\n"
                               + self._where())
        self._thread = None

    def _where(self) -> str:
        """The runner thread's stack and its loop's tasks: what a stop that hangs waits on."""
        out = io.StringIO()
        frame = sys._current_frames().get(self._thread.ident or -1) if self._thread else None
        if frame is not None:
            out.write("thread:\n" + "".join(traceback.format_stack(frame)))
        if self._loop is not None:
            for _ in range(3):  # the set may change under us: it is the other thread's
                try:
                    tasks = list(asyncio.all_tasks(self._loop))
                    break
                except RuntimeError:
                    tasks = []
            for task in tasks:
                out.write(f"{task!r}\n")
                task.print_stack(limit=8, file=out)
        return out.getvalue()

    @property
    def pids(self) -> list[int]:
        return self.kubelet.pids

    @property
    def alive(self) -> bool:
        """False once the runner's thread has ended (stopped, or died of an error)."""
        return self._thread is not None and self._thread.is_alive()

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._halt = asyncio.Event()
        try:
            await self.kubelet.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._halt.wait()
        finally:
            await self.kubelet.stop()

    def __enter__(self) -> KubeletThread:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
