"""Running the real recorder (``recording-operator record``) as a subprocess, as a pod would."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tests.waiting import wait_for

T = TypeVar("T")

#: The test clip: 25 fps, a keyframe every 25 frames.
FPS = 25
FRAME = 1 / FPS
GOP = 1.0
AUDIO_FRAME = 1024 / 44100



def job(stream: str, source_url: str, **fields: Any) -> dict[str, Any]:
    """A ResolvedRecording (what the operator hands the pod), with test defaults."""
    spec: dict[str, Any] = {
        "recording": {"namespace": "default", "name": f"rec-{stream}"},
        "id": f"id-{stream}",
        "vhost": "default",
        "app": "app",
        "stream": stream,
        "transactionId": f"TX{stream.upper():0<14}"[:16],
        "sourceUrl": source_url,
        "filePath": "${TransactionId}_${Stream}_${Sequence}.ts",
        "infoPath": "${TransactionId}_${Stream}.xml",
        "createdTime": "2026-01-01T00:00:00.000+00:00",
    }
    spec.update(fields)
    return spec


class Recorder:
    """One ``recording-operator record`` process with its own storage directory and log."""

    def __init__(
        self,
        spec: dict[str, Any],
        storage: Path,
        *,
        report: bool = False,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        preexec: Callable[[], None] | None = None,
    ) -> None:
        self.spec = spec
        self.storage = storage
        storage.mkdir(parents=True, exist_ok=True)
        self.spec_file = storage.parent / f"{storage.name}.spec.json"
        self.log_file = storage.parent / f"{storage.name}.log"
        self.report = report
        self.env = env or {}
        self.args = args
        self.preexec = preexec
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> Recorder:
        self.spec_file.write_text(json.dumps(self.spec))
        cmd = [sys.executable, "-m", "recording_operator.cli.main", "record",
               "--spec-file", str(self.spec_file), "--storage-root", str(self.storage),
               "--retry-max", "0.5", "--log-level", "DEBUG", *self.args]
        if not self.report:
            cmd.append("--no-report")
        env = {**os.environ, **self.env}
        log = open(self.log_file, "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(cmd, stdout=log, stderr=log, env=env,
                                        preexec_fn=self.preexec)
        log.close()
        self.started_at = time.monotonic()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, as the kubelet does; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(
                f"recorder ignored SIGTERM for {timeout} s\n{self.log()}") from None

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    # --- files ----------------------------------------------------------------------------

    def finished_files(self, pattern: str = "*") -> list[Path]:
        return sorted(
            (p for p in self.storage.rglob(pattern)
             if p.is_file() and ".recording." not in p.name and p.suffix in (".ts", ".mp4")),
            key=lambda p: p.stat().st_mtime_ns,
        )

    def temp_files(self) -> list[Path]:
        # Not the hidden notes of publications under way (``.<temp>.finishing``).
        return sorted(p for p in self.storage.rglob("*.recording.*")
                      if p.is_file() and not p.name.startswith("."))

    def info_files(self) -> list[Path]:
        return sorted(self.storage.rglob("*.xml"))

    def wait_files(self, count: int, timeout: float) -> list[Path]:
        def enough() -> list[Path] | None:
            files = self.finished_files()
            return files if len(files) >= count else None

        return wait_for(enough, timeout, f"{count} finished files\n{self.log()}")

    def wait_temp(self, timeout: float) -> Path:
        def first() -> Path | None:
            files = self.temp_files()
            return files[0] if files else None

        return wait_for(first, timeout, f"a file being written\n{self.log()}")

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.alive():
            assert self.process is not None
            self.process.kill()
            self.process.wait(10)


def iter_pairs(items: list[T]) -> Iterator[tuple[T, T]]:
    return itertools.pairwise(items)
