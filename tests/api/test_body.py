"""Body parsing: empty means {}, and every way a body is not a JSON object is a [JSON] 400."""

from __future__ import annotations

import pytest

from recording_operator.api.body import parse_object
from recording_operator.api.errors import ApiError

from .support import SEED_SCHEDULE


@pytest.mark.parametrize("raw", [b"", b"  \n", b"{}"])
def test_empty_is_an_empty_object(raw: bytes) -> None:
    assert parse_object(raw) == {}


def test_an_object_and_a_bom() -> None:
    assert parse_object(b'\xef\xbb\xbf{"id": "x"}') == {"id": "x"}


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"[1]", "[JSON] The body must be a JSON object, not an array"),
        (b'"x"', "[JSON] The body must be a JSON object, not a string"),
        (b"3", "[JSON] The body must be a JSON object, not a number"),
        (b"null", "[JSON] The body must be a JSON object, not null"),
        (b"true", "[JSON] The body must be a JSON object, not a boolean"),
        (b'{"id": NaN}', "[JSON] NaN is not valid JSON"),
        (b"\xff{}", "[JSON] The body is not valid UTF-8"),
        (b'{"id": "\\ud800"}',
         "[JSON] The body holds an invalid Unicode escape (a lone surrogate)"),
        (b"[" * 60_000, "[JSON] The body is nested too deeply"),
    ],
)
def test_refused(raw: bytes, text: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_object(raw)
    assert (caught.value.status, caught.value.text) == (400, text)


def test_the_seeds_schedule_example_is_not_json() -> None:
    with pytest.raises(ApiError) as caught:
        parse_object(SEED_SCHEDULE)
    assert caught.value.message == (
        "[HTTP] [JSON] Expecting ',' delimiter at line 7 column 3 (400)"
    )
