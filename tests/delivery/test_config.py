"""The upload/events/retention keys of an app: exactly the issue's keys, and a malformed block
stops start-up with a message naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from recording_operator.model.config import ConfigError, parse_config
from recording_operator.model.delivery import parse_duration, parse_quantity

ISSUE_EXAMPLE = {
    "source": "rtmp://127.0.0.1/{app}/{stream}",
    "upload": {"url": "s3://recordings/live", "endpoint": "http://127.0.0.1:9000",
               "region": "us-east-1", "secretName": "recordings-s3", "deleteLocal": True},
    "events": [{"url": "https://hooks.example.com/recordings",
                "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
               {"url": "https://other.example.com/", "secretName": "hook-secret"}],
    "retention": {"maxAge": "7d", "maxBytes": "500Gi"},
}


def _app(**app: Any) -> dict[str, Any]:
    return {"vhosts": {"default": {"apps": {"app": {"source": "rtmp://x/{stream}", **app}}}}}


def test_the_issue_example_is_read() -> None:
    app = parse_config({"vhosts": {"default": {"apps": {"app": ISSUE_EXAMPLE}}}}).app(
        "default", "app")
    assert app is not None and app.upload is not None and app.retention is not None
    assert (app.upload.bucket, app.upload.prefix) == ("recordings", "live")
    assert app.upload.key("a/b.ts") == "live/a/b.ts"
    assert app.events[1].secret_name == "hook-secret"
    assert app.retention.max_age_seconds == 7 * 86400
    assert app.retention.max_bytes_total == 500 * 2**30


def test_all_blocks_are_optional_and_delete_local_defaults_to_true() -> None:
    app = parse_config(_app(upload={"url": "s3://bucket"})).app("default", "app")
    assert app is not None and app.upload is not None
    assert app.upload.delete_local is True and app.upload.key("x.ts") == "x.ts"
    assert app.events == [] and app.retention is None


@pytest.mark.parametrize(("block", "key"), [
    ({"upload": {"url": "https://bucket"}}, "upload.url"),
    ({"upload": {"url": "s3://B_ad"}}, "upload.url"),
    ({"upload": {"url": "s3://bucket/../x"}}, "upload.url"),
    ({"upload": {"url": "s3://bucket", "endpoint": "localhost:9000"}}, "upload.endpoint"),
    ({"upload": {"url": "s3://bucket", "deleteLocal": "sometimes"}}, "upload.deleteLocal"),
    ({"upload": {"url": "s3://bucket", "secretName": "Not_A_Name"}}, "upload.secretName"),
    ({"upload": {"url": "s3://bucket", "acl": "public"}}, "upload.acl"),
    ({"upload": {}}, "upload.url"),
    ({"events": [{"url": "ftp://x", "secret": "s"}]}, "events.0.url"),
    ({"events": [{"url": "http://x"}]}, "events.0"),
    ({"events": [{"url": "http://x", "secret": "s", "secretName": "n"}]}, "events.0"),
    ({"events": {"url": "http://x"}}, "events"),
    ({"retention": {"maxAge": "7 days"}}, "retention.maxAge"),
    ({"retention": {"maxBytes": "lots"}}, "retention.maxBytes"),
])
def test_a_malformed_block_names_its_key(block: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_app(**block))
    assert f"vhosts.default.apps.app.{key}" in str(info.value)


def test_durations_and_quantities() -> None:
    assert [parse_duration(t) for t in ("30s", "15m", "12h", "7d")] == [30, 900, 43200, 604800]
    assert parse_quantity("1Ki") == 1024 and parse_quantity("1.5G") == 1_500_000_000
    assert parse_quantity(1048576) == 1048576
