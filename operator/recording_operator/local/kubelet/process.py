"""One container run as a local process group.

Each container gets its own session (process group), so SIGTERM and SIGKILL reach whatever the
command started (a shell and its children, a recorder and its ffmpeg), the way a container's
PID namespace is torn down as a whole. Children also get SIGTERM if the runner dies without
stopping them (``PR_SET_PDEATHSIG``); in the embedded stack a reaper then SIGKILLs whatever did
not end within its grace (``local/reaper.py``), so a killed ``dev`` leaves no recorder behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..lifetime import die_with_parent


class Process:
    """A started container process; ``returncode`` is negative when a signal ended it."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self.pid = proc.pid

    @property
    def container_id(self) -> str:
        return f"local://{self.pid}"

    @classmethod
    async def start(cls, argv: Sequence[str], env: Mapping[str, str], cwd: Path,
                    log: Path) -> Process:
        """Raises OSError when the command cannot be executed (not found, not executable)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                env=dict(env),
                cwd=str(cwd),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(os.getpid()),  # prctl and getppid only
            )
        return cls(proc)

    async def wait(self) -> int:
        code = await self._proc.wait()
        # Whatever the command left behind in its group goes with it, as with a container.
        self.signal_group(signal.SIGKILL)
        return code

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def terminate(self, grace: float) -> int:
        """SIGTERM to the group, up to ``grace`` seconds, then SIGKILL; the exit status."""
        if self._proc.returncode is None:
            self.signal_group(signal.SIGTERM)
            try:
                async with asyncio.timeout(max(grace, 0.0)):
                    await asyncio.shield(self._proc.wait())
            except TimeoutError:
                self.signal_group(signal.SIGKILL)
        return await self.wait()
