"""The access-token check on its own: each of the five 401 texts, and what is accepted."""

from __future__ import annotations

from base64 import b64encode

import pytest

from recording_operator.api.auth import authorization_problem

TOKEN = b"ome:access token"


def basic(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return "Basic " + b64encode(raw).decode()


def test_the_whole_decoded_token_is_compared_colon_and_space_included() -> None:
    assert authorization_problem(basic(TOKEN), TOKEN) is None
    assert authorization_problem(basic("ome"), TOKEN) == "Invalid credential"
    assert authorization_problem(basic("access token"), TOKEN) == "Invalid credential"
    assert authorization_problem(basic(TOKEN + b"x"), TOKEN) == "Invalid credential"


@pytest.mark.parametrize("scheme", ["basic", "BASIC", "bAsIc"])
def test_scheme_is_case_insensitive(scheme: str) -> None:
    assert authorization_problem(basic(TOKEN).replace("Basic", scheme), TOKEN) is None


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (None, "Authorization header is required to call API"),
        ("", "Authorization header is required to call API"),
        ("Basic", "Invalid authorization header"),
        ("Basic a b", "Invalid authorization header"),
        ("Basic  abc", "Invalid authorization header"),
        ("Bearer abc", "Not supported credential type: Bearer"),
        ("Digest abc", "Not supported credential type: Digest"),
        ("Basic ", "Invalid credential format"),
        ("Basic !!!notbase64", "Invalid credential format"),
        ("Basic " + b64encode(b"").decode() + "=", "Invalid credential format"),
    ],
)
def test_failures(header: str | None, problem: str) -> None:
    assert authorization_problem(header, TOKEN) == problem
