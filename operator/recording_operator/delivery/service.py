"""The delivery process's loop: find finished files, upload them oldest first, tell receivers,
apply retention, and show it all on the Recordings.

Concurrent tasks over one journal: a scanner (info XML files), one uploader per app with an
``upload`` block (so one app's broken store does not hold up another's), the event sender, the
retention sweeper and the Kubernetes window. Each step's outcome is committed to the journal
before the next step starts, which is what makes a SIGKILL at any moment harmless: on restart
a pending file is uploaded again to the same key (a killed multipart upload is aborted first),
a confirmed file still on the volume is removed, and unsent events are sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..model.timefmt import now as utc_now
from ..model.timefmt import parse_time
from ..recorder.errors import StorageError
from ..recorder.infofile import InfoEntry
from ..recorder.paths import StorageRoot
from ..timeouts import wait_event
from . import events as ev
from . import metrics
from .backoff import delay
from .journal import (
    LOCAL,
    LOST,
    PENDING,
    UPLOADED,
    FileRow,
    Journal,
    OutboxRow,
    is_disk_full,
)
from .objectstore import DEFAULT_PART_SIZE, Credentials, ObjectStore, StoreError
from .recordings import Recordings
from .retention import choose
from .scan import InfoFile, InfoScanner
from .targets import AppTarget
from .webhooks import WebhookSender

log = logging.getLogger(__name__)

#: Reasons that mean "fix the configuration": the cached client is dropped so that a corrected
#: Secret is read again on the next attempt.
_CONFIG_REASONS = {"CredentialsRefused", "NoCredentials", "SecretUnavailable", "BucketMissing"}
_KUBE_REASONS = {
    ev.RECORDING_STARTED: "RecordingStarted", ev.FILE_FINISHED: "FileFinished",
    ev.FILE_UPLOADED: "FileUploaded", ev.FILE_DELETED: "FileDeleted",
    ev.RECORDING_STOPPED: "RecordingStopped", ev.RECORDING_FAILED: "RecordingFailed",
}


@dataclass(frozen=True)
class Receiver:
    """A receiver for every app's events (the embedded mode's extra subscriber)."""

    url: str
    secret: str


@dataclass
class DeliverySettings:
    state_dir: Path
    #: How often the info XML files are looked at: half of it is the mean delay from a file
    #: finishing to its upload starting and its event going out.
    poll_interval: float = 0.5
    upload_first_delay: float = 1.0
    upload_max_delay: float = 30.0
    event_retry_for: float = 24 * 3600.0
    event_first_delay: float = 1.0
    event_max_delay: float = 300.0
    retention_interval: float = 10.0
    kube_interval: float = 2.0
    part_size: int = DEFAULT_PART_SIZE
    #: How long a sent (or given up) file event stays in the journal.
    keep_sent_events: float = 30 * 24 * 3600.0
    extra_receivers: tuple[Receiver, ...] = ()


@dataclass
class _Note:
    """Something to show on a Recording (a Kubernetes Event and/or a fresh status)."""

    namespace: str
    vhost: str
    app: str
    record_id: str
    reason: str | None = None
    message: str = ""
    warning: bool = False


class DeliveryService:
    def __init__(self, targets: list[AppTarget], settings: DeliverySettings,
                 recordings: Recordings | None = None) -> None:
        # An extra receiver (e.g. a catalogue) hears about every app's files, with or without
        # a delivery block of its own.
        self.targets = {t.name: t for t in targets if t.active or settings.extra_receivers}
        self.settings = settings
        self.recordings = recordings
        self.journal = Journal(settings.state_dir / "journal.db")
        self._scanners = {root: InfoScanner(root)
                          for root in sorted({t.root for t in self.targets.values()})}
        self._known = {str(root): self.journal.known(str(root)) for root in self._scanners}
        self._wake_upload = {name: asyncio.Event() for name in self.targets}
        self._wake_events = asyncio.Event()
        self._dirty_infos: dict[tuple[str, str], InfoFile] = {}
        self._stores: dict[str, ObjectStore] = {}
        self._secrets: dict[tuple[str, str, str], tuple[float, str]] = {}
        self._notes: list[_Note] = []
        self._dirty_status: set[tuple[str, str, str, str]] = set()
        self._failure_shown: dict[int, str] = {}
        self._conditions: dict[tuple[str, str, str], dict[str, str]] = {}
        #: Files this process found and has not tried yet (no killed attempt can precede them).
        self._fresh: set[int] = set()
        self._pruned = float("-inf")
        self.sender = WebhookSender(
            self.journal, self._receiver_secret, retry_for=settings.event_retry_for,
            first_delay=settings.event_first_delay, max_delay=settings.event_max_delay,
            on_result=self._event_result)

    # -- the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self._finish_interrupted_deletes()
        for target in self.targets.values():
            if target.config.upload:  # make the client now (its S3 model loads in ~1 s)
                with contextlib.suppress(StoreError):
                    await self._store(target)
        log.info("ready: delivering for %s", ", ".join(sorted(self.targets)) or "no app")
        loops = [self._every(self.settings.poll_interval, self.scan_once),
                 self._event_loop(),
                 self._every(self.settings.retention_interval, self.retention_once)]
        loops += [self._upload_loop(t) for t in self.targets.values() if t.config.upload]
        if self.recordings is not None:
            loops.append(self._every(self.settings.kube_interval, self.kube_once))
        tasks = [asyncio.create_task(loop) for loop in loops]
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            for task in [stopper, *tasks]:
                task.cancel()
            await asyncio.gather(stopper, *tasks, return_exceptions=True)
            if self.recordings is not None:
                with contextlib.suppress(Exception):
                    await self.kube_once()
            await self.close()

    async def close(self) -> None:
        await self.sender.close()
        for store in self._stores.values():
            with contextlib.suppress(Exception):
                await store.__aexit__(None, None, None)
        self._stores.clear()
        self.journal.close()

    async def _every(self, interval: float, step: Any) -> None:
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._volume_full(exc):
                    log.exception("delivery step %s failed; trying again", step.__name__)
            await asyncio.sleep(interval)

    def _volume_full(self, exc: BaseException) -> bool:
        """On a full volume, gives the journal's reserve back so that the next try can record
        the uploads and deletes that free it; True when that was the failure."""
        if not is_disk_full(exc):
            return False
        released = self.journal.release_reserve()
        log.error("the recordings volume is full (%s)%s", exc,
                  "; released the journal's reserve to keep delivering" if released else "")
        return True

    # -- finding finished files -------------------------------------------------------------

    async def scan_once(self) -> None:
        for scanner in self._scanners.values():
            for info in await asyncio.to_thread(scanner.changed):
                try:
                    self._register(info)
                except Exception:
                    scanner.forget(info.rel)
                    raise
        metrics.SCANS.inc()

    def _receivers(self, target: AppTarget) -> list[str]:
        urls = [r.url for r in target.config.events]
        urls += [r.url for r in self.settings.extra_receivers if r.url not in urls]
        return urls

    def _register(self, info: InfoFile) -> None:
        root = str(info.root)
        known = self._known.setdefault(root, set())
        for entry in sorted(info.entries, key=lambda e: (e.transaction_id, e.sequence)):
            target = self.targets.get(f"{entry.vhost}/{entry.app}")
            if target is None or target.root != info.root:
                continue
            if target.config.upload:
                self._dirty_infos[(root, info.rel)] = info
            if entry.file_path in known:
                continue
            try:
                path = StorageRoot(info.root).resolve(entry.file_path)
                stat = path.stat()
            except (StorageError, OSError) as exc:
                log.warning("%s lists %s, which cannot be delivered: %s", info.rel,
                            entry.file_path, exc)
                known.add(entry.file_path)
                continue
            receivers = self._receivers(target)
            events: list[ev.Event] = []
            started = self._started(entry)
            if not self.journal.has_event(started.id):
                events.append(started)
            events.append(ev.file_event(ev.FILE_FINISHED, entry, stat.st_size,
                                        _time(entry.finish_time)))
            if entry.last_sequence:
                events.append(ev.recording_event(
                    ev.RECORDING_STOPPED, vhost=entry.vhost, app=entry.app,
                    record_id=entry.id, transaction_id=entry.transaction_id,
                    stream=entry.stream, time=_time(entry.finish_time)))
            state = PENDING if target.config.upload else LOCAL
            added = self.journal.add_file(root, entry, stat.st_size, stat.st_mtime, state,
                                          [(e, target.name, receivers) for e in events])
            known.add(entry.file_path)
            if added is not None:
                self._fresh.add(added)
                self._announce(target, entry, events)
                self._wake_upload.get(target.name, asyncio.Event()).set()

    @staticmethod
    def _started(entry: InfoEntry) -> ev.Event:
        return ev.recording_event(ev.RECORDING_STARTED, vhost=entry.vhost, app=entry.app,
                                  record_id=entry.id, transaction_id=entry.transaction_id,
                                  stream=entry.stream, time=_time(entry.created_time))

    def _announce(self, target: AppTarget, entry: InfoEntry, events: list[ev.Event]) -> None:
        self._wake_events.set()
        for event in events:
            about = entry.file_path if event.type.startswith(ev.PREFIX + "file.") else entry.id
            self._notes.append(_Note(target.namespace, entry.vhost, entry.app, entry.id,
                                     _KUBE_REASONS[event.type], f"{about}: {event.type}"))

    # -- uploading --------------------------------------------------------------------------

    def _finish_interrupted_deletes(self) -> None:
        """A process killed between the store's confirmation and the local delete."""
        for row in self.journal.uploaded_still_local():
            target = self.targets.get(f"{row.vhost}/{row.app}")
            if target is None or not target.config.upload or not target.config.upload.delete_local:
                continue
            self._remove_local(row)

    def _remove_local(self, row: FileRow, events: list[ev.Event] | None = None,
                      target: AppTarget | None = None) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(row.path)
        extra = [(e, target.name, self._receivers(target)) for e in events or []] if target else []
        self.journal.local_removed(row.id, extra)

    async def _store(self, target: AppTarget) -> ObjectStore:
        store = self._stores.get(target.name)
        if store is None:
            upload = target.config.upload
            assert upload is not None
            credentials = None
            if upload.secret_name:
                try:
                    credentials = Credentials(
                        await self._secret(target.namespace, upload.secret_name, "accessKeyId"),
                        await self._secret(target.namespace, upload.secret_name,
                                           "secretAccessKey"))
                except LookupError as exc:
                    raise StoreError("SecretUnavailable", str(exc)) from exc
            store = await ObjectStore(upload, credentials,
                                      part_size=self.settings.part_size).__aenter__()
            self._stores[target.name] = store
        return store

    async def _drop_store(self, target: AppTarget) -> None:
        store = self._stores.pop(target.name, None)
        if store is not None:
            with contextlib.suppress(Exception):
                await store.__aexit__(None, None, None)
        self._secrets.clear()

    async def _upload_loop(self, target: AppTarget) -> None:
        wake = self._wake_upload[target.name]
        while True:
            try:
                wait = await self.upload_once(target)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._volume_full(exc):
                    wait = self.settings.upload_first_delay
                else:
                    log.exception("uploading for %s failed; trying again", target.name)
                    wait = self.settings.upload_max_delay
            if wait is None:
                continue
            wake.clear()
            await wait_event(wake, wait)

    async def upload_once(self, target: AppTarget) -> float | None:
        """Uploads the app's oldest pending file; returns how long to wait before the next
        try (None: go on at once)."""
        upload = target.config.upload
        assert upload is not None
        row = self.journal.pending(target.vhost, target.app)
        if row is None:
            await self._upload_infos(target)
            return self.settings.poll_interval
        entry = row.entry
        metadata = {"task-id": entry.id, "transaction-id": entry.transaction_id,
                    "sequence": str(entry.sequence)}
        try:
            store = await self._store(target)
            # A first attempt by this process of a file found pending at start may still follow
            # a killed one: only a file this process found itself and never tried is fresh.
            result = await store.put_file(row.path, upload.key(row.rel), metadata,
                                          retry=row.attempts > 0 or row.id not in self._fresh)
        except FileNotFoundError:
            reason = "the file was removed from the volume before the store had it"
            log.error("%s: %s", row.rel, reason)
            self.journal.lost(row.id, f"FileGone: {reason}")
            self._notes.append(_Note(target.namespace, entry.vhost, entry.app, entry.id,
                                     "DeliveryLost", f"{row.rel}: {reason}", warning=True))
            return None
        except StoreError as exc:
            return await self._upload_failed(target, row, exc)
        events = [ev.file_event(ev.FILE_UPLOADED, entry, result.size, utc_now(),
                                {"url": result.url, "etag": result.etag,
                                 "checksum": result.checksum})]
        self.journal.uploaded(row.id, result.url, result.etag, result.checksum,
                              [(e, target.name, self._receivers(target)) for e in events])
        metrics.UPLOADED_FILES.labels(target.name).inc()
        metrics.UPLOADED_BYTES.labels(target.name).inc(result.size)
        self._failure_shown.pop(row.id, None)
        self._fresh.discard(row.id)
        self._announce(target, entry, events)
        log.info("uploaded %s to %s (%d bytes)", row.rel, result.url, result.size)
        if upload.delete_local:
            self._remove_local(row)
        return None

    async def _upload_failed(self, target: AppTarget, row: FileRow, exc: StoreError) -> float:
        entry = row.entry
        self.journal.failed_attempt(row.id, f"{exc.reason}: {exc}")
        metrics.UPLOAD_FAILURES.labels(target.name, exc.reason).inc()
        wait = delay(row.attempts + 1, self.settings.upload_first_delay,
                     self.settings.upload_max_delay)
        log.warning("upload of %s failed (%s): %s; retry in %.0fs", row.rel, exc.reason, exc,
                    wait)
        if self._failure_shown.get(row.id) != exc.reason:
            self._failure_shown[row.id] = exc.reason
            self._notes.append(_Note(target.namespace, entry.vhost, entry.app, entry.id,
                                     "UploadFailed", f"{row.rel}: {exc}", warning=True))
        else:
            self._dirty_status.add((target.namespace, entry.vhost, entry.app, entry.id))
        if exc.reason in _CONFIG_REASONS or exc.reason == "StoreUnreachable":
            await self._drop_store(target)
        return wait

    async def _upload_infos(self, target: AppTarget) -> None:
        """Info XML files of this app that changed since their last upload (after the media
        files they list, so the bucket's info XML never names a file it does not hold)."""
        upload = target.config.upload
        assert upload is not None
        for (root, rel), info in list(self._dirty_infos.items()):
            first = info.entries[0] if info.entries else None
            if first is None or f"{first.vhost}/{first.app}" != target.name:
                continue
            path = info.root / rel
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                self._dirty_infos.pop((root, rel), None)
                continue
            if self.journal.info_uploaded_sha256(root, rel) != digest:
                try:
                    store = await self._store(target)
                    await store.put_file(path, upload.key(rel), {
                        "task-id": first.id, "transaction-id": first.transaction_id})
                except StoreError as exc:  # kept dirty: tried again with the next file
                    metrics.UPLOAD_FAILURES.labels(target.name, exc.reason).inc()
                    log.warning("upload of %s failed (%s): %s", rel, exc.reason, exc)
                    return
                self.journal.info_uploaded(root, rel, digest)
            if self._dirty_infos.get((root, rel)) is info:
                del self._dirty_infos[(root, rel)]

    # -- events -----------------------------------------------------------------------------

    async def _event_loop(self) -> None:
        while True:
            try:
                next_at = await self.sender.send_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._volume_full(exc):
                    log.exception("sending events failed; trying again")
                next_at = time.time() + self.settings.event_first_delay
            wait = self.settings.poll_interval if next_at is None else max(
                0.0, next_at - time.time())
            self._wake_events.clear()
            await wait_event(self._wake_events, wait)

    def _event_result(self, row: OutboxRow, ok: bool, error: str | None) -> None:
        if ok:
            metrics.EVENTS_SENT.labels(row.kind).inc()
        else:
            metrics.EVENT_FAILURES.labels(row.kind).inc()

    async def _receiver_secret(self, target_name: str, url: str) -> str:
        for extra in self.settings.extra_receivers:
            if extra.url == url:
                return extra.secret
        target = self.targets.get(target_name)
        if target is None:
            raise LookupError(f"the app {target_name} is no longer configured")
        for receiver in target.config.events:
            if receiver.url == url:
                if receiver.secret is not None:
                    return receiver.secret
                assert receiver.secret_name is not None
                return await self._secret(target.namespace, receiver.secret_name, "secret")
        raise LookupError(f"{url} is no longer a receiver of {target_name}")

    async def _secret(self, namespace: str, name: str, key: str) -> str:
        cached = self._secrets.get((namespace, name, key))
        if cached is not None and time.monotonic() - cached[0] < 60:
            return cached[1]
        if self.recordings is None:
            raise LookupError(f"Secret {namespace}/{name} cannot be read without the "
                              "Kubernetes API")
        value = await self.recordings.secret(namespace, name, key)
        self._secrets[(namespace, name, key)] = (time.monotonic(), value)
        return value

    # -- retention --------------------------------------------------------------------------

    async def retention_once(self) -> None:
        for target in self.targets.values():
            policy = target.config.retention
            if policy is None:
                continue
            for decision in choose(self.journal.kept_local(target.vhost, target.app), policy):
                row = decision.row
                events = [ev.file_event(ev.FILE_DELETED, row.entry, row.size, utc_now())]
                self._remove_local(row, events, target)
                metrics.RETENTION_DELETED.labels(target.name).inc()
                log.info("retention removed %s (%s)", row.rel, decision.why)
                self._announce(target, row.entry, events)
        self.journal.keep_reserve()
        if time.monotonic() - self._pruned > 3600:
            self.journal.prune_events(time.time() - self.settings.keep_sent_events)
            self._pruned = time.monotonic()
        metrics.RETENTION_SWEEPS.inc()

    # -- Kubernetes -------------------------------------------------------------------------

    async def kube_once(self) -> None:
        assert self.recordings is not None
        await self._transitions()
        notes, self._notes = self._notes, []
        for note in notes:
            self._dirty_status.add((note.namespace, note.vhost, note.app, note.record_id))
            if note.reason:
                await self.recordings.post_event(note.namespace, note.vhost, note.app,
                                                 note.record_id, note.reason, note.message,
                                                 warning=note.warning)
        dirty, self._dirty_status = self._dirty_status, set()
        for namespace, vhost, app, record_id in sorted(dirty):
            try:
                await self.recordings.patch_delivery(namespace, vhost, app, record_id,
                                                     self.delivery_status(vhost, app, record_id))
            except Exception as exc:
                log.warning("cannot write the delivery status: %s", exc)
                self._dirty_status.add((namespace, vhost, app, record_id))

    async def _transitions(self) -> None:
        assert self.recordings is not None
        for namespace in sorted({t.namespace for t in self.targets.values()}):
            try:
                found = await self.recordings.transitions(namespace)
            except Exception as exc:
                log.warning("%s", exc)
                continue
            for item in found:
                target = self.targets.get(f"{item.vhost}/{item.app}")
                if target is None or target.namespace != namespace:
                    continue
                events = []
                common = {"vhost": item.vhost, "app": item.app, "record_id": item.record_id,
                          "transaction_id": item.transaction_id, "stream": item.stream}
                if item.state in ("recording", "stopping", "stopped") and item.started:
                    events.append(ev.recording_event(ev.RECORDING_STARTED, time=utc_now(),
                                                     **common))
                if item.state == "error":
                    events.append(ev.recording_event(ev.RECORDING_FAILED, time=utc_now(),
                                                     reason=item.message or "error", **common))
                fresh = [e for e in events if not self.journal.has_event(e.id)]
                if not fresh:
                    continue
                self.journal.enqueue([(e, target.name, self._receivers(target)) for e in fresh])
                self._wake_events.set()
                for event in fresh:
                    self._notes.append(_Note(namespace, item.vhost, item.app, item.record_id,
                                             _KUBE_REASONS[event.type],
                                             f"{item.record_id}: {event.type}",
                                             warning=event.type == ev.RECORDING_FAILED))

    def delivery_status(self, vhost: str, app: str, record_id: str) -> dict[str, Any]:
        """``status.delivery`` of one Recording: counts, its newest files, one condition."""
        counts = self.journal.counts_of(vhost, app, record_id)
        files = self.journal.files_of(vhost, app, record_id)
        shown = []
        failing: FileRow | None = None
        for row in files:
            state = {PENDING: "pending", UPLOADED: "uploaded", LOCAL: "kept",
                     LOST: "lost"}[row.state]
            item: dict[str, Any] = {"filePath": row.rel, "sequence": row.entry.sequence}
            if row.state == PENDING and row.reason:
                state, failing = "failed", row
            if row.reason and row.state in (PENDING, LOST):
                item["reason"] = row.reason
            if row.url:
                item["url"] = row.url
            item["state"] = state
            shown.append(item)
        pending, uploaded = counts.get(PENDING, 0), counts.get(UPLOADED, 0)
        total = sum(counts.values())
        summary = f"{uploaded}/{total} uploaded" if total > counts.get(LOCAL, 0) else (
            f"{total} kept")
        now = utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")
        condition: dict[str, str]
        if failing is not None and failing.reason:
            word, _, text = failing.reason.partition(": ")
            condition = {"type": "Uploaded", "status": "False", "reason": word,
                         "message": text, "lastTransitionTime": now}
            summary += f", {word}"
        elif pending:
            condition = {"type": "Uploaded", "status": "False", "reason": "Pending",
                         "message": f"{pending} file(s) waiting for the store",
                         "lastTransitionTime": now}
        else:
            condition = {"type": "Uploaded", "status": "True", "reason": "AllConfirmed",
                         "message": "every finished file is in the store or kept as configured",
                         "lastTransitionTime": now}
        # lastTransitionTime moves only when the status or the reason changes.
        key = (vhost, app, record_id)
        before = self._conditions.get(key)
        if before and (before["status"], before["reason"]) == (condition["status"],
                                                               condition["reason"]):
            condition["lastTransitionTime"] = before["lastTransitionTime"]
        self._conditions[key] = condition
        return {"pending": pending, "uploaded": uploaded, "failed": counts.get(LOST, 0),
                "kept": counts.get(LOCAL, 0), "summary": summary, "files": shown,
                "conditions": [condition]}


def _time(text: str) -> datetime:
    try:
        return parse_time(text)
    except (ValueError, TypeError):
        return utc_now()
