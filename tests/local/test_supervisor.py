"""The supervisor restarts what exits, says why, and gives up on a critical part that keeps
failing instead of looping forever."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from recording_operator.local.supervisor import Backoff, ProcessUnit, Supervisor, describe_exit
from tests.waiting import wait_for

SLEEPER = [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(600)"]


@pytest.fixture
def messages() -> list[str]:
    return []


def supervisor(messages: list[str], fatal: list[str], **kwargs: object) -> Supervisor:
    return Supervisor(messages.append, fatal.append, backoff=Backoff(0.1, 0.4, 60), poll=0.05,
                      **kwargs)  # type: ignore[arg-type]


def watched(tmp_path: Path, name: str, argv: list[str], messages: list[str], fatal: list[str],
            *, critical: bool = False, **kwargs: object) -> tuple[ProcessUnit, Supervisor]:
    """A started process (its log in ``tmp_path``) under a started supervisor."""
    unit = ProcessUnit(name, argv, tmp_path / f"{name}.log", dict(os.environ))
    unit.start()
    watcher = supervisor(messages, fatal, **kwargs)
    watcher.add(unit, critical=critical)
    watcher.start()
    return unit, watcher


def test_a_killed_process_is_restarted_and_the_exit_reported(tmp_path: Path,
                                                              messages: list[str]) -> None:
    unit, watcher = watched(tmp_path, "sleeper", SLEEPER, messages, [])
    try:
        first = unit.pid
        assert first is not None
        wait_for(lambda: "ready" in unit.log.read_text(), 10, "the first run's output")
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: unit.pid != first and unit.exit_status() is None, 10, "a new process")
        wait_for(lambda: watcher.restarts("sleeper") == 1, 5, "the restart counted")
        exit_report = next(m for m in messages if m.startswith("sleeper exited"))
        assert "killed by SIGKILL" in exit_report
        assert "ready" in exit_report, "the last log lines are shown"
        assert "sleeper: up (1 restart)" in watcher.status_line()
    finally:
        watcher.close()
        unit.stop()
    assert unit.exit_status() is not None


def test_a_critical_part_that_keeps_failing_stops_the_stack(tmp_path: Path,
                                                            messages: list[str]) -> None:
    fatal: list[str] = []
    _, watcher = watched(tmp_path, "failing", [sys.executable, "-c", "import sys; sys.exit(3)"],
                         messages, fatal, critical=True, max_failures=3)
    try:
        wait_for(lambda: fatal, 10, "the supervisor to give up")
    finally:
        watcher.close()
    assert "failing failed 3 times" in fatal[0]
    assert sum("exit code 3" in m for m in messages) == 3
    assert "failing: failed" in watcher.status_line()


def test_a_non_critical_part_is_retried_without_end(tmp_path: Path, messages: list[str]) -> None:
    fatal: list[str] = []
    _, watcher = watched(tmp_path, "flaky", [sys.executable, "-c", "import sys; sys.exit(1)"],
                         messages, fatal, max_failures=2)
    try:
        wait_for(lambda: watcher.restarts("flaky") >= 4, 10, "several restarts")
    finally:
        watcher.close()
    assert not fatal


def test_a_stopped_process_is_not_restarted_after_pause(tmp_path: Path,
                                                        messages: list[str]) -> None:
    unit, watcher = watched(tmp_path, "sleeper", SLEEPER, messages, [])
    watcher.pause()
    unit.stop()
    watcher.close()
    assert watcher.restarts("sleeper") == 0
    assert unit.exit_status() is not None


def test_exit_descriptions() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(2) == "exit code 2"
