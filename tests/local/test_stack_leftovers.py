"""A new ``dev`` on a data directory deals with an earlier run's leftovers before it starts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from recording_operator.local.leftovers import mark, marked
from recording_operator.local.stack import (
    EmbeddedStack,
    StackError,
    StackOptions,
    _ensure_port_free,
)


def test_leftovers_of_an_earlier_run_are_ended(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
         "signal.SIG_IGN); print('ready', flush=True); time.sleep(600)"],
        env={**os.environ, **mark(tmp_path)}, stdout=subprocess.PIPE, text=True)
    assert stubborn.stdout is not None and stubborn.stdout.readline().strip() == "ready"
    EmbeddedStack(StackOptions(data_dir=tmp_path))._clear_leftovers()
    assert stubborn.wait(10) == -signal.SIGKILL
    assert not marked(tmp_path)
    said = capsys.readouterr().out
    assert f"stopping 1 processes an earlier run on {tmp_path} left running: {stubborn.pid}" \
        in said


def test_a_dev_still_running_on_the_directory_is_named(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from recording_operator.local.leftovers import write_pid_file
        write_pid_file(Path(sys.argv[1]))
        print("written", flush=True)
        time.sleep(600)
    """), str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "written"
        with pytest.raises(StackError, match=rf"(?s)another recording-operator dev "
                           rf"\(pid {other.pid}.*kill {other.pid}"):
            EmbeddedStack(StackOptions(data_dir=tmp_path))._clear_leftovers()
    finally:
        other.kill()
        other.wait()


def test_a_busy_port_names_its_holder() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(StackError, match=rf"127.0.0.1:{port} is in use .*process "
                           rf"{os.getpid()} .*kill {os.getpid()}"):
            _ensure_port_free("127.0.0.1", port, "the API (--port)")
