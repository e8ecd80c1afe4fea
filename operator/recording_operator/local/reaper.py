"""The reaper: ends the embedded stack's processes when ``dev`` dies, however it died.

``dev`` starts it first, in a session of its own (so neither Ctrl-C nor a closed terminal
reaches it), holding the write end of its stdin. An orderly stop writes ``clean`` and closes the
pipe: the reaper exits. Any other end of ``dev`` — SIGKILL, an OOM kill, a crash — closes the pipe
without it: the reaper sends SIGTERM to every process marked as the stack's (see
:mod:`.leftovers`), waits the grace period, SIGKILLs what is left, and exits. The children's own
``PR_SET_PDEATHSIG`` already sent them SIGTERM; the reaper also catches grandchildren and anything
that ignored or outlived it.

Run as ``python -m recording_operator.local.reaper <data dir> [grace seconds]``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from .leftovers import MARK, REAPER_MARK, end, mark, marked

CLEAN = b"clean"


def spawn(data_dir: Path, grace: float, log: Path) -> subprocess.Popen[bytes]:
    """Starts the reaper of ``data_dir``'s stack; this process holds its stdin until
    :func:`dismiss` (or until it dies)."""
    env = {**os.environ, **mark(data_dir, REAPER_MARK)}
    env.pop(MARK, None)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "recording_operator.local.reaper", str(data_dir.resolve()),
             str(grace)],
            stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, env=env,
            start_new_session=True)


def dismiss(reaper: subprocess.Popen[bytes]) -> None:
    """The stack stopped in order: the reaper exits without ending anything."""
    if reaper.stdin is not None:
        with contextlib.suppress(OSError):
            reaper.stdin.write(CLEAN)
            reaper.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        reaper.wait(10)


def main(argv: list[str]) -> int:
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    data_dir = Path(argv[0])
    grace = float(argv[1]) if len(argv) > 1 else 5.0
    said = sys.stdin.buffer.read()
    if said.strip().endswith(CLEAN):
        return 0
    # One snapshot only: a new dev on the same data directory waits for this reaper to end
    # before it starts anything, so nothing found here can be the new run's.
    pids = marked(data_dir)
    if pids:
        killed = end(pids, grace)
        print(f"recording-operator reaper: dev ended without stopping; ended {len(pids)} "
              f"processes of {data_dir} ({len(killed)} needed SIGKILL)", file=sys.stderr,
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
