"""Keeps the embedded stack's processes running, as a cluster keeps its Deployments running.

Each part of the stack is a :class:`Unit`: something that can be started, asked whether it has
exited, stopped, and asked for its last log lines. The :class:`Supervisor` polls its units on a
thread; a unit that exits unexpectedly is reported (exit status and last log lines) and started
again after a doubling backoff, as a kubelet restarts a crashed container. A *critical* unit
(the control plane's processes) that keeps failing ends the whole stack with a clear message
instead of a restart loop nobody can use.

Adding a process to the stack is one :class:`ProcessUnit` (argv, log file, environment) passed
to :meth:`Supervisor.add` after it was started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .lifetime import die_with_parent


def describe_exit(code: int) -> str:
    """``exit code 3`` or ``killed by SIGKILL`` (Popen gives a signal as a negative code)."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def tail(path: Path, lines: int = 10) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Unit(Protocol):
    """One supervised part of the stack."""

    name: str

    def start(self) -> None:
        """Starts it (again); raises when it cannot start."""

    def exit_status(self) -> int | None:
        """None while it runs, else its exit status (negative: the signal that ended it)."""

    def stop(self) -> None:
        """Ends it gracefully; safe to call when it has exited."""

    def log_tail(self, lines: int) -> str:
        """Its last log lines, for the restart report."""


@dataclass
class ProcessUnit:
    """A child process of the stack in its own session (so a signal reaches what it started),
    dying with its parent, logging to ``log``."""

    name: str
    argv: Sequence[str]
    log: Path
    env: Mapping[str, str] = field(default_factory=dict)
    #: Seconds between SIGTERM and SIGKILL on stop.
    grace: float = 10.0
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                list(self.argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=dict(self.env), start_new_session=True,
                preexec_fn=die_with_parent(os.getpid()),
            )

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def exit_status(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(self.grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def kill(self) -> None:
        """SIGKILL, as a crash would (for tests and ``restart_operator``)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def log_tail(self, lines: int) -> str:
        return tail(self.log, lines)


@dataclass
class Backoff:
    """Restart delays: ``initial`` doubled per failure up to ``maximum``; a run longer than
    ``reset_after`` starts over (a kubelet's CrashLoopBackOff, with shorter times)."""

    initial: float = 1.0
    maximum: float = 30.0
    reset_after: float = 60.0


@dataclass
class _Watched:
    unit: Unit
    critical: bool
    started_at: float
    restarts: int = 0
    failures: int = 0
    restart_at: float | None = None
    failure_times: list[float] = field(default_factory=list)
    gave_up: bool = False


class Supervisor:
    """Polls its units on a daemon thread and restarts the ones that exit.

    ``report`` gets one human-readable message per event (an exit, a restart, the status
    line). ``on_fatal`` is called (once, from the supervisor's thread) when a critical unit
    failed ``max_failures`` times within ``failure_window`` seconds, or could not be started;
    the stack then stops as a whole.
    """

    def __init__(self, report: Callable[[str], None], on_fatal: Callable[[str], None], *,
                 backoff: Backoff | None = None, poll: float = 0.25,
                 max_failures: int = 5, failure_window: float = 300.0) -> None:
        self.report = report
        self.on_fatal = on_fatal
        self.backoff = backoff or Backoff()
        self.poll = poll
        self.max_failures = max_failures
        self.failure_window = failure_window
        self._units: list[_Watched] = []
        self._lock = threading.Lock()
        self._paused = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.fatal: str | None = None

    # -- membership -------------------------------------------------------------------------

    def add(self, unit: Unit, *, critical: bool = False) -> None:
        """Watches a unit that was started already."""
        with self._lock:
            self._units.append(_Watched(unit, critical, time.monotonic()))

    def restarts(self, name: str) -> int:
        with self._lock:
            return sum(w.restarts for w in self._units if w.unit.name == name)

    def status_line(self) -> str:
        """``control plane: up · operator: up (2 restarts) · ...``: one line for the terminal."""
        with self._lock:
            parts = []
            for watched in self._units:
                state = "up" if watched.unit.exit_status() is None else "down"
                if watched.gave_up:
                    state = "failed"
                if watched.restarts:
                    plural = "s" if watched.restarts != 1 else ""
                    state += f" ({watched.restarts} restart{plural})"
                parts.append(f"{watched.unit.name}: {state}")
        return "status: " + " · ".join(parts)

    # -- the loop ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="stack-supervisor", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        """Stops restarting (before the stack's orderly stop); the processes keep running."""
        self._paused.set()

    def close(self) -> None:
        """Ends the supervisor's thread, after the stack stopped its units: the thread must
        outlive what it restarted, which gets SIGTERM when its starting thread ends."""
        self._paused.set()
        self._closed.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(30)
        self._thread = None

    def _loop(self) -> None:
        while not self._closed.wait(self.poll):
            if self._paused.is_set():
                continue
            with self._lock:
                units = list(self._units)
            for watched in units:
                if self._paused.is_set():
                    break
                self._check(watched)

    def _check(self, watched: _Watched) -> None:
        unit = watched.unit
        now = time.monotonic()
        if watched.gave_up:
            return
        if watched.restart_at is None:
            code = unit.exit_status()
            if code is None:
                return
            ran_for = now - watched.started_at
            if ran_for >= self.backoff.reset_after:
                watched.failures = 0
            delay = min(self.backoff.initial * 2.0 ** watched.failures, self.backoff.maximum)
            watched.failures += 1
            watched.failure_times = [t for t in watched.failure_times
                                     if now - t < self.failure_window] + [now]
            logs = unit.log_tail(10)
            self.report(f"{unit.name} exited ({describe_exit(code)}) after {ran_for:.0f} s; "
                        f"its last log lines:\n{_indent(logs)}")
            if watched.critical and len(watched.failure_times) >= self.max_failures:
                self._give_up(watched, f"{unit.name} failed {len(watched.failure_times)} times "
                              f"within {self.failure_window:.0f} s")
                return
            self.report(f"restarting {unit.name} in {delay:.0f} s")
            watched.restart_at = now + delay
            return
        if now < watched.restart_at:
            return
        watched.restart_at = None
        try:
            unit.start()
        except Exception as exc:  # reported; the next poll sees it down and tries again
            self.report(f"{unit.name} could not be started again: {exc}")
            if watched.critical:
                self._give_up(watched, f"{unit.name} could not be started again: {exc}")
                return
        watched.started_at = time.monotonic()
        watched.restarts += 1
        self.report(self.status_line())

    def _give_up(self, watched: _Watched, why: str) -> None:
        watched.gave_up = True
        if self.fatal is None:
            self.fatal = why
            self.report(f"giving up: {why}; stopping everything")
            self._paused.set()
            self.on_fatal(why)


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines()) or "    (empty)"
