"""The catalogue's routes: signed delivery events in (only with a good signature), the files of
a stream and time range out, with gaps, in the OME envelope, behind the same token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from recording_operator.api.app import create_app
from recording_operator.api.settings import ApiSettings
from recording_operator.delivery import signing
from recording_operator.model.config import parse_config

from .conftest import TOKEN, ServerThread, basic

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
T0 = datetime(2026, 3, 1, 14, 0, tzinfo=UTC)
LIST = "/v1/vhosts/default/apps/app/streams/studio-a/recordings"


class _NoStore:
    """These routes never touch Recordings: the app gets a store that only closes."""

    async def close(self) -> None:
        return None


def _event(sequence: int, kind: str = "file.finished") -> dict[str, Any]:
    start = T0 + timedelta(seconds=20 * sequence + (30 if sequence >= 2 else 0))
    return {"specversion": "1.0", "id": f"ev-{kind}-{sequence}", "source": "/x",
            "type": f"dev.recording-operator.{kind}", "time": T0.isoformat(),
            "data": {"transactionId": "tx1", "id": "rec1", "metadata": "", "vhost": "default",
                     "app": "app", "stream": "studio-a",
                     "filePath": f"app/studio-a/tx1_{sequence}.mp4", "recordBytes": 5,
                     "recordTime": 20000, "sequence": sequence, "lastSequence": False,
                     "createdTime": start.isoformat(), "startTime": start.isoformat(),
                     "finishTime": (start + timedelta(seconds=20)).isoformat(), "size": 5}}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[httpx.Client]:
    config = parse_config({"vhosts": {"default": {"apps": {"app": {
        "source": "rtmp://127.0.0.1/app/{stream}"}}}}})
    settings = ApiSettings(config=config, access_token=TOKEN,
                           catalogue_url=f"sqlite:///{tmp_path / 'catalogue.db'}",
                           catalogue_secret=SECRET)
    app = create_app(settings, store=_NoStore())  # type: ignore[arg-type]
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def _send(client: httpx.Client, event: dict[str, Any], secret: str = SECRET) -> httpx.Response:
    body = json.dumps(event).encode()
    return client.post("/v1/catalogue/events", content=body,
                       headers={**signing.headers(secret, event["id"], body),
                                "content-type": "application/cloudevents+json"})


def test_signed_events_land_and_the_range_lists_files_and_gaps(api: httpx.Client) -> None:
    for sequence in (0, 1, 2, 1):  # a repeat changes nothing
        assert _send(api, _event(sequence)).status_code == 200
    answer = api.get(LIST, params={"start": "2026-03-01T14:00:10Z",
                                   "end": "2026-03-01T14:01:40+00:00"}, headers=basic())
    assert answer.status_code == 200
    body = answer.json()
    assert (body["statusCode"], body["message"]) == (200, "OK")
    files = body["response"]["files"]
    assert [(f["sequence"], f["filePath"], f["local"], f["url"]) for f in files] == [
        (0, "app/studio-a/tx1_0.mp4", True, None), (1, "app/studio-a/tx1_1.mp4", True, None),
        (2, "app/studio-a/tx1_2.mp4", True, None)]
    assert files[0]["startTime"] == "2026-03-01T14:00:00.000+00:00"
    assert files[0]["transactionId"] == "tx1" and files[0]["bytes"] == 5
    assert body["response"]["gaps"] == [
        {"startTime": "2026-03-01T14:00:40.000+00:00", "endTime": "2026-03-01T14:01:10.000+00:00"},
        {"startTime": "2026-03-01T14:01:30.000+00:00", "endTime": "2026-03-01T14:01:40.000+00:00"}]


def test_a_bad_signature_is_refused_and_stores_nothing(api: httpx.Client) -> None:
    assert _send(api, _event(0), secret="whsec_" + "QUJD" * 8).status_code == 401
    unsigned = api.post("/v1/catalogue/events", content=json.dumps(_event(0)))
    assert unsigned.status_code == 401
    answer = api.get(LIST, params={"start": "2026-03-01T13:00:00Z",
                                   "end": "2026-03-01T15:00:00Z"}, headers=basic())
    assert answer.json()["response"]["files"] == []


def test_a_malformed_event_is_a_400_so_nothing_is_stored(api: httpx.Client) -> None:
    event = _event(0)
    event["data"]["startTime"] = "soon"
    answer = _send(api, event)
    assert answer.status_code == 400 and "data.startTime" in answer.json()["message"]


@pytest.mark.parametrize(("params", "named"), [
    ({"end": "2026-03-01T15:00:00Z"}, "start"),
    ({"start": "2026-03-01T14:00:00", "end": "2026-03-01T15:00:00Z"}, "start"),
    ({"start": "2026-03-01T14:00:00Z", "end": "tomorrow"}, "end"),
    ({"start": "2026-03-01T15:00:00Z", "end": "2026-03-01T14:00:00Z"}, "end"),
])
def test_bad_times_are_a_400_naming_the_parameter(api: httpx.Client, params: dict[str, str],
                                                  named: str) -> None:
    answer = api.get(LIST, params=params, headers=basic())
    assert answer.status_code == 400 and named in answer.json()["message"]


def test_unknown_app_is_a_404_and_the_token_is_needed(api: httpx.Client) -> None:
    params = {"start": "2026-03-01T14:00:00Z", "end": "2026-03-01T15:00:00Z"}
    answer = api.get("/v1/vhosts/default/apps/nope/streams/s/recordings", params=params,
                     headers=basic())
    assert answer.status_code == 404
    assert "nope" in answer.json()["message"]
    assert api.get(LIST, params=params).status_code == 401


def test_the_route_is_in_the_openapi_document(api: httpx.Client) -> None:
    document = api.get("/openapi.json", headers=basic()).json()
    operation = document["paths"][LIST.replace("studio-a", "{stream}").replace(
        "default", "{vhost}").replace("/app/", "/{app}/")]["get"]
    assert operation["operationId"] == "VHostAppStreamRecordingsGet"
    assert {p["name"] for p in operation["parameters"]} >= {"start", "end"}
