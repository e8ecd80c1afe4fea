"""Publish notifications against the real API app and the local control plane, under the API's
own ServiceAccount: each media server's exact payload starts and ends StreamMap rule tasks,
wakes waiting tasks, and a wrong token changes nothing. No operator runs here, so a deleted
Recording goes at once (the end-to-end tests cover the recorder finishing its file)."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recording_operator.api.app import create_app
from recording_operator.api.settings import ApiSettings
from recording_operator.kube.target import KubeTarget
from recording_operator.local.controlplane import ControlPlane
from recording_operator.model.config import parse_config
from recording_operator.model.resource import ANNOTATION_PUBLISHED, LABEL_RULE
from tests.waiting import wait_for

from .conftest import TOKEN, Api, ServerThread, basic
from .support import nginx_form, ome_webhook, plain, srs_hook

SOURCE = "rtmp://127.0.0.1:1935/{app}/{stream}"
RULES = [
    {"streamName": "auto*", "filePath": "${Stream}/${Sequence}.ts"},
    {"streamName": "auto-hd*", "interval": 60000, "metadata": "hd"},
]


#: dialect → (path, publish body, unpublish body, content type, expected answer)
Body = Callable[[str, str], bytes]
DIALECTS: dict[str, tuple[str, Body, Body, str, Callable[[httpx.Response], bool]]] = {
    "nginx-rtmp": ("/v1/notify/nginx-rtmp",
                   lambda a, s: nginx_form("publish", a, s),
                   lambda a, s: nginx_form("publish_done", a, s),
                   "application/x-www-form-urlencoded", lambda r: r.status_code == 200),
    "ovenmediaengine": ("/v1/notify/ovenmediaengine",
                        lambda a, s: ome_webhook("opening", a, s),
                        lambda a, s: ome_webhook("closing", a, s),
                        "application/json",
                        lambda r: r.status_code == 200 and r.json()["allowed"] is True),
    "srs": ("/v1/notify/srs", lambda a, s: srs_hook("on_publish", a, s),
            lambda a, s: srs_hook("on_unpublish", a, s), "application/json",
            lambda r: r.status_code == 200 and r.json() == 0),
    "plain": ("/v1/notify", lambda a, s: plain("publish", a, s),
              lambda a, s: plain("unpublish", a, s), "application/json",
              lambda r: r.status_code == 200 and r.json()["statusCode"] == 200),
}


class Notifier:
    def __init__(self, api: Api) -> None:
        self.api = api

    def send(self, dialect: str, event: str, stream: str, *, app: str = "app",
             query: str = "", auth: bool = True) -> httpx.Response:
        path, publish, unpublish, content_type, _ = DIALECTS[dialect]
        body = (publish if event == "publish" else unpublish)(app, stream)
        headers = {"Content-Type": content_type, **(basic() if auth else {})}
        return self.api.client.post(path + query, content=body, headers=headers)

    def rule_tasks(self, stream: str) -> list[dict[str, Any]]:
        return [t for t in self.api.records() if t["stream"]["name"] == stream and t["isConfig"]]

    def wait_tasks(self, stream: str, count: int) -> list[dict[str, Any]]:
        found: list[list[dict[str, Any]]] = []

        def check() -> bool:
            found.append(self.rule_tasks(stream))
            return len(found[-1]) == count

        wait_for(check, 10, f"{count} rule tasks of {stream}")
        return found[-1]


@pytest.fixture
def notify_api(
    controlplane: ControlPlane, namespace: str, api_kubeconfig: Path, recordings_served: None
) -> Iterator[Notifier]:
    config = parse_config({"namespace": namespace, "vhosts": {
        "default": {"apps": {"app": {"source": SOURCE, "streamMap": RULES},
                             "plain-app": {"source": SOURCE},
                             "limited": {"source": SOURCE, "maxTasks": 1, "streamMap": [
                                 {"streamName": "*"}, {"streamName": "*", "interval": 1000}]}}},
        "live": {"apps": {"app": {"source": SOURCE, "streamMap": [{"streamName": "*"}]}}},
    }})
    settings = ApiSettings(config=config, access_token=TOKEN,
                           kube=KubeTarget(kubeconfig=str(api_kubeconfig)))
    with ServerThread(create_app(settings)) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        yield Notifier(Api(url=server.url, namespace=namespace, client=client,
                           plane=controlplane))


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_each_dialect_starts_and_ends_rule_tasks(notify_api: Notifier, dialect: str) -> None:
    expected = DIALECTS[dialect][4]
    answer = notify_api.send(dialect, "publish", "auto-hd-1")
    assert expected(answer), answer.text
    tasks = notify_api.wait_tasks("auto-hd-1", 2)  # both rules match
    for task in tasks:
        assert len(task["id"]) == 16 and task["id"].isalnum()
        assert task["isConfig"] is True
        assert task["state"] == "ready"
    by_interval = {t.get("interval"): t for t in tasks}
    assert by_interval[60000]["metadata"] == "hd"
    assert by_interval[None]["filePath"] == "${Stream}/${Sequence}.ts"
    recordings = [r for r in notify_api.api.recordings()
                  if r["spec"]["stream"]["name"] == "auto-hd-1"]
    assert all(LABEL_RULE in r["metadata"]["labels"] for r in recordings)

    answer = notify_api.send(dialect, "unpublish", "auto-hd-1")
    assert answer.status_code == 200
    notify_api.wait_tasks("auto-hd-1", 0)


def test_streams_no_rule_matches_get_no_task(notify_api: Notifier) -> None:
    notify_api.send("plain", "publish", "manual-1")
    notify_api.send("plain", "publish", "auto-marker")
    notify_api.wait_tasks("auto-marker", 1)  # applied after manual-1's publish
    assert [t for t in notify_api.api.records() if t["stream"]["name"] == "manual-1"] == []


def test_wrong_or_missing_token_is_refused_and_changes_nothing(notify_api: Notifier) -> None:
    for dialect in DIALECTS:
        answer = notify_api.send(dialect, "publish", "auto-denied", auth=False)
        assert answer.status_code == 401, dialect
        answer = notify_api.send(dialect, "publish", "auto-denied", auth=False,
                                 query="?token=wrong")
        assert answer.status_code == 401, dialect
    wrong = base64.b64encode(b"wrong").decode()
    answer = notify_api.api.client.post("/v1/notify", content=plain("publish", "app", "auto-d"),
                                        headers={"Authorization": f"Basic {wrong}"})
    assert answer.status_code == 401
    # then a good one, to know the refused ones had their chance to do something
    notify_api.send("plain", "publish", "auto-denied-marker")
    notify_api.wait_tasks("auto-denied-marker", 1)
    assert notify_api.rule_tasks("auto-denied") == []
    assert notify_api.rule_tasks("auto-d") == []


def test_token_as_query_parameter(notify_api: Notifier) -> None:
    query = "?" + httpx.QueryParams({"token": TOKEN}).__str__()
    answer = notify_api.send("nginx-rtmp", "publish", "auto-q", auth=False, query=query)
    assert answer.status_code == 200
    notify_api.wait_tasks("auto-q", 1)


def test_vhost_query_parameter_maps_the_servers_app(notify_api: Notifier) -> None:
    notify_api.send("srs", "publish", "anything", query="?vhost=live")
    found: list[list[dict[str, Any]]] = []

    def one_in_live() -> bool:
        found.append(notify_api.api.records(vhost="live"))
        return len(found[-1]) == 1

    wait_for(one_in_live, 10, "a rule task in vhost live")
    assert found[-1][0]["vhost"] == "live" and found[-1][0]["isConfig"] is True


def test_repeated_and_out_of_order_notifications(notify_api: Notifier) -> None:
    # publish twice (and by two dialects): one task per rule
    for dialect in ("nginx-rtmp", "nginx-rtmp", "plain"):
        notify_api.send(dialect, "publish", "auto-twice")
    first = notify_api.wait_tasks("auto-twice", 1)
    notify_api.send("plain", "publish", "auto-twice-marker")
    notify_api.wait_tasks("auto-twice-marker", 1)
    assert notify_api.rule_tasks("auto-twice") == first  # the same task, not a second one

    # an unpublish before its publish: nothing to end, then the publish starts the task
    notify_api.send("srs", "unpublish", "auto-late")
    notify_api.send("srs", "publish", "auto-late")
    notify_api.wait_tasks("auto-late", 1)

    # an unpublish of a stream nobody published: nothing happens, the answer is still 2xx
    for dialect in DIALECTS:
        assert DIALECTS[dialect][4](notify_api.send(dialect, "unpublish", "auto-unknown"))

    # publish, unpublish, publish in a burst: the last word wins, one task
    for event in ("publish", "unpublish", "publish"):
        notify_api.send("ovenmediaengine", event, "auto-burst")
    notify_api.send("plain", "publish", "auto-burst-marker")
    notify_api.wait_tasks("auto-burst-marker", 1)
    notify_api.wait_tasks("auto-burst", 1)
    notify_api.send("ovenmediaengine", "unpublish", "auto-burst")
    notify_api.wait_tasks("auto-burst", 0)
    assert len(notify_api.rule_tasks("auto-twice")) == 1
    assert len(notify_api.rule_tasks("auto-late")) == 1


def test_a_returning_stream_gets_a_new_task(notify_api: Notifier) -> None:
    notify_api.send("plain", "publish", "auto-back")
    before = notify_api.wait_tasks("auto-back", 1)[0]["id"]
    notify_api.send("plain", "unpublish", "auto-back")
    notify_api.send("plain", "publish", "auto-back")
    notify_api.send("plain", "publish", "auto-back-marker")
    notify_api.wait_tasks("auto-back-marker", 1)
    after = notify_api.wait_tasks("auto-back", 1)[0]["id"]
    assert after != before


def test_stop_record_ends_a_rule_task_like_any_other(notify_api: Notifier) -> None:
    notify_api.send("plain", "publish", "auto-stop")
    task = notify_api.wait_tasks("auto-stop", 1)[0]
    answer = notify_api.api.call("stopRecord", {"id": task["id"]})
    assert answer.status_code == 200 and answer.json()["response"]["isConfig"] is True
    notify_api.wait_tasks("auto-stop", 0)


def test_unknown_apps_and_other_events_are_ignored(notify_api: Notifier) -> None:
    answer = notify_api.send("plain", "publish", "auto-x", app="nosuchapp")
    assert answer.json()["message"] == "ignored: unknown vhost/app"
    assert notify_api.send("nginx-rtmp", "publish", "auto-x", app="nosuchapp").status_code == 200
    # a playback in OME, another nginx-rtmp call: allowed, nothing recorded
    answer = notify_api.api.client.post(
        "/v1/notify/ovenmediaengine", content=ome_webhook("opening", "app", "auto-play",
                                                          direction="outgoing"),
        headers=basic())
    assert answer.json() == {"allowed": True}
    answer = notify_api.api.client.post(
        "/v1/notify/nginx-rtmp", content=nginx_form("play", "app", "auto-play"),
        headers=basic())
    assert answer.status_code == 200
    notify_api.send("plain", "publish", "auto-x-marker")
    notify_api.wait_tasks("auto-x-marker", 1)
    assert notify_api.rule_tasks("auto-x") == notify_api.rule_tasks("auto-play") == []
    # counted on the API's metrics, which need the token like any call
    assert notify_api.api.client.get("/v1/notify/metrics").status_code == 401
    scrape = notify_api.api.client.get("/v1/notify/metrics", headers=basic()).text
    ignored = re.search(
        r'^recording_operator_api_notifications_total\{outcome="ignored_unknown_app"\} (\S+)$',
        scrape, re.MULTILINE)
    assert ignored is not None and float(ignored.group(1)) >= 2, scrape


def test_unreadable_bodies_admit_the_publish(notify_api: Notifier) -> None:
    client, headers = notify_api.api.client, basic()
    assert client.post("/v1/notify/nginx-rtmp", content=b"\xff\xfe", headers=headers
                       ).status_code == 200
    assert client.post("/v1/notify/ovenmediaengine", content=b"{", headers=headers
                       ).json() == {"allowed": True}
    assert client.post("/v1/notify/srs", content=b"[]", headers=headers).json() == 0
    answer = client.post("/v1/notify", content=b'{"event": "started"}', headers=headers)
    assert answer.status_code == 400 and "publish" in answer.json()["message"]


def test_publish_wakes_the_streams_waiting_tasks(notify_api: Notifier) -> None:
    api = notify_api.api
    api.start("reserved-1", stream="cam-wake")
    api.start("other-1", stream="cam-other")
    notify_api.send("nginx-rtmp", "publish", "cam-wake")

    def marked() -> bool:
        annotations = api.recording("reserved-1")["metadata"].get("annotations") or {}
        return ANNOTATION_PUBLISHED in annotations

    wait_for(marked, 10, "the publish mark on the reserved task")
    other = api.recording("other-1")["metadata"].get("annotations") or {}
    assert ANNOTATION_PUBLISHED not in other
    first = api.recording("reserved-1")["metadata"]["annotations"][ANNOTATION_PUBLISHED]
    time.sleep(0.002)  # the mark has millisecond resolution: the next publish must differ
    notify_api.send("plain", "publish", "cam-wake")
    wait_for(lambda: api.recording("reserved-1")["metadata"]["annotations"][
        ANNOTATION_PUBLISHED] != first, 10, "a new mark at the next publish")


def test_the_answer_does_not_wait_for_kubernetes() -> None:
    """Fail open: with the Kubernetes API unreachable, the media server still gets its
    admission at once (the effects fail later, in the background, with a log line)."""
    config = parse_config({"vhosts": {"default": {"apps": {
        "app": {"source": SOURCE, "streamMap": RULES}}}}})
    settings = ApiSettings(config=config, access_token=TOKEN, watch_cache=False,
                           kube=KubeTarget(url="http://127.0.0.1:9"), kube_timeout=5)
    with ServerThread(create_app(settings)) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        started = time.monotonic()
        answer = client.post("/v1/notify/nginx-rtmp", content=nginx_form("publish", "app",
                                                                          "auto-down"),
                             headers=basic())
        took = time.monotonic() - started
    assert answer.status_code == 200
    assert took < settings.kube_timeout / 2  # not held by the (failing) Kubernetes calls


def _refused(notify_api: Notifier) -> float:
    scrape = notify_api.api.client.get("/v1/notify/metrics", headers=basic()).text
    found = re.search(r'^recording_operator_api_notifications_total'
                      r'\{outcome="refused_limit"\} (\S+)$', scrape, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_rule_tasks_respect_the_apps_max_tasks(notify_api: Notifier) -> None:
    """maxTasks bounds rule tasks as it bounds startRecord (a soft limit: notifications of
    two streams applied at the same moment may both pass, as two startRecords may)."""
    before = _refused(notify_api)
    notify_api.send("plain", "publish", "cam-1", app="limited")  # two rules match: one task
    wait_for(lambda: _refused(notify_api) == before + 1, 10, "the second rule refused")
    notify_api.send("plain", "publish", "cam-2", app="limited")  # no room left
    wait_for(lambda: _refused(notify_api) == before + 2, 10, "the next stream refused")
    tasks = notify_api.api.records(app="limited")
    assert [(t["stream"]["name"], t["isConfig"]) for t in tasks] == [("cam-1", True)]
