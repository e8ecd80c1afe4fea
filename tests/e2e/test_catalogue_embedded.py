"""The embedded mode's catalogue: every finished file of a recording shows up in the recordings
API (through the delivery's signed events, with no upload configured), in order, with the
paths the info XML lists; and it is still there after the API and the delivery are killed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from recording_operator.local.publisher import Publisher
from recording_operator.local.stack import EmbeddedStack
from tests.recorder.checks import read_info
from tests.waiting import wait_for

from .conftest import Api
from .support import info_file, stop_and_wait_gone

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def listing(api: Api, stream: str) -> dict[str, Any] | None:
    now = datetime.now(UTC)
    try:
        answer = api.client.get(
            f"/vhosts/default/apps/app/streams/{stream}/recordings",
            params={"start": (now - timedelta(hours=1)).isoformat(),
                    "end": (now + timedelta(minutes=1)).isoformat()})
    except httpx.TransportError:  # the API restarting
        return None
    if answer.status_code != 200:
        return None
    body: dict[str, Any] = answer.json()["response"]
    return body


def test_finished_files_reach_the_catalogue_and_survive_restarts(
    api: Api, stack: EmbeddedStack, stream: str, publish: Callable[[str], Publisher]
) -> None:
    publish(stream)
    rid = f"catalogue-{stream}"
    api.start(id=rid, stream={"name": stream}, interval=3000)
    wait_for(lambda: (api.task(rid) or {}).get("sequence", 0) >= 2, 60, "three files")
    stop_and_wait_gone(api, rid)
    entries = read_info(info_file(stack.recordings_dir, stream))

    def all_listed() -> dict[str, Any] | None:
        body = listing(api, stream)
        return body if body and len(body["files"]) == len(entries) else None

    body = wait_for(all_listed, 60, "every finished file in the catalogue")
    files = body["files"]
    assert [f["filePath"] for f in files] == [e["filePath"] for e in entries]
    assert [f["sequence"] for f in files] == list(range(len(entries)))
    assert all(f["local"] is True and f["url"] is None and f["bytes"] > 0 for f in files)
    assert [f["startTime"] for f in files] == sorted(f["startTime"] for f in files)
    assert len(body["gaps"]) >= 1  # before the recording began, at least

    stack.restart("api")
    stack.restart("delivery")
    after = wait_for(lambda: listing(api, stream), 30, "the API back")
    assert after["files"] == files
