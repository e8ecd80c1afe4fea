"""Reading each media server's notification into one event (pure: no server)."""

from __future__ import annotations

import json

import pytest

from recording_operator.api import dialects
from recording_operator.api.dialects import Event, NotificationError, StreamEvent


def test_nginx_rtmp_keeps_its_own_fields_over_the_publishers_arguments() -> None:
    # the publisher's URL arguments come after nginx-rtmp's fields, and may reuse their names
    body = (b"app=live&flashver=FMLE/3.0&tcurl=rtmp://h/live&addr=127.0.0.1&clientid=1"
            b"&call=publish&name=cam1&type=live&name=evil&app=other&call=publish_done")
    assert dialects.nginx_rtmp(body) == StreamEvent(Event.PUBLISH, "live", "cam1")
    done = b"app=live&flashver=x&call=publish_done&name=cam1"
    assert dialects.nginx_rtmp(done) == StreamEvent(Event.UNPUBLISH, "live", "cam1")
    assert dialects.nginx_rtmp(b"app=live&call=play&name=cam1") is None
    assert dialects.nginx_rtmp(b"app=live&call=done&name=cam1") is None  # players too
    with pytest.raises(NotificationError, match="name"):
        dialects.nginx_rtmp(b"app=live&call=publish")


def _ome(status: str, url: str, direction: str = "incoming") -> bytes:
    return json.dumps({"client": {"address": "1.2.3.4", "port": 1},
                       "request": {"direction": direction, "protocol": "rtmp",
                                   "status": status, "url": url,
                                   "time": "2026-01-01T00:00:00.000Z"}}).encode()


@pytest.mark.parametrize(
    ("url", "app", "stream"),
    [
        ("rtmp://host:1935/app/stream", "app", "stream"),
        ("rtmp://host/app/stream?k=v", "app", "stream"),
        ("webrtc://host:3333/app/stream/track?direction=send", "app", "stream"),
        ("srt://host:9999?streamid=srt%3A%2F%2Fhost%3A9999%2Fapp%2Fstream", "app", "stream"),
        ("rtmp://host/app/a%20b", "app", "a b"),
    ],
)
def test_ome_urls(url: str, app: str, stream: str) -> None:
    assert dialects.ovenmediaengine(_ome("opening", url)) == StreamEvent(Event.PUBLISH, app,
                                                                         stream)
    assert dialects.ovenmediaengine(_ome("closing", url)).event is Event.UNPUBLISH  # type: ignore[union-attr]


def test_ome_playbacks_and_bad_bodies() -> None:
    assert dialects.ovenmediaengine(_ome("opening", "rtmp://h/a/s", "outgoing")) is None
    with pytest.raises(NotificationError, match="app and a stream"):
        dialects.ovenmediaengine(_ome("opening", "rtmp://h/onlyapp"))
    with pytest.raises(NotificationError, match="request"):
        dialects.ovenmediaengine(b'{"client": {}}')
    with pytest.raises(NotificationError, match="JSON"):
        dialects.ovenmediaengine(b"not json")


def test_srs_and_plain() -> None:
    srs = json.dumps({"action": "on_unpublish", "vhost": "__defaultVhost__", "app": "live",
                      "stream": "s1", "param": "?token=x"}).encode()
    assert dialects.srs(srs) == StreamEvent(Event.UNPUBLISH, "live", "s1")
    assert dialects.srs(b'{"action": "on_play", "app": "live", "stream": "s1"}') is None
    assert dialects.plain(b'{"event": "publish", "vhost": "v", "app": "a", "stream": "s"}') == \
        StreamEvent(Event.PUBLISH, "a", "s", "v")
    # MediaMTX's MTX_PATH is "app/stream"
    assert dialects.plain(b'{"event": "unpublish", "app": "live", "stream": "live/cam"}') == \
        StreamEvent(Event.UNPUBLISH, "live", "cam")
    for bad in (b'{"event": "start", "app": "a", "stream": "s"}',
                b'{"event": "publish", "app": "", "stream": "s"}',
                b'{"event": "publish", "app": "a", "stream": "s", "vhost": 3}', b"[]"):
        with pytest.raises(NotificationError):
            dialects.plain(bad)
