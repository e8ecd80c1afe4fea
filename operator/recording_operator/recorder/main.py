"""Wiring for one recorder process: signals, the reporter, resuming, the session.

The media loop runs on the main thread; SIGTERM and SIGINT only set an event it checks between
packets, so the current file is always finished by the code that writes it. The reporter, when
enabled, runs on its own thread and is given the last word: the final status (``finished``)
is sent before the process exits.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ..model.reporting import FLOOR
from ..model.resolved import ResolvedRecording
from ..model.timefmt import now
from . import infofile
from .errors import RecorderError
from .paths import MacroValues, StorageRoot, expand
from .progress import Progress
from .resume import plan_resume
from .session import EXIT_FAILED, Recorder, RecorderSettings

if TYPE_CHECKING:  # the status client is loaded only when reporting is on
    from ..kube.target import KubeTarget

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reporting:
    namespace: str
    name: str
    target: KubeTarget | None = None
    interval: float = FLOOR
    #: The recorder pod's uid, stamped on every report (see RecorderReport.pod_uid).
    pod_uid: str | None = None


def _info_entries(job: ResolvedRecording, root: StorageRoot) -> list[infofile.InfoEntry]:
    """The entries of this task's info file, if its path does not depend on the file."""
    values = MacroValues(
        transaction_id=job.transaction_id, id=job.id, vhost=job.vhost, app=job.app,
        stream=job.stream, sequence=0, zone=ZoneInfo(job.timezone), start=now(),
    )
    try:
        return infofile.read(root.resolve(expand(job.info_path, values)))
    except RecorderError:
        return []


def job_problem(job: ResolvedRecording) -> str | None:
    """Why ``job`` cannot be recorded as given, or None."""
    from ..model.rules import is_valid_schedule
    from .writer import output_format

    if job.interval_ms is not None and job.interval_ms < 0:
        return f"intervalMs must not be negative (got {job.interval_ms})"
    if job.interval_ms and job.schedule:
        return "intervalMs and schedule cannot be used at the same time"
    if job.schedule and not is_valid_schedule(job.schedule):
        return f"schedule {job.schedule!r} is not 'second minute hour' (e.g. '0 */1 *')"
    try:
        ZoneInfo(job.timezone)
    except (ValueError, KeyError):
        return f"unknown time zone {job.timezone!r}"
    root = StorageRoot(job.storage_root)
    try:
        root.check_template(job.file_path)
        root.check_template(job.info_path, info=True)
        output_format(job.file_path)
    except (RecorderError, ValueError) as exc:
        return str(exc)
    return None


def install_stop_handlers(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info("%s received: finishing the current file", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run(
    job: ResolvedRecording,
    *,
    reporting: Reporting | None,
    settings: RecorderSettings | None = None,
    storage_root: str | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Records ``job`` until stopped; returns the exit code (0 stopped, 1 failed)."""
    if stop is None:
        stop = threading.Event()
        install_stop_handlers(stop)
    root = StorageRoot(storage_root or job.storage_root)
    zone = ZoneInfo(job.timezone)
    reporter = None
    if reporting is not None:
        from .reporter import StatusReporter

        reporter = StatusReporter(
            reporting.namespace, reporting.name, reporting.target, interval=reporting.interval
        )
        try:
            reporter.start()
        except RecorderError as exc:
            log.error("%s", exc)
            return EXIT_FAILED
        status = reporter.read_status()
        resume = plan_resume(status, job.transaction_id, _info_entries(job, root))
    else:
        resume = plan_resume(None, job.transaction_id, _info_entries(job, root))
    if resume.next_sequence or resume.files:
        log.info("resuming at sequence %d", resume.next_sequence)
    progress = Progress(
        zone, files=list(resume.files), total_bytes=resume.total_bytes,
        total_time_ms=resume.total_time_ms,
        sequence=resume.next_sequence - 1 if resume.next_sequence else None,
        pod_uid=reporting.pod_uid if reporting is not None else None,
    )
    if reporter is not None:
        progress.on_change = reporter.notify
        reporter.begin(progress.snapshot)
        reporter.notify()
    watch = None
    if reporting is not None:
        from .wakeup import PublishWatch

        watch = PublishWatch(reporting.namespace, reporting.name, reporting.target,
                             threading.Event()).start()
    recorder = Recorder(job, progress, stop, settings=settings, resume=resume,
                        storage_root=str(root.path),
                        wake=watch.wake if watch is not None else None)
    code = recorder.run()
    if watch is not None:
        watch.stop()
    if reporter is not None and not reporter.close():
        log.warning("the final status may not have reached the Kubernetes API")
    return code
