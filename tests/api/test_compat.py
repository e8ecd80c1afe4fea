"""Existing OvenMediaEngine clients: requests byte for byte as in the seed's examples and shaped
as OME's OpenAPI description says are accepted, and curl works as the seed shows."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import pytest

from .conftest import TOKEN, Api
from .support import SEED_INTERVAL, SEED_SCHEDULE, SEED_SINGLE_FILE, SEED_STOP

pytestmark = pytest.mark.controlplane

JSON_HEADERS = {"Content-Type": "application/json"}


def test_seed_single_file_example(api: Api) -> None:
    answer = api.call("startRecord", content=SEED_SINGLE_FILE, headers=JSON_HEADERS)
    assert answer.status_code == 200, answer.text
    task = answer.json()["response"]
    assert task["id"] == "{unique_record_id}"
    assert task["state"] == "ready"
    assert task["stream"] == {"name": "{output_stream_name}", "trackIds": [], "variantNames": []}
    assert task["segmentationRule"] == "discontinuity"


def test_seed_interval_example_answers_like_the_seed(api: Api) -> None:
    answer = api.call("startRecord", content=SEED_INTERVAL.replace(b"{unique_record_id}", b"2")
                      .replace(b"{output_stream_name}", b"stream"))
    task = answer.json()["response"]
    created = task.pop("createdTime")
    # the seed's example answer, minus its createdTime value and plus isConfig (always present)
    assert task == {
        "id": "2", "state": "ready", "isConfig": False, "vhost": "default", "app": "app",
        "stream": {"name": "stream", "trackIds": [], "variantNames": []},
        "interval": 60000, "segmentationRule": "discontinuity",
    }
    assert created


def test_seed_schedule_example_is_refused_as_json(api: Api) -> None:
    answer = api.call("startRecord", content=SEED_SCHEDULE)
    assert answer.status_code == 400
    assert answer.json() == {
        "statusCode": 400,
        "message": "[HTTP] [JSON] Expecting ',' delimiter at line 7 column 3 (400)",
    }
    assert api.recordings() == []


def test_seed_schedule_example_with_its_comma_is_accepted(api: Api) -> None:
    fixed = SEED_SCHEDULE.replace(b'"0 */1 *"\n', b'"0 */1 *",\n')
    task = api.call("startRecord", content=fixed).json()["response"]
    assert (task["schedule"], task["segmentationRule"]) == ("0 */1 *", "continuity")


def test_seed_stop_and_records_examples(api: Api) -> None:
    api.call("startRecord", content=SEED_SINGLE_FILE)
    records = api.call("records", content=SEED_STOP).json()
    assert [t["id"] for t in records["response"]] == ["{unique_record_id}"]
    stop = api.call("stopRecord", content=SEED_STOP).json()
    assert (stop["statusCode"], stop["message"]) == (200, "OK")
    assert api.call("records", content=SEED_STOP).json()["response"] == []


def test_ome_openapi_shapes(api: Api) -> None:
    """StreamRecord as ome-openapi.yml describes it: every property, ``tracks`` for the ids."""
    body = {
        "id": "ome", "stream": {"name": "s", "variantNames": [], "tracks": [1]},
        "interval": 30000, "filePath": "${Id}/${Sequence}.ts", "infoPath": "${Id}/info.xml",
        "metadata": "from OME tooling", "segmentationRule": "continuity",
    }
    task = api.call("startRecord", body).json()["response"]
    assert task["stream"]["trackIds"] == [1]
    for key in ("interval", "filePath", "infoPath", "metadata", "segmentationRule"):
        assert task[key] == body[key]
    assert api.call("records", {"id": "ome"}).json()["response"][0]["id"] == "ome"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_as_a_new_user_would(api: Api) -> None:
    auth = base64.b64encode(TOKEN.encode()).decode()
    url = f"{api.url}/v1/vhosts/default/apps/app:startRecord"
    result = subprocess.run(
        ["curl", "-sS", "-X", "POST", "-H", f"Authorization: Basic {auth}",
         "-H", "Content-Type: application/json", "--data-binary", SEED_INTERVAL.decode(),
         "-w", "\n%{http_code}", url],
        capture_output=True, text=True, timeout=30, check=True,
    )
    body, _, code = result.stdout.rpartition("\n")
    assert code == "200"
    assert json.loads(body)["response"]["interval"] == 60000
    result = subprocess.run(
        ["curl", "-sS", "-i", "-X", "POST", url.replace("startRecord", "records")],
        capture_output=True, text=True, timeout=30, check=True,
    )
    assert "401" in result.stdout.splitlines()[0]
    assert 'WWW-Authenticate: Basic realm="OvenMediaEngine"' in result.stdout.replace(
        "www-authenticate", "WWW-Authenticate")
