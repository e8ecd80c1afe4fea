"""The recorder's state machine: wait for the stream, record it into split files, wait again.

::

    ready --stream opens, first keyframe--> recording --split--> recording (sequence + 1)
    recording --stream drops--> file finished (lastSequence false) --> stopped, waiting
    stopped --stream returns--> recording (same transactionId, next sequence)
    any --stop (SIGTERM)--> file finished (lastSequence true) --> stopped, finished
    any --storage or configuration failure--> error (exit 1)

Everything here runs on one thread, the one that reads packets: demuxing, splitting and muxing
are a straight pipeline, so no packet ever waits on a lock. ``stop`` is checked between packets;
a stalled source is noticed after the source's read timeout.
"""

from __future__ import annotations

import collections
import logging
import os
import posixpath
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..model.recorder_status import FileRecord
from ..model.resolved import ResolvedRecording
from ..model.resource import SegmentationRule, State
from ..model.timefmt import now
from . import ending, finishing, infofile, wakeup
from .bitstream import AdtsToAsc, needs_adts_to_asc
from .errors import NoTracks, SourceRefused, SourceUnavailable, StorageError, StorageFull
from .interleave import Interleaver, Sample
from .paths import MacroValues, StorageRoot, TaskPaths, expand, left_file, temp_name
from .progress import Progress
from .resume import Orphan, Resume
from .source import Source, SourceOptions, check_url, open_source, redact
from .space import SpaceWait
from .splitter import SplitPolicy, make_policy
from .timeline import Timeline
from .tracks import Selection, select
from .writer import FileWriter, media_duration_us, output_format

log = logging.getLogger(__name__)

EXIT_STOPPED = 0
EXIT_FAILED = 1

_NO_FILE = sys.maxsize


@dataclass(frozen=True)
class RecorderSettings:
    source: SourceOptions = field(default_factory=SourceOptions)
    #: Reconnect backoff while the stream is absent: first delay, cap (seconds).
    retry_initial: float = 0.5
    #: The cap bounds how late a publish is noticed (reservation latency): one cheap connect
    #: per second per waiting reservation.
    retry_max: float = 1.0
    #: How long a quiet track may hold the others back (see interleave.py).
    interleave_wait_us: int = 1_000_000


@dataclass
class _OpenFile:
    writer: FileWriter
    values: MacroValues
    temp: Path
    start: datetime


class _Converter:
    """Source time base → microseconds, rounded, with integers only (this runs per packet)."""

    __slots__ = ("den", "num")

    def __init__(self, stream: Any) -> None:
        tb = stream.time_base
        self.num = tb.numerator * 1_000_000
        self.den = tb.denominator

    def us(self, ticks: int) -> int:
        us: int = (ticks * self.num * 2 + self.den) // (2 * self.den)
        return us


