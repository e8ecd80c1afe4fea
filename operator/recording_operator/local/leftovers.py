"""Which processes belong to the embedded stack of one data directory, and ending them.

Every process the stack starts (the control plane, the media server, the operator, the API,
recorder pods and whatever they start) carries ``RECORDING_OPERATOR_STACK=<data dir>`` in its
environment. That mark is inherited by grandchildren, survives a process leaving its group, and
cannot be confused with an unrelated process that reused a pid. Two things use it:

* the reaper (:mod:`.reaper`), which ends the stack's processes when ``dev`` dies however it
  died, SIGKILL included;
* a new ``dev`` on the same data directory, which ends what an earlier run left behind (or,
  when that earlier ``dev`` still runs, names it) instead of failing on a busy port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

MARK = "RECORDING_OPERATOR_STACK"
#: The reaper's own mark: it is not one of the processes it ends.
REAPER_MARK = "RECORDING_OPERATOR_REAPER"
PID_FILE = "dev.pid"


def mark(data_dir: Path, key: str = MARK) -> dict[str, str]:
    """The environment entry that marks a process as the stack's (or its reaper's)."""
    return {key: str(data_dir.resolve())}


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip() or "?"


def marked(data_dir: Path, *, key: str = MARK, exclude: Iterable[int] = ()) -> list[int]:
    """The live processes marked as the stack's of ``data_dir`` (zombies excluded)."""
    needle = f"{key}={data_dir.resolve()}".encode() + b"\0"
    skip = {os.getpid(), *exclude}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        pid = int(entry.name)
        environ = b"\0" + _environ(pid) + b"\0"
        if b"\0" + needle in environ and not _zombie(pid):
            found.append(pid)
    return sorted(found)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


#: How long :func:`end` waits for SIGKILLed processes to be gone before it returns.
KILL_WAIT_SECONDS = 2.0


def end(pids: Iterable[int], grace: float) -> list[int]:
    """SIGTERM, up to ``grace`` seconds, then SIGKILL; the pids that had to be killed."""
    alive = set(pids)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if _running(pid)}
        time.sleep(0.05)
    killed = sorted(pid for pid in alive if _running(pid))
    for pid in killed:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    # SIGKILL is delivered, not done: a busy machine takes a moment to tear a process down,
    # and a caller that looks again (or binds its port) right after must not still find it.
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    left = set(killed)
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = {pid for pid in left if _running(pid)}
    return killed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


# -- the pid file of a running dev --------------------------------------------------------------


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot: with the pid, it names one process
    (a reused pid has another start time)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def write_pid_file(data_dir: Path) -> None:
    pid = os.getpid()
    (data_dir / PID_FILE).write_text(f"{pid} {_start_time(pid) or ''}\n")


def remove_pid_file(data_dir: Path) -> None:
    path = data_dir / PID_FILE
    with contextlib.suppress(OSError):
        if path.read_text().split()[:1] == [str(os.getpid())]:
            path.unlink()


def running_owner(data_dir: Path) -> int | None:
    """The pid of another ``dev`` still running on ``data_dir`` (from its pid file), if any."""
    try:
        fields = (data_dir / PID_FILE).read_text().split()
        pid, started = int(fields[0]), fields[1] if len(fields) > 1 else None
    except (OSError, ValueError, IndexError):
        return None
    if pid == os.getpid() or not _running(pid):
        return None
    if started is not None and _start_time(pid) != started:
        return None  # the pid was reused by another process
    return pid


# -- who holds a port -----------------------------------------------------------------------------


def port_holder(port: int) -> int | None:
    """The pid of a process listening on TCP ``port`` (IPv4 or IPv6), when it is visible."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{inode}]")
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return int(entry.name)
    return None
