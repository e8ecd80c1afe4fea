"""The embedded stack's parts that are not plain processes, as supervised units.

Each adapter makes one part fit :class:`.supervisor.Unit`: the control plane's processes (kept
on their ports and data, so clients only see a short outage), the media server (restarted on
the same ports, so publishers and recorders reconnect to the same URLs), the demo publisher, and
the local pod runner's thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from .kubelet.thread import KubeletThread
from .mediaserver import MediaServer
from .publisher import Publisher
from .supervisor import tail


class _ControlPlaneProcess(Protocol):
    name: str

    def start(self) -> None: ...

    def exited(self) -> int | None: ...

    def stop(self, grace: float = ...) -> None: ...

    def tail(self, lines: int = ...) -> str: ...


class ControlPlaneUnit:
    """One of etcd, kube-apiserver, kube-controller-manager: same flags, ports and data."""

    def __init__(self, process: _ControlPlaneProcess) -> None:
        self.process = process
        self.name = process.name

    def start(self) -> None:
        self.process.start()

    def exit_status(self) -> int | None:
        return self.process.exited()

    def stop(self) -> None:
        self.process.stop()

    def log_tail(self, lines: int) -> str:
        return self.process.tail(lines)


class MediaUnit:
    """The nginx-rtmp server; ``make`` starts one (always on the same ports)."""

    name = "media server"

    def __init__(self, make: Callable[[], MediaServer]) -> None:
        self._make = make
        self.server: MediaServer | None = None

    def start(self) -> None:
        self.server = self._make()

    def exit_status(self) -> int | None:
        return None if self.server is None else self.server.process.poll()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def log_tail(self, lines: int) -> str:
        if self.server is None:
            return "(not started)"
        return tail(self.server.workdir / "error.log", lines)


class PublisherUnit:
    """The demo stream's ffmpeg: it ends when the media server goes, and comes back with it."""

    name = "demo publisher"

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    def start(self) -> None:
        self.publisher.start()

    def exit_status(self) -> int | None:
        process = self.publisher.process
        return None if process is None else process.poll()

    def stop(self) -> None:
        self.publisher.stop()

    def log_tail(self, lines: int) -> str:
        return "\n".join(self.publisher.error_output().splitlines()[-lines:])


class KubeletUnit:
    """The local pod runner's thread; a new one takes over the node's pods (see
    :mod:`.kubelet`: their processes ended with the old thread)."""

    name = "pod runner"

    def __init__(self, make: Callable[[], KubeletThread], log: Path) -> None:
        self._make = make
        self._log = log
        self.thread: KubeletThread | None = None

    def start(self) -> None:
        self.thread = self._make().start()

    def exit_status(self) -> int | None:
        return None if self.thread is None or self.thread.alive else 1

    def stop(self) -> None:
        if self.thread is not None:
            self.thread.stop(timeout=60)

    def log_tail(self, lines: int) -> str:
        return tail(self._log, lines)
