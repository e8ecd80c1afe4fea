"""status.delivery as the service computes it from its journal: the counts, the newest files'
states with the reason of a failing one, and the Uploaded condition (whose time moves only on a
change)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from recording_operator.delivery import events as ev
from recording_operator.delivery.service import DeliveryService

from .support import app_target, fast_settings, finish_file


def test_counts_files_and_condition(root: Path, tmp_path: Path) -> None:
    async def scenario() -> list[dict[str, object]]:
        service = DeliveryService([app_target(root, upload={"url": "s3://bucket"})],
                                  fast_settings(tmp_path / "state"))
        try:
            finish_file(root, "tx", 1, record_id="rec")
            finish_file(root, "tx", 2, record_id="rec", last=True)
            await service.scan_once()
            seen = [service.delivery_status("default", "app", "rec")]
            row = service.journal.pending("default", "app")
            assert row is not None
            service.journal.failed_attempt(row.id, "CredentialsRefused: the store refused")
            seen.append(service.delivery_status("default", "app", "rec"))
            seen.append(service.delivery_status("default", "app", "rec"))
            service.journal.uploaded(row.id, "s3://bucket/x", "etag", "sha256:00", [])
            seen.append(service.delivery_status("default", "app", "rec"))
            return seen
        finally:
            await service.close()

    pending, failing, again, one_up = asyncio.run(scenario())
    assert pending["summary"] == "0/2 uploaded"
    assert pending["conditions"][0]["reason"] == "Pending"  # type: ignore[index]
    assert failing["summary"] == "0/2 uploaded, CredentialsRefused"
    files = failing["files"]
    assert [f["state"] for f in files] == ["failed", "pending"]  # type: ignore[attr-defined]
    assert files[0]["reason"] == "CredentialsRefused: the store refused"  # type: ignore[index]
    condition = failing["conditions"][0]  # type: ignore[index]
    assert (condition["status"], condition["reason"]) == ("False", "CredentialsRefused")
    assert again["conditions"][0] == condition, "no transition, same time"  # type: ignore[index]
    assert one_up["summary"] == "1/2 uploaded" and one_up["uploaded"] == 1
    assert one_up["files"][0]["url"] == "s3://bucket/x"  # type: ignore[index]



def test_sent_file_events_are_forgotten_after_a_while_recording_events_stay(
        root: Path, tmp_path: Path) -> None:
    started = ev.recording_event(ev.RECORDING_STARTED, vhost="default", app="app",
                                 record_id="rec", transaction_id="old", stream="stream",
                                 time=datetime.now(UTC))

    async def scenario() -> tuple[int, int, bool]:
        service = DeliveryService(
            [app_target(root, events=[{"url": "http://127.0.0.1:9/", "secret": "s"}])],
            fast_settings(tmp_path / "state"))
        try:
            finish_file(root, "old", 1, last=True)
            await service.scan_once()
            for _ in range(3):  # started, finished, stopped: one line, its head each time
                [row] = service.journal.due_events(float("inf"))
                service.journal.delivered(row.seq)
            young = service.journal.prune_events(older_than=0.0)
            old = service.journal.prune_events(older_than=float("inf"))
            return young, old, service.journal.has_event(started.id)
        finally:
            await service.close()

    young, old, still_known = asyncio.run(scenario())
    assert young == 0, "nothing younger than the limit goes"
    assert old == 1, "the file event (finished) goes"
    assert still_known, "the transaction's started event stays known"
