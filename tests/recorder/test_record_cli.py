"""``recording-operator record`` refuses unusable input at once, with a message that says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recording_operator.cli.main import main

from .harness import job


def record(tmp_path: Path, spec: object, *extra: str) -> int:
    path = tmp_path / "spec.json"
    path.write_text(spec if isinstance(spec, str) else json.dumps(spec))
    return main(["record", "--spec-file", str(path), "--no-report",
                 "--storage-root", str(tmp_path), *extra])


def test_no_spec_at_all(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RECORDING_SPEC", raising=False)
    assert main(["record", "--no-report"]) == 2
    assert "set RECORDING_SPEC or pass --spec-file" in capsys.readouterr().err


def test_spec_that_is_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert record(tmp_path, "{not json") == 2
    assert "is not valid JSON" in capsys.readouterr().err


def test_spec_with_missing_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert record(tmp_path, {"id": "x"}) == 2
    err = capsys.readouterr().err
    assert "is not a usable recording" in err and "sourceUrl" in err


def test_spec_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECORDING_SPEC", json.dumps(job("s", "gopher://x/y")))
    assert main(["record", "--no-report"]) == 2
    assert "source scheme 'gopher' is not supported" in capsys.readouterr().err


@pytest.mark.parametrize(("fields", "message"), [
    ({"sourceUrl": "gopher://host/app/s"}, "source scheme 'gopher' is not supported"),
    ({"sourceUrl": "just-a-name"}, "is not a URL"),
    ({"schedule": "every minute"}, "is not 'second minute hour'"),
    ({"intervalMs": 1000, "schedule": "0 */1 *"}, "cannot be used at the same time"),
    ({"filePath": "../escape.ts"}, "filePath '../escape.ts' must not contain"),
    ({"filePath": "x.mkv"}, "must end with .ts or .mp4"),
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
])
def test_unusable_recordings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fields: dict[str, object], message: str
) -> None:
    assert record(tmp_path, job("s", "rtmp://127.0.0.1:1/app/s", **fields)) == 2
    assert message in capsys.readouterr().err


def test_srt_without_ffmpeg_is_refused_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert record(tmp_path, job("s", "srt://127.0.0.1:9999?streamid=app/s")) == 2
    assert "srt:// sources are not supported without the ffmpeg program" in (
        capsys.readouterr().err)


@pytest.mark.parametrize("value", ["0", "-5", "soon", "inf"])
def test_a_report_interval_that_is_not_a_positive_number_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    value: str,
) -> None:
    monkeypatch.setenv("RECORDING_REPORT_INTERVAL", value)
    assert record(tmp_path, job("s", "rtmp://127.0.0.1:1/app/s")) == 2
    assert "RECORDING_REPORT_INTERVAL must be a positive number of seconds" in (
        capsys.readouterr().err)


def test_a_report_interval_flag_that_is_not_positive_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert record(tmp_path, job("s", "rtmp://127.0.0.1:1/app/s"), "--report-interval", "0") == 2
    assert "--report-interval must be positive" in capsys.readouterr().err
