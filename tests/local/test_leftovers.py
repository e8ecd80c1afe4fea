"""Nothing of the stack outlives it: the mark, the reaper, the pid file, and who holds a port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from recording_operator.local.leftovers import (
    command_line,
    end,
    mark,
    marked,
    port_holder,
    remove_pid_file,
    running_owner,
    write_pid_file,
)
from recording_operator.ports import free_port
from tests.waiting import wait_for

#: A child that ignores SIGTERM (as a recorder stuck finishing a file might) and starts a
#: grandchild in a session of its own (out of reach of its process group).
STUBBORN = textwrap.dedent("""
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                     start_new_session=True)
    print("ready", flush=True)
    time.sleep(600)
""")

#: What ``dev`` does, reduced: the reaper, then marked children; then it waits to be killed.
FAKE_DEV = textwrap.dedent("""
    import os, subprocess, sys, time
    from pathlib import Path
    from recording_operator.local import reaper
    from recording_operator.local.leftovers import mark
    data = Path(sys.argv[1])
    keeper = reaper.spawn(data, 1.0, data / "reaper.log")
    env = {**os.environ, **mark(data)}
    child = subprocess.Popen([sys.executable, "-c", sys.argv[2]], env=env,
                             stdout=subprocess.PIPE, start_new_session=True)
    child.stdout.readline()
    if sys.argv[3] == "clean":
        reaper.dismiss(keeper)
    print(child.pid, flush=True)
    time.sleep(600)
""")


def fake_dev(data: Path, mode: str) -> tuple[subprocess.Popen[str], int]:
    dev = subprocess.Popen([sys.executable, "-c", FAKE_DEV, str(data), STUBBORN, mode],
                           stdout=subprocess.PIPE, text=True)
    assert dev.stdout is not None
    child = int(dev.stdout.readline())
    return dev, child


def test_sigkill_of_dev_leaves_no_marked_process(tmp_path: Path) -> None:
    dev, child = fake_dev(tmp_path, "kill")
    found = wait_for(lambda: pids if len(pids := marked(tmp_path)) == 2 else None, 10,
                     "the child and its grandchild, both marked")
    assert child in found
    dev.kill()
    dev.wait()
    wait_for(lambda: not marked(tmp_path), 10, "every marked process gone",
             lambda: "\n".join(command_line(p) for p in marked(tmp_path)))
    log = tmp_path / "reaper.log"
    wait_for(lambda: log.exists() and "needed SIGKILL" in log.read_text(), 10,
             "the reaper to log that the stubborn child needed SIGKILL")


def test_an_orderly_stop_dismisses_the_reaper(tmp_path: Path) -> None:
    dev, child = fake_dev(tmp_path, "clean")
    try:
        dev.kill()
        dev.wait()
        # The reaper was dismissed: what the run left is for the next run to find.
        assert child in marked(tmp_path)
    finally:
        assert end(marked(tmp_path), 1.0)  # the stubborn child needs SIGKILL
    assert not marked(tmp_path)


def test_the_mark_is_per_data_directory(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                             env={**os.environ, **mark(tmp_path / "other")})
    try:
        assert other.pid in wait_for(lambda: marked(tmp_path / "other"), 5, "the other mark")
        assert other.pid not in marked(tmp_path)
    finally:
        other.kill()
        other.wait()


def test_pid_file_names_a_running_dev_only(tmp_path: Path) -> None:
    runner = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from recording_operator.local.leftovers import write_pid_file
        write_pid_file(Path(sys.argv[1]))
        print("written", flush=True)
        time.sleep(600)
    """), str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert runner.stdout is not None
    assert runner.stdout.readline().strip() == "written"
    assert running_owner(tmp_path) == runner.pid
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    assert running_owner(tmp_path) is None, "a dead dev's pid file is stale"
    write_pid_file(tmp_path)
    assert running_owner(tmp_path) is None, "our own pid file is not another dev"
    remove_pid_file(tmp_path)
    assert not (tmp_path / "dev.pid").exists()


def test_port_holder_names_the_listening_process() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert port_holder(sock.getsockname()[1]) == os.getpid()
    assert port_holder(free_port()) is None
