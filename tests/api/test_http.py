"""What every request meets before an action runs: CORS preflight, the access token, routing on
the colon paths, the 64 KiB cap, JSON, and the vhost/app lookup, each with OME's exact text."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from .conftest import TOKEN, Api, basic

pytestmark = pytest.mark.controlplane

ACTIONS = ["startRecord", "stopRecord", "records"]
REALM = 'Basic realm="OvenMediaEngine"'


def expect(answer: httpx.Response, status: int, message: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"statusCode": status, "message": message}


# -- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "[HTTP] Authorization header is required to call API (401)"),
        ("", "[HTTP] Authorization header is required to call API (401)"),
        ("Basic", "[HTTP] Invalid authorization header (401)"),
        ("Basic a b", "[HTTP] Invalid authorization header (401)"),
        ("Bearer " + TOKEN, "[HTTP] Not supported credential type: Bearer (401)"),
        ("Basic =", "[HTTP] Invalid credential format (401)"),
        ("Basic !!!", "[HTTP] Invalid credential format (401)"),
        ("Basic " + base64.b64encode(b"wrong").decode(), "[HTTP] Invalid credential (401)"),
        ("Basic " + base64.b64encode(b"ome-access").decode(), "[HTTP] Invalid credential (401)"),
    ],
)
def test_401(shared_api: Api, action: str, header: str | None, message: str) -> None:
    headers = {} if header is None else {"Authorization": header}
    body = {"id": "x", "stream": {"name": "s"}}
    answer = shared_api.call(action, body, headers=headers, auth=False)
    expect(answer, 401, message)
    assert answer.headers["www-authenticate"] == REALM
    assert shared_api.recordings() == []


def test_scheme_is_case_insensitive_and_the_whole_token_is_the_credential(shared_api: Api) -> None:
    header = basic()["Authorization"].replace("Basic", "bAsIc")
    answer = shared_api.call("records", headers={"Authorization": header}, auth=False)
    assert answer.status_code == 200, answer.text


def test_auth_comes_before_everything(shared_api: Api) -> None:
    expect(shared_api.call("nope", auth=False), 401,
           "[HTTP] Authorization header is required to call API (401)")
    expect(shared_api.call("startRecord", content=b"x" * 70_000, auth=False), 401,
           "[HTTP] Authorization header is required to call API (401)")
    expect(shared_api.call("records", vhost="nope", auth=False), 401,
           "[HTTP] Authorization header is required to call API (401)")


@pytest.mark.parametrize("path", [
    "/v1/vhosts/default/apps/app:startRecord", "/v1/vhosts/x/apps/y:records", "/anything",
])
def test_options_is_a_204_preflight_without_auth(shared_api: Api, path: str) -> None:
    answer = shared_api.client.options(path, headers={
        "Origin": "https://console.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    })
    assert answer.status_code == 204
    assert answer.content == b""
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert answer.headers["access-control-allow-headers"] == "authorization,content-type"


def test_answers_carry_cors_and_json_headers(shared_api: Api) -> None:
    answer = shared_api.call("records")
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["content-type"] == "application/json"


# -- routing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/vhosts/default/apps/app:pushes"),
        ("POST", "/v1/vhosts/default/apps/app:startrecord"),
        ("POST", "/v1/vhosts/default/apps/app"),
        ("POST", "/v1/vhosts/default/apps/app/startRecord"),
        ("POST", "/v1/vhosts/default/apps/app:records/"),
        ("GET", "/v1/vhosts/default/apps/app:startRecord"),
        ("GET", "/v1/vhosts/default/apps/app:stopRecord"),
        ("PUT", "/v1/vhosts/default/apps/app:records"),
        ("DELETE", "/v1/vhosts/default/apps/app:stopRecord"),
        ("POST", "/vhosts/default/apps/app:records"),
        ("GET", "/"),
        ("GET", "/docs"),
    ],
)
def test_unknown_action_or_method_is_404(shared_api: Api, method: str, path: str) -> None:
    answer = shared_api.client.request(method, path, headers=basic())
    expect(answer, 404, f"[HTTP] Could not find the resource: {method} {path} (404)")
    assert shared_api.recordings() == []


def test_get_records_is_an_alias_that_lists_all(api: Api) -> None:
    api.start("b")
    api.start("a")
    answer = api.call("records", method="GET")
    assert answer.status_code == 200
    assert [task["id"] for task in answer.json()["response"]] == ["a", "b"]


def test_a_configured_prefix(make_api: object) -> None:
    api = make_api(prefix="/ome/v1")  # type: ignore[operator]
    answer = api.client.post("/ome/v1/vhosts/default/apps/app:records", headers=basic())
    assert answer.json() == {"statusCode": 200, "message": "OK", "response": []}
    assert api.client.post("/v1/vhosts/default/apps/app:records", headers=basic()) \
        .status_code == 404


def test_health_needs_no_token_and_openapi_does(shared_api: Api) -> None:
    assert shared_api.client.get("/healthz").status_code == 200
    refused = shared_api.client.get("/openapi.json")
    assert refused.status_code == 401 and "paths" not in refused.json()
    paths = shared_api.client.get("/openapi.json", headers=basic()).json()["paths"]
    assert set(paths) == {
        "/v1/vhosts/{vhost}/apps/{app}:startRecord",
        "/v1/vhosts/{vhost}/apps/{app}:stopRecord",
        "/v1/vhosts/{vhost}/apps/{app}:records",
        "/v1/vhosts/{vhost}/apps/{app}/streams/{stream}/recordings",
        "/v1/vhosts/{vhost}/apps/{app}/streams/{stream}/recordings:export",
        "/v1/vhosts/{vhost}/apps/{app}/streams/{stream}/recordings/{file}",
    }


# -- common checks 0-3, in order ------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
def test_0_body_over_64_kib_is_413_before_parsing(shared_api: Api, action: str) -> None:
    expect(shared_api.call(action, content=b"{" * (64 * 1024 + 1)), 413,
           "[HTTP] Payload too large (413)")
    padded = b'{"id": "x", "stream": {"name": "s"}, "metadata": "' + b"m" * 66_000 + b'"}'
    expect(shared_api.call(action, content=padded), 413, "[HTTP] Payload too large (413)")
    # unknown vhost is checked after the size
    expect(shared_api.call(action, content=b"{" * 70_000, vhost="nope"), 413,
           "[HTTP] Payload too large (413)")
    assert shared_api.recordings() == []


def test_0_the_cap_holds_without_a_content_length(shared_api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 4096

    answer = shared_api.client.post(
        "/v1/vhosts/default/apps/app:records", content=chunks(), headers=basic()
    )
    assert "content-length" not in answer.request.headers
    expect(answer, 413, "[HTTP] Payload too large (413)")


def test_0_exactly_64_kib_is_fine(shared_api: Api) -> None:
    body = b'{"id": "nothing"}'
    body += b" " * (64 * 1024 - len(body))
    answer = shared_api.call("records", content=body)
    assert answer.json() == {"statusCode": 200, "message": "OK", "response": []}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "[HTTP] [JSON] Expecting property name enclosed in double quotes at line 1 "
               "column 2 (400)"),
        (b"id=x", "[HTTP] [JSON] Expecting value at line 1 column 1 (400)"),
        (b"[]", "[HTTP] [JSON] The body must be a JSON object, not an array (400)"),
        (b'"x"', "[HTTP] [JSON] The body must be a JSON object, not a string (400)"),
        (b"42", "[HTTP] [JSON] The body must be a JSON object, not a number (400)"),
        (b"null", "[HTTP] [JSON] The body must be a JSON object, not null (400)"),
    ],
)
def test_1_not_a_json_object(shared_api: Api, action: str, content: bytes, message: str) -> None:
    expect(shared_api.call(action, content=content), 400, message)
    # JSON comes before the vhost check
    expect(shared_api.call(action, content=content, vhost="nope"), 400, message)


@pytest.mark.parametrize("action", ["stopRecord", "records"])
def test_1_an_empty_body_is_an_empty_object(shared_api: Api, action: str) -> None:
    answer = shared_api.call(action, content=b"")
    if action == "records":
        assert answer.json() == {"statusCode": 200, "message": "OK", "response": []}
    else:
        expect(answer, 400, "[HTTP] There is no required parameter [ id] (400)")


def test_1_an_empty_start_record_body_lists_both_missing_parameters(shared_api: Api) -> None:
    expect(shared_api.call("startRecord", content=b""), 400,
           "[HTTP] There is no required parameter [ id stream.name] (400)")


@pytest.mark.parametrize("action", ACTIONS)
def test_2_unknown_vhost(shared_api: Api, action: str) -> None:
    expect(shared_api.call(action, {"id": "x", "stream": {"name": "s"}}, vhost="vhost"), 404,
           "[HTTP] Could not find the virtual host: [vhost] (404)")


@pytest.mark.parametrize("action", ACTIONS)
def test_3_unknown_app(shared_api: Api, action: str) -> None:
    expect(shared_api.call(action, {"id": "x", "stream": {"name": "s"}}, app="app1"), 404,
           "[HTTP] Could not find the application: [default/app1] (404)")
    # an app of another vhost is not an app of this one
    expect(shared_api.call(action, {"id": "x"}, vhost="live", app="app2"), 404,
           "[HTTP] Could not find the application: [live/app2] (404)")


@pytest.mark.parametrize("action", ACTIONS)
def test_3_vhost_and_app_are_checked_before_field_types(shared_api: Api, action: str) -> None:
    expect(shared_api.call(action, {"id": 5}, app="app1"), 404,
           "[HTTP] Could not find the application: [default/app1] (404)")


def test_get_records_alias_checks_vhost_and_app(shared_api: Api) -> None:
    expect(shared_api.call("records", method="GET", vhost="x"), 404,
           "[HTTP] Could not find the virtual host: [x] (404)")
    expect(shared_api.call("records", method="GET", app="x"), 404,
           "[HTTP] Could not find the application: [default/x] (404)")


@pytest.mark.parametrize("action", ACTIONS)
def test_4_a_number_for_id_is_refused_naming_the_field(shared_api: Api, action: str) -> None:
    expect(shared_api.call(action, {"id": 2, "stream": {"name": "s"}}), 400,
           "[HTTP] Invalid [id] parameter: must be a string (400)")
