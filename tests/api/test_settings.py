"""Start-up settings: where the token comes from, that an empty one stops the API, the prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from recording_operator.api.settings import (
    TOKEN_ENV,
    SettingsError,
    load_settings,
    normalise_prefix,
    read_token,
)
from recording_operator.cli.main import main


def test_token_from_env() -> None:
    assert read_token(None, {TOKEN_ENV: "s3cret"}) == "s3cret"


def test_token_file_wins_and_loses_one_trailing_newline(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from:file \n")
    assert read_token(str(token_file), {TOKEN_ENV: "env"}) == "from:file "


@pytest.mark.parametrize("content", ["", "\n", "\r\n"])
def test_empty_token_file_is_refused(tmp_path: Path, content: str) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(content)
    with pytest.raises(SettingsError, match="the access token is empty"):
        read_token(str(token_file), {TOKEN_ENV: "env-is-not-used"})


def test_missing_token_is_refused() -> None:
    with pytest.raises(SettingsError, match=f"set \\${TOKEN_ENV} or pass --access-token-file"):
        read_token(None, {})
    with pytest.raises(SettingsError, match="no access token"):
        read_token(None, {TOKEN_ENV: ""})


def test_unreadable_token_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read the access token file"):
        read_token(str(tmp_path / "absent"), {})


@pytest.mark.parametrize(
    ("given", "prefix"), [("/v1", "/v1"), ("v1/", "/v1"), ("/", ""), ("", ""), ("/a/b/", "/a/b")]
)
def test_prefix(given: str, prefix: str) -> None:
    assert normalise_prefix(given) == prefix


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("vhosts:\n  default:\n    apps:\n      app:\n        sourc: rtmp://x/{stream}\n")
    with pytest.raises(SettingsError, match=r"vhosts\.default\.apps\.app"):
        load_settings(config_path=str(config), environ={TOKEN_ENV: "t"})


def test_legacy_switch_comes_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "legacyStartRecordArray: true\n"
        "vhosts: {default: {apps: {app: {source: 'rtmp://127.0.0.1/{app}/{stream}'}}}}\n"
    )
    settings = load_settings(config_path=str(config), environ={TOKEN_ENV: "t" * 16})
    assert settings.legacy_start_record_array
    assert not load_settings(environ={TOKEN_ENV: "t" * 16}).legacy_start_record_array


def test_the_token_is_not_in_the_settings_repr() -> None:
    assert "s3cret-s3cret-s3cret" not in repr(
        load_settings(environ={TOKEN_ENV: "s3cret-s3cret-s3cret"}))


def test_cli_refuses_to_start_without_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert main(["api", "--port", "0"]) == 2
    assert "no access token" in capsys.readouterr().err


def test_a_token_under_16_bytes_is_refused_outside_the_embedded_mode() -> None:
    with pytest.raises(SettingsError, match="the access token is 15 bytes long; at least 16"):
        load_settings(environ={TOKEN_ENV: "x" * 15})
    # bytes, not characters: 8 two-byte characters are enough
    assert load_settings(environ={TOKEN_ENV: "é" * 8}).access_token == "é" * 8
    # the embedded mode (recording-operator dev) passes min_token_bytes=0
    assert load_settings(environ={TOKEN_ENV: "short"}, min_token_bytes=0).access_token == "short"
