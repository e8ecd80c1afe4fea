"""Waking a recorder that waits for its stream, the moment the media server says it is there.

While the stream is absent the recorder polls the source with a capped backoff (one connect a
second): a publish is noticed up to a second late. When the media server notifies the API of
the publish (api/notify.py), the API stamps the ``published`` annotation on the stream's waiting
Recordings; this module watches the recorder's own Recording (a watch by name: one object, one
idle connection) and sets an event when the stamp changes, so the wait ends at once and the
source is opened within milliseconds of the publish. Polling stays: without notifications, or
while the watch is down, nothing changes but the latency.

The watch speaks the REST API over the standard library (with ``kube.rest``'s credentials), on a
daemon thread, and never touches the media loop: :func:`pause` is all the loop calls.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import threading
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from ..kube.rest import Endpoint, endpoint_for
from ..kube.target import KubeTarget
from ..model.resource import ANNOTATION_PUBLISHED, GROUP, PLURAL, VERSION
from ..model.timefmt import now, parse_time

log = logging.getLogger(__name__)

#: After a wake the stream may still be a few milliseconds from playable (nginx-rtmp notifies
#: before it admits the publisher): retry this soon, then back off as usual.
RETRY_AFTER_WAKE_S = 0.05
#: How often a pause looks at the stop event while it waits for a wake.
_STOP_CHECK_S = 0.05
#: A watch is re-opened after this long (the server ends it), or after a failure with backoff.
_WATCH_SECONDS = 300
_BACKOFF_S = (0.5, 30.0)


def pause(stop: threading.Event, wake: threading.Event | None, seconds: float) -> bool:
    """Waits ``seconds``, less if stopped; True when a publish woke it (try at once)."""
    if wake is None:
        stop.wait(seconds)
        return False
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if wake.wait(min(remaining, _STOP_CHECK_S)):
            wake.clear()
            return True
    return False


class PublishWatch:
    """Sets ``wake`` whenever the Recording's ``published`` stamp changes to a time after this
    recorder started (a stamp from before was for an earlier wait, not for this one)."""

    def __init__(self, namespace: str, name: str, target: KubeTarget | None,
                 wake: threading.Event) -> None:
        self.namespace, self.name, self.wake = namespace, name, wake
        self._target = target
        self._started = now()
        self._seen: str | None = None
        self._stopping = threading.Event()
        self._connection: http.client.HTTPConnection | None = None
        self._thread = threading.Thread(target=self._run, name="publish-watch", daemon=True)
        self.wakes = 0
        #: The watch has been open at least once (notifications can reach this recorder).
        self.watching = False

    def start(self) -> PublishWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        connection = self._connection
        if connection is not None and connection.sock is not None:
            with contextlib.suppress(OSError):
                connection.sock.shutdown(2)  # ends the blocking read at once
        self._thread.join(timeout=2)

    def _run(self) -> None:
        try:
            endpoint = endpoint_for(self._target)
        except Exception as exc:  # the status reporter reports a broken target; we just poll
            log.info("publish notifications off (%s); polling the source only", exc)
            return
        delay = _BACKOFF_S[0]
        while not self._stopping.is_set():
            try:
                self._watch(endpoint)
                delay = _BACKOFF_S[0]
            except (OSError, http.client.HTTPException, ValueError) as exc:
                if self._stopping.is_set():
                    return
                log.debug("publish watch broke (%s); again in %.1f s", exc, delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, _BACKOFF_S[1])

    def _watch(self, endpoint: Endpoint) -> None:
        query = urlencode({"watch": "1", "fieldSelector": f"metadata.name={self.name}",
                           "timeoutSeconds": str(_WATCH_SECONDS)})
        path = (f"{endpoint.base_path}/apis/{GROUP}/{VERSION}/namespaces/"
                f"{quote(self.namespace, safe='')}/{PLURAL}?{query}")
        headers = {"Accept": "application/json", "User-Agent": "recording-operator-recorder"}
        auth = endpoint.authorization(False)
        if auth:
            headers["Authorization"] = auth
        timeout = _WATCH_SECONDS + 30
        connection: http.client.HTTPConnection
        if endpoint.context is not None:
            connection = http.client.HTTPSConnection(endpoint.host, endpoint.port,
                                                     timeout=timeout, context=endpoint.context)
        else:
            connection = http.client.HTTPConnection(endpoint.host, endpoint.port,
                                                    timeout=timeout)
        self._connection = connection
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            if response.status != 200:
                body = response.read(500).decode("utf-8", "replace")
                if response.status == 401:
                    endpoint.authorization(True)  # a rotated token: read it again
                raise ValueError(f"watch answered {response.status}: {body}")
            if not self.watching:
                log.info("listening for publish notifications (watching %s)", self.name)
            self.watching = True
            for line in response:
                if self._stopping.is_set():
                    return
                if line.strip():
                    self._event(json.loads(line))
        finally:
            self._connection = None
            connection.close()

    def _event(self, event: dict[str, Any]) -> None:
        obj = event.get("object") or {}
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        stamp = annotations.get(ANNOTATION_PUBLISHED)
        if not isinstance(stamp, str) or stamp == self._seen:
            return
        self._seen = stamp
        try:
            when: datetime = parse_time(stamp)
        except ValueError:
            return
        if when >= self._started:
            self.wakes += 1
            log.info("the media server reports the stream published: trying it now")
            self.wake.set()