class Recorder:
    def __init__(
        self,
        job: ResolvedRecording,
        progress: Progress,
        stop: threading.Event,
        *,
        settings: RecorderSettings | None = None,
        resume: Resume | None = None,
        storage_root: str | None = None,
        clock: Callable[[], datetime] = now,
        wake: threading.Event | None = None,
    ) -> None:
        self.job = job
        self.progress = progress
        self.stop = stop
        self.settings = settings or RecorderSettings()
        self.resume = resume or Resume()
        self.root = StorageRoot(storage_root or job.storage_root)
        self.space = SpaceWait(self.root.path, stop, progress)
        self.clock = clock
        #: Set when the media server reports the stream published (see wakeup.py).
        self.wake = wake
        self.zone: tzinfo = ZoneInfo(job.timezone)
        self.format = output_format(job.file_path)
        self.policy: SplitPolicy = make_policy(job.interval_ms, job.schedule, job.timezone)
        self.discontinuity = job.segmentation_rule == SegmentationRule.DISCONTINUITY
        self.timeline = Timeline(origin_us=self.resume.total_time_ms * 1000)
        self.next_sequence = self.resume.next_sequence
        self.recorded_any = False
        self._file: _OpenFile | None = None
        self._selection: Selection | None = None
        self._adts: dict[int, AdtsToAsc] = {}
        self._note: str | None = None
        #: Hot-path shortcuts, set per session and per file.
        self._default_slot = 0
        #: The open file's first DTS; _NO_FILE when none is open (one comparison on the
        #: per-packet path answers both "is a file open" and "is this packet late for it").
        self._file_start = _NO_FILE
        self._write: Callable[[Sample], None] = lambda sample: None
        self._write_packet: Callable[[Any, int, int, int, int], None] = (
            lambda packet, slot, at, pts, duration: None)

    # --- the outer loop ---------------------------------------------------------------------

    def run(self) -> int:
        """Records until stopped; returns the process exit code."""
        try:
            self.root.check_template(self.job.file_path)
            self.root.check_template(self.job.info_path, info=True)
            check_url(self.job.source_url)
            self._check_storage()
            if self.resume.orphan:
                self._recover(self.resume.orphan)
            self._recover_unlisted()
            while not self.stop.is_set():
                source = self._open_with_backoff()
                if source is None:
                    break
                with source:
                    try:
                        dropped = self._record(source)
                    except StorageFull as exc:
                        dropped = self._wait_for_space(exc)
                if not dropped:
                    break
            ending.mark_last_file(self.root, self.progress, self.job.transaction_id)
            self.progress.stopped(None, finished=True)
            return EXIT_STOPPED
        except (StorageError, SourceRefused, NoTracks) as exc:
            self._abort_file()
            log.error("%s", exc)
            self.progress.error(str(exc))
            return EXIT_FAILED

    def _check_storage(self) -> None:
        root = self.root.path
        if not root.is_dir():
            raise StorageError(f"the storage root {root} does not exist or is not a directory")
        if not os.access(root, os.W_OK | os.X_OK):
            raise StorageError(f"cannot write {root}: the storage is not writable")

    def _waiting_state(self) -> State:
        return State.STOPPED if self.recorded_any else State.READY

    def _open_with_backoff(self) -> Source | None:
        delay = self.settings.retry_initial
        attempts = 0
        while not self.stop.is_set():
            if not attempts:
                log.info("opening the stream %s", redact(self.job.source_url))
            try:
                source = open_source(self.job.source_url, self.settings.source)
            except SourceUnavailable as exc:
                attempts += 1
                if attempts == 1 or attempts % 20 == 0:
                    log.info("waiting for the stream: %s", exc)
                self.progress.waiting(self._waiting_state(), f"waiting for the stream: {exc}")
                if wakeup.pause(self.stop, self.wake, delay):
                    delay = wakeup.RETRY_AFTER_WAKE_S
                    continue
                delay = min(delay * 2, self.settings.retry_max)
                continue
            log.info("stream %s opened", self.job.stream)
            return source
        return None

    # --- one session: from open to drop or stop ----------------------------------------------

    def _record(self, source: Source) -> bool:
        """Records from an open source; True when the stream dropped, False when stopped."""
        selection = select(source.streams, self.job.tracks)
        self._selection = selection
        self._default_slot = selection.default_slot
        self._note = (
            f"not in the source: {', '.join(selection.unmatched)}" if selection.unmatched else None
        )
        if self._note:
            log.warning("%s", self._note)
        log.info(
            "recording %s",
            ", ".join(f"#{t.index} {t.kind} {t.codec}" for t in selection.tracks),
        )
        self._adts = {
            t.slot: AdtsToAsc(t.stream)
            for t in selection.tracks
            if needs_adts_to_asc(t, self.format.name)
        }
        slots = {t.index: t.slot for t in selection.tracks}
        converters = [_Converter(t.stream) for t in selection.tracks]
        scale = [(c.num, c.den) for c in converters]
        default = selection.default_slot
        every_packet_is_key = selection.audio_only
        self.timeline.start_session()
        interleaver = Interleaver(len(selection.tracks), self.settings.interleave_wait_us)
        timeline, adts, stop = self.timeline, self._adts, self.stop
        # Before the first keyframe anchors the session, other tracks' packets wait here: in an
        # MPEG-TS source audio runs ahead of video, so packets that belong after the keyframe
        # can arrive before it.
        early: collections.deque[tuple[int, Any, int, int | None, bool]] = collections.deque(
            maxlen=512)

        emit, admit, hold, map_time = self._emit, interleaver.admit, interleaver.hold, timeline.map
        recorder = self

        def ingest(slot: int, pkt: Any, dts: int, pts: int | None, key: bool) -> None:
            # Source ticks → microseconds, rounded (inlined: this runs for every packet).
            num, den = scale[slot]
            dts_us = (dts * num * 2 + den) // (2 * den)
            duration = pkt.duration
            dur_us = (duration * num * 2 + den) // (2 * den) if duration else 0
            offset = map_time(slot, dts_us, dur_us)
            if offset is None:
                return
            at = dts_us + offset
            pts_us = ((pts * num * 2 + den) // (2 * den) if pts is not None else dts_us) + offset
            if admit(slot, at):
                # In order and nothing held (a track catching up): straight into the open file,
                # without a Sample, unless this keyframe may start a file (then _emit decides).
                if at >= recorder._file_start and not (key and slot == default):
                    recorder._write_packet(pkt, slot, at, pts_us, dur_us)
                else:
                    emit(Sample(at, slot, pts_us, dur_us, key, pkt))
                return
            # Ahead of another track (most packets of an interleaved source): held, and what
            # is now safe goes out, the same way.
            for ready in hold(Sample(at, slot, pts_us, dur_us, key, pkt)):
                if ready.dts >= recorder._file_start and not (ready.key and ready.slot == default):
                    recorder._write_packet(ready.packet, ready.slot, ready.dts, ready.pts,
                                           ready.duration)
                else:
                    emit(ready)

        dropped = True
        reason = "the stream ended"
        try:
            anchored = False
            for packet in source.packets([t.stream for t in selection.tracks]):
                if stop.is_set():
                    dropped = False
                    break
                dts = packet.dts
                pts = packet.pts
                if dts is None:
                    if pts is None:
                        continue
                    dts = pts
                slot = slots.get(packet.stream_index)
                if slot is None:
                    continue
                key = every_packet_is_key or packet.is_keyframe
                if anchored and not adts:
                    ingest(slot, packet, dts, pts, key)  # the common case, kept short
                    continue
                packets = adts[slot].filter(packet) if slot in adts else (packet,)
                for pkt in packets:
                    if not anchored:
                        if slot != default or not key:
                            early.append((slot, pkt, dts, pts, key))
                            continue
                        timeline.anchor(converters[slot].us(dts))
                        anchored = True
                        for held in early:
                            ingest(*held)
                        early.clear()
                    ingest(slot, pkt, dts, pts, key)
        except SourceUnavailable as exc:
            reason = str(exc)
        for ready in interleaver.drain():
            self._emit(ready)
        if dropped:
            log.info("stream dropped: %s", reason)
        self._finish_file(last=not dropped)
        if dropped:
            self.progress.waiting(State.STOPPED, f"{reason}; waiting for it to return")
        return dropped

    def _emit(self, sample: Sample) -> None:
        if sample.key and sample.slot == self._default_slot:
            if self._file is None:
                self._open_file(sample)
            elif self.policy.due(sample.dts, self.clock()):
                self._finish_file(last=False)
                self._open_file(sample)
        elif self._file is None or sample.dts < self._file_start:
            # Before the first keyframe nothing is written; after it, a straggler stamped
            # before this file's first keyframe would start it before 0.
            return
        self._write(sample)

    # --- files -------------------------------------------------------------------------------

    def _values(self, sequence: int, start: datetime) -> MacroValues:
        job = self.job
        return MacroValues(
            transaction_id=job.transaction_id, id=job.id, vhost=job.vhost, app=job.app,
            stream=job.stream, sequence=sequence, zone=self.zone, start=start,
        )

    def _open_file(self, sample: Sample) -> None:
        assert self._selection is not None
        sequence = self.next_sequence
        start = self.clock()
        values = self._values(sequence, start)
        paths = TaskPaths.of(self.root, self.job.file_path, self.job.info_path, values)
        extradata = {slot: f.extradata for slot, f in self._adts.items() if f.extradata}
        with paths.create_temp() as (temp, target):
            writer = FileWriter(
                temp, self.format, self._selection.tracks,
                origin_us=sample.dts if self.discontinuity else 0,
                extradata=extradata, target=target,
            )
        temp_rel = paths.relative(temp)
        self.next_sequence = sequence + 1
        self.recorded_any = True
        self._file = _OpenFile(writer=writer, values=values, temp=temp, start=start)
        self._file_start = sample.dts
        self._write = writer.write
        self._write_packet = writer.write_packet
        self.policy.begin(sample.dts, start)
        info_rel = paths.relative(paths.info)
        log.info("file %d started: %s", sequence, temp_rel)
        self.progress.file_started(sequence, start, temp_rel, info_rel, writer, note=self._note)

    def _finish_file(self, *, last: bool) -> None:
        current = self._file
        if current is None:
            return
        stats = current.writer.close()
        self._file = None  # only now: a full storage leaves it to _wait_for_space
        self._file_start = _NO_FILE
        end = self.clock()
        self._publish(current.values.finished(end), current.temp, stats.size,
                      stats.duration_us // 1000, last=last)

    def _publish(
        self, values: MacroValues, temp: Path, size: int, time_ms: int, *, last: bool
    ) -> None:
        """Renames a finished file to its final name and records it (info XML, status).

        A note announcing the publication is made durable before the rename and removed after
        the listing (see finishing.py): a kill anywhere in between leaves what the next run
        needs to complete it, so a renamed file is never left unlisted for good.
        """
        assert values.end is not None
        paths = TaskPaths.of(self.root, self.job.file_path, self.job.info_path, values)
        pending = finishing.Pending(
            sequence=values.sequence, start=values.start, end=values.end, size=size,
            time_ms=time_ms, last=last, inode=finishing.inode_of(temp),
        )
        note = self.space.retry(lambda: finishing.write(self.root, temp, pending),
                                self._waiting_state())
        final = paths.finish(temp)
        # The rename is on disk before the entry that lists it (which is synced itself).
        finishing.sync_directory(final.parent)
        self._list(paths, values, paths.relative(final), pending)
        finishing.remove(note)

    def _describe(
        self, values: MacroValues, final_rel: str, pending: finishing.Pending
    ) -> tuple[FileRecord, infofile.InfoEntry]:
        """The finished file's status record and info entry."""
        record = FileRecord(
            sequence=values.sequence,
            file_path=final_rel,
            record_bytes=pending.size,
            record_time=pending.time_ms,
            start_time=self.progress.time(pending.start),
            finish_time=self.progress.time(pending.end),
            last_sequence=pending.last,
        )
        job = self.job
        entry = infofile.InfoEntry(
                transaction_id=job.transaction_id, id=job.id, metadata=job.metadata or "",
                vhost=job.vhost, app=job.app, stream=job.stream, file_path=final_rel,
                record_bytes=pending.size, record_time=pending.time_ms,
                sequence=values.sequence, last_sequence=pending.last,
                created_time=job.created_time or record.start_time,
                start_time=record.start_time, finish_time=record.finish_time,
        )
        return record, entry

    def _list(
        self, paths: TaskPaths, values: MacroValues, final_rel: str, pending: finishing.Pending
    ) -> None:
        """Adds the renamed file to the info XML and reports it finished."""
        record, entry = self._describe(values, final_rel, pending)
        self.space.retry(lambda: infofile.append(paths.info, entry), self._waiting_state())
        log.info("file %d finished: %s (%d bytes, %d ms%s)", values.sequence, final_rel,
                 pending.size, pending.time_ms, ", last" if pending.last else "")
        self.progress.file_finished(record, paths.relative(paths.info), pending.end)

    def _complete(self, note: Path) -> bool:
        """Completes the publication a killed recorder announced in ``note``; False when the
        note is incomplete (killed while writing it, so before the rename: the temporary file
        is then recovered like any other).

        Whatever the kill interrupted is done, and nothing twice: the rename if the temporary
        file is still there; else the listing if the info XML lacks the file; else only the
        report, if the totals this run started from do not hold the file.
        """
        temp_name = finishing.temp_of(note.name)
        pending = finishing.read(note)
        if temp_name is None or pending is None:
            finishing.remove(note)
            return False
        temp = note.with_name(temp_name)
        self.recorded_any = True
        self.next_sequence = max(self.next_sequence, pending.sequence + 1)
        values = self._values(pending.sequence, pending.start).finished(pending.end)
        left = left_file(temp)
        if left is not None and left.st_ino == pending.inode:
            log.info("completing file %d, which a previous run was finishing: %s",
                     pending.sequence, self.root.relative(temp))
            self._publish(values, temp, pending.size, pending.time_ms, last=pending.last)
            return True
        paths = TaskPaths.of(self.root, self.job.file_path, self.job.info_path, values)
        with infofile.locked(paths.info):
            listed = [e for e in infofile.read(paths.info)
                      if e.transaction_id == self.job.transaction_id
                      and e.sequence == pending.sequence]
        if listed:
            if pending.sequence not in self.resume.counted:
                record, _ = self._describe(values, listed[0].file_path, pending)
                self.progress.file_finished(record, paths.relative(paths.info), pending.end)
        else:
            final = finishing.find_renamed(paths.file, pending)
            if final is None:
                log.warning("file %d, which a previous run was finishing, is gone: %s",
                            pending.sequence, self.root.relative(temp))
            else:
                log.info("listing file %d, which a previous run renamed but did not list",
                         pending.sequence)
                self._list(paths, values, paths.relative(final), pending)
        finishing.remove(note)
        return True

    def _wait_for_space(self, exc: StorageFull) -> bool:
        """The storage is full: keep the partial file, wait until space returns, then finish it
        as a recovered file. True when recording may go on, False when stopped meanwhile."""
        current = self._file
        self._abort_file()
        resumed = self.space.until_free(exc, self._waiting_state())
        if current is not None:
            try:
                self._recover(Orphan(relative_path=self.root.relative(current.temp),
                                     sequence=current.values.sequence, start=current.start))
            except StorageFull as again:
                log.error("%s: %s stays under its temporary name for a later run to finish",
                          again, current.temp)
        self._recover_unlisted()
        return resumed

    def _abort_file(self) -> None:
        current = self._file
        self._file = None
        self._file_start = _NO_FILE
        if current is not None:
            current.writer.abort()

    def _recover_unlisted(self) -> None:
        """Finishes temporary files of this task that no status mentions (a recorder killed
        while running without reporting), so a new file never reuses their name, and completes
        the publications a killed recorder announced (finishing.py)."""
        provisional = expand(self.job.file_path, self._values(self.next_sequence, self.clock()))
        directory = posixpath.dirname(provisional)
        try:
            folder = self.root.resolve(posixpath.join(directory, "x")).parent
            names = sorted(p.name for p in folder.iterdir())
        except (StorageError, OSError):
            return
        prefix = temp_name(self.job.transaction_id, 0, "").rsplit("_", 1)[0] + "_"

        def mine(name: str) -> str | None:
            """The sequence in a temporary name of this task, or None."""
            if not name.startswith(prefix) or ".recording." not in name:
                return None
            number = name[len(prefix):].split(".", 1)[0]
            return number if number.isdigit() else None

        # Interrupted publications first: their notes hold the real figures of their files.
        for name in names:
            temp = finishing.temp_of(name)
            if temp is not None and mine(temp) is not None:
                self._complete(self.root.resolve(posixpath.join(directory, name)))
        for name in names:
            number = mine(name)
            if number is None:
                continue
            relative = posixpath.join(directory, name)
            path = self.root.resolve(relative)
            left = left_file(path)
            if left is None:
                continue
            end = datetime.fromtimestamp(left.st_mtime, tz=self.zone)
            start = end - timedelta(microseconds=media_duration_us(path))
            self._recover(Orphan(relative_path=relative, sequence=int(number), start=start))
            self.next_sequence = max(self.next_sequence, int(number) + 1)

    def _recover(self, orphan: Orphan) -> None:
        """Finishes a file a killed recorder left behind, so that it gets its name and its info
        entry like any other (it plays: MPEG-TS and fragmented MP4 survive a kill)."""
        if ".recording." not in posixpath.basename(orphan.relative_path):
            return  # the status caught the moment between two files: nothing was left open
        try:
            temp = self.root.resolve(orphan.relative_path)
        except StorageError:
            return
        note = temp.with_name(finishing.note_name(temp.name))
        if os.path.lexists(note) and self._complete(note):
            return
        stat = left_file(temp)
        if stat is None:
            return
        end = datetime.fromtimestamp(stat.st_mtime, tz=self.zone)
        time_ms = max(0, int((end - orphan.start).total_seconds() * 1000))
        values = self._values(orphan.sequence, orphan.start).finished(end)
        log.info("recovering file %d left by a previous run: %s", orphan.sequence,
                 orphan.relative_path)
        self.recorded_any = True
        self._publish(values, temp, stat.st_size, time_ms, last=False)
