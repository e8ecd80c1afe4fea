"""Children that die with the process that started them (``PR_SET_PDEATHSIG``).

Every process the embedded mode and the test fixtures start (etcd, the API server, the S3 store,
the stack's parts, pod containers) is started with :func:`die_with_parent`, so a killed parent
leaves nothing holding ports. On a libc without ``prctl`` the children are simply not tied; the
embedded stack's reaper (``local/reaper.py``) still ends them.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _LIBC = None


def die_with_parent(parent: int | None = None) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets SIGTERM when the thread that started it dies (even by
    SIGKILL). With ``parent`` (the starter's pid), a child whose parent already died before the
    request took effect kills itself at once. Runs in the child: prctl and getppid only."""

    def arrange() -> None:
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if parent is not None and os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return arrange
