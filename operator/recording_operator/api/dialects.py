"""What each media server sends when a stream is published or ends, read into one event.

Pure functions of the request body, one per dialect, so every payload shape is unit-tested
without a server. Each returns a :class:`StreamEvent`, or None for a notification that is not
about a publish (a playback, another nginx-rtmp call), or raises :class:`NotificationError`
when the body cannot be read at all.

The media server's own vhost naming (SRS's ``__defaultVhost__``, an OME URL's host) is not ours:
the vhost comes from the notification URL's ``vhost`` query parameter (see api/notify.py),
except in the plain dialect, whose body may name it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


class Event(StrEnum):
    PUBLISH = "publish"
    UNPUBLISH = "unpublish"


@dataclass(frozen=True)
class StreamEvent:
    event: Event
    app: str
    stream: str
    #: Only the plain dialect's body may name a vhost; None: the URL's (or ``default``).
    vhost: str | None = None


class NotificationError(ValueError):
    """The body is not a notification of this dialect; the message says why."""


def _first_values(body: bytes) -> dict[str, str]:
    """A form body, first value of each key: nginx-rtmp appends the publisher's own URL
    arguments after its fields, so a publisher's ``name=…`` must not override the real one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise NotificationError("the form body is not UTF-8") from None
    values: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        values.setdefault(key, value)
    return values


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise NotificationError("the body is not JSON") from None
    if not isinstance(value, dict):
        raise NotificationError("the body is not a JSON object")
    return value


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise NotificationError(f"{what} is missing or not a string")
    return value


#: nginx-rtmp's ``call`` values: on_publish and on_publish_done (``done`` comes from on_done,
#: which also fires for players, so it is not a publish's end).
_NGINX_CALLS = {"publish": Event.PUBLISH, "publish_done": Event.UNPUBLISH}


def nginx_rtmp(body: bytes) -> StreamEvent | None:
    """nginx-rtmp's on_publish / on_publish_done (form-encoded ``call``, ``app``, ``name``)."""
    form = _first_values(body)
    event = _NGINX_CALLS.get(form.get("call", ""))
    if event is None:
        return None
    return StreamEvent(event, _name(form.get("app"), "app"), _name(form.get("name"), "name"))


_OME_STATUS = {"opening": Event.PUBLISH, "closing": Event.UNPUBLISH}


def _app_stream_of_url(url: str) -> tuple[str, str]:
    """``scheme://host[:port]/app/stream[/file][?query]`` → (app, stream). An SRT URL may carry
    the path in its ``streamid`` instead (``srt://host:port?streamid=srt://host/app/stream``)."""
    parts = urlsplit(url)
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if len(segments) < 2:
        streamid = dict(parse_qsl(parts.query)).get("streamid")
        if streamid and streamid != url:
            return _app_stream_of_url(unquote(streamid))
        raise NotificationError(f"request.url {url!r} does not name an app and a stream")
    return segments[0], segments[1]


def ovenmediaengine(body: bytes) -> StreamEvent | None:
    """OME's AdmissionWebhooks: ``request.status`` opening/closing of an ``incoming`` stream."""
    data = _json_object(body)
    request = data.get("request")
    if not isinstance(request, dict):
        raise NotificationError("request is missing or not an object")
    if request.get("direction") != "incoming":  # a playback: not ours to record
        return None
    event = _OME_STATUS.get(str(request.get("status")))
    if event is None:
        return None
    app, stream = _app_stream_of_url(_name(request.get("url"), "request.url"))
    return StreamEvent(event, app, stream)


_SRS_ACTIONS = {"on_publish": Event.PUBLISH, "on_unpublish": Event.UNPUBLISH}


def srs(body: bytes) -> StreamEvent | None:
    """SRS's http_hooks on_publish / on_unpublish (JSON ``action``, ``app``, ``stream``)."""
    data = _json_object(body)
    event = _SRS_ACTIONS.get(str(data.get("action")))
    if event is None:
        return None
    return StreamEvent(event, _name(data.get("app"), "app"), _name(data.get("stream"), "stream"))


def plain(body: bytes) -> StreamEvent:
    """Ours: ``{"event": "publish"|"unpublish", "vhost"?, "app", "stream"}`` (MediaMTX's
    runOnReady/runOnNotReady with curl, or anything else that can post JSON)."""
    data = _json_object(body)
    try:
        event = Event(str(data.get("event")))
    except ValueError:
        raise NotificationError('event must be "publish" or "unpublish"') from None
    vhost = data.get("vhost")
    if vhost is not None and (not isinstance(vhost, str) or not vhost):
        raise NotificationError("vhost must be a non-empty string")
    app = _name(data.get("app"), "app")
    stream = _name(data.get("stream"), "stream")
    # MediaMTX paths are "app/stream": accept its MTX_PATH as the stream with the app in front
    if "/" in stream and stream.split("/", 1)[0] == app:
        stream = stream.split("/", 1)[1]
    return StreamEvent(event, app, stream, vhost)
