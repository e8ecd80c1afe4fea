"""The queue figures Prometheus scrapes come from the journal at scrape time (right after a
restart too): files waiting and the oldest one's age, events waiting and given up."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import generate_latest

from recording_operator.delivery import metrics
from recording_operator.delivery.service import DeliveryService

from .support import SECRET, app_target, fast_settings, finish_file


def test_queue_and_event_figures_are_read_from_the_journal(root: Path, tmp_path: Path) -> None:
    target = app_target(root, upload={"url": "s3://bucket"},
                        events=[{"url": "http://127.0.0.1:9/hook", "secret": SECRET}])

    async def fill() -> Path:
        service = DeliveryService([target], fast_settings(tmp_path / "state"))
        try:
            for seq in (1, 2):
                finish_file(root, "m", seq, age=30)
            await service.scan_once()
            return service.journal.path
        finally:
            await service.close()

    path = asyncio.run(fill())
    metrics.watch_journal(path)
    sample = metrics.REGISTRY.get_sample_value
    assert sample("recording_operator_delivery_queue_files") == 2
    oldest = sample("recording_operator_delivery_oldest_pending_seconds")
    assert oldest is not None and 0 <= oldest < 60, "seconds since it was found, not a date"
    # started + two finished events, none sent yet
    assert sample("recording_operator_delivery_events_pending") == 3
    assert sample("recording_operator_delivery_events_failed") == 0
    assert b"recording_operator_delivery_uploaded_bytes" in generate_latest(metrics.REGISTRY)
