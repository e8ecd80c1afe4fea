"""Test helpers for delivery: files finished the way a recorder finishes them, a real signed
webhook receiver, and the delivery service on a thread of its own."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cloudevents.core.bindings.http import HTTPMessage, from_structured
from cloudevents.core.formats.json import JSONFormat

from recording_operator.delivery.service import DeliveryService, DeliverySettings
from recording_operator.delivery.targets import AppTarget
from recording_operator.local.s3server import S3Server
from recording_operator.model.config import parse_config
from recording_operator.model.timefmt import format_time
from recording_operator.recorder import infofile
from recording_operator.recorder.infofile import InfoEntry

#: One finished file's info entry, for tests that need an entry but no file.
ENTRY = InfoEntry(
    transaction_id="tx1", id="rec", metadata="m", vhost="default", app="app", stream="s",
    file_path="a/b.ts", record_bytes=10, record_time=1000, sequence=2, last_sequence=True,
    created_time="2026-01-01T00:00:00.000+00:00", start_time="2026-01-01T00:00:00.000+00:00",
    finish_time="2026-01-01T00:00:10.000+00:00")


def bucket_objects(s3: S3Server, bucket: str) -> dict[str, dict[str, Any]]:
    """The bucket's objects by key (one listing page: tests upload a handful)."""
    client = s3.client()
    listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: item for item in listing}


def get_object(s3: S3Server, bucket: str, key: str) -> dict[str, Any]:
    """The object's response, its body read into ``"bytes"``."""
    answer: dict[str, Any] = s3.client().get_object(Bucket=bucket, Key=key)
    answer["bytes"] = answer["Body"].read()
    return answer


SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def app_target(root: Path, **app: Any) -> AppTarget:
    """The default app with the given delivery blocks, its files under ``root``."""
    config = parse_config({"vhosts": {"default": {"apps": {"app": {
        "source": "rtmp://127.0.0.1/app/{stream}",
        "storage": {"volume": {"hostPath": {"path": str(root)}}}, **app}}}}})
    acfg = config.app("default", "app")
    assert acfg is not None
    return AppTarget("default", "app", "default", root, acfg)


def finish_file(root: Path, txid: str, sequence: int, *, size: int = 4096, last: bool = False,
                record_id: str = "rec", subdir: str = "", age: float = 0.0) -> InfoEntry:
    """Writes a file and appends its info XML entry, as the recorder does when a file closes
    (the file gets its final name first, then the entry is added atomically)."""
    rel = f"{subdir}{txid}_default_app_stream_{sequence}.ts"
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    end = datetime.now(UTC) - timedelta(seconds=age)
    if age:
        os.utime(path, (end.timestamp(), end.timestamp()))
    entry = InfoEntry(
        transaction_id=txid, id=record_id, metadata="meta", vhost="default", app="app",
        stream="stream", file_path=rel, record_bytes=size, record_time=10_000,
        sequence=sequence, last_sequence=last, created_time=format_time(end),
        start_time=format_time(end - timedelta(seconds=10)), finish_time=format_time(end))
    infofile.append(root / f"{txid}_default_app_stream.xml", entry)
    return entry


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    event: Any

    @property
    def id(self) -> str:
        return str(self.event.get_id())

    @property
    def type(self) -> str:
        return str(self.event.get_type())

    @property
    def data(self) -> dict[str, Any]:
        data = self.event.get_data()
        assert isinstance(data, dict)
        return data


def check_signature(secret: str, headers: dict[str, str], body: bytes) -> None:
    """Standard Webhooks verification written from the spec, independently of our signer."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    assert abs(time.time() - int(stamp)) < 300, "stale webhook-timestamp"
    mac = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    assert any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split()), \
        "bad signature"


@dataclass
class Receiver:
    """A real HTTP receiver of signed CloudEvents. Refuses (401) a bad signature; answers
    ``status`` otherwise; can be taken down and brought back on the same port."""

    secret: str = SECRET
    status: int = 204
    received: list[Received] = field(default_factory=list)
    refused: int = 0
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    check_signature(receiver.secret, headers, body)
                    assert headers["content-type"] == "application/cloudevents+json"
                    event = from_structured(HTTPMessage(headers, body), JSONFormat())
                except (AssertionError, KeyError, ValueError):
                    receiver.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                if 200 <= receiver.status < 300:
                    receiver.received.append(Received(headers, body, event))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def of_type(self, kind: str) -> list[Received]:
        return [r for r in self.received if r.type == f"dev.recording-operator.{kind}"]

    def types(self) -> list[str]:
        return [r.type.removeprefix("dev.recording-operator.") for r in self.received]


class DeliveryThread:
    """The delivery service on its own event loop and thread, as the process runs it."""

    def __init__(self, targets: list[AppTarget], settings: DeliverySettings,
                 recordings_factory: Any = None) -> None:
        self.targets = targets
        self.settings = settings
        self._factory = recordings_factory
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self.error: BaseException | None = None
        self._ready = threading.Event()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            recordings = await self._factory() if self._factory else None
            self._stop = asyncio.Event()
            service = DeliveryService(self.targets, self.settings, recordings)
            self._ready.set()
            try:
                await service.run(self._stop)
            finally:
                if recordings is not None:
                    await recordings.close()

        try:
            self._loop.run_until_complete(main())
        except BaseException as exc:
            self.error = exc
            self._ready.set()
        finally:
            self._loop.close()

    def start(self) -> DeliveryThread:
        self._thread.start()
        assert self._ready.wait(30), "delivery did not start"
        return self

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "delivery did not stop"


def fast_settings(state_dir: Path, **overrides: Any) -> DeliverySettings:
    base: dict[str, Any] = {"poll_interval": 0.2, "upload_first_delay": 0.2,
                            "upload_max_delay": 1.0, "event_first_delay": 0.2,
                            "event_max_delay": 1.0, "retention_interval": 0.3,
                            "kube_interval": 0.3}
    base.update(overrides)
    return DeliverySettings(state_dir=state_dir, **base)


def body_json(received: Received) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(received.body)
    return value
