"""Macro expansion and the storage root: names as specified, and no way out of the root."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recording_operator.model.config import DEFAULT_FILE_PATH, DEFAULT_INFO_PATH
from recording_operator.recorder.errors import StorageError
from recording_operator.recorder.paths import (
    MacroValues,
    StorageRoot,
    expand,
    safe_value,
    temp_name,
    unique_path,
)

START = datetime(2023, 3, 15, 12, 15, 20, 113000, tzinfo=UTC)
END = datetime(2023, 3, 15, 12, 16, 21, tzinfo=UTC)


def values(**over: object) -> MacroValues:
    base = dict(transaction_id="AbC123xyz0000000", id="rec-1", vhost="default", app="app",
                stream="stream", sequence=3, zone=UTC, start=START, end=END)
    base.update(over)
    return MacroValues(**base)  # type: ignore[arg-type]


def test_the_default_templates_expand_as_ome_names_files() -> None:
    assert expand(DEFAULT_FILE_PATH, values()) == (
        "AbC123xyz0000000_default_app_stream_20230315121520_20230315121621.ts")
    assert expand(DEFAULT_INFO_PATH, values()) == "AbC123xyz0000000_default_app_stream.xml"


def test_every_macro_and_any_mix_of_time_fields() -> None:
    template = ("${VirtualHost}/${Application}/${SourceStream}/${Id}-${Sequence}"
                "-${StartTime:YYYY-MM-DD_hh.mm.ss}-${EndTime:hhmm}${EndTime:ss}.mp4")
    assert expand(template, values()) == (
        "default/app/stream/rec-1-3-2023-03-15_12.15.20-121621.mp4")


def test_times_are_shown_in_the_configured_zone() -> None:
    expanded = expand("${StartTime:YYYYMMDDhhmmss}.ts", values(zone=ZoneInfo("Asia/Seoul")))
    assert expanded == "20230315211520.ts"


def test_end_time_shows_the_start_until_the_file_is_finished() -> None:
    assert expand("${EndTime:hhmmss}.ts", values(end=None)) == "121520.ts"


def test_unknown_macros_stay_as_written() -> None:
    assert expand("${Nope}_${Stream}.ts", values()) == "${Nope}_stream.ts"


@pytest.mark.parametrize("hostile", ["..", "../../etc", "a/b", "/abs", ".", "...", "a\x00b",
                                     "x\\..\\y", ""])
def test_macro_values_cannot_climb_or_split_paths(hostile: str) -> None:
    cleaned = safe_value(hostile)
    assert "/" not in cleaned and "\\" not in cleaned and "\x00" not in cleaned
    assert cleaned.strip(".") != "" and cleaned not in (".", "..")


@given(st.text(max_size=300))
def test_any_stream_name_expands_inside_the_root(name: str) -> None:
    expanded = expand("${Stream}/${Id}_${Sequence}.ts", values(stream=name, id=name))
    parts = expanded.split("/")
    assert len(parts) == 2 and all(p not in ("", ".", "..") for p in parts)


def test_the_root_refuses_escapes(tmp_path: Path) -> None:
    root = StorageRoot(tmp_path / "root")
    (tmp_path / "root").mkdir()
    assert root.resolve("a/b.ts") == tmp_path / "root" / "a" / "b.ts"
    for bad in ("../x.ts", "/etc/x.ts", "a/../../x.ts", ""):
        with pytest.raises(StorageError):
            root.resolve(bad)


def test_the_root_refuses_a_symlink_that_points_outside(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", tmp_path / "root" / "link")
    with pytest.raises(StorageError, match="outside the storage root"):
        StorageRoot(tmp_path / "root").resolve("link/x.ts")


def test_templates_are_checked_again(tmp_path: Path) -> None:
    root = StorageRoot(tmp_path)
    with pytest.raises(StorageError, match="filePath"):
        root.check_template("../x.ts")
    with pytest.raises(StorageError, match="must end with"):
        root.check_template("x.mkv")
    with pytest.raises(StorageError, match="infoPath"):
        root.check_template("x.ts", info=True)


def test_a_new_file_never_overwrites_an_older_one(tmp_path: Path) -> None:
    first = tmp_path / "same.ts"
    assert unique_path(first) == first
    first.write_bytes(b"x")
    assert unique_path(first) == tmp_path / "same_1.ts"
    (tmp_path / "same_1.ts").write_bytes(b"x")
    assert unique_path(first) == tmp_path / "same_2.ts"


def test_temporary_names_keep_the_extension() -> None:
    assert temp_name("TX", 4, ".mp4") == "TX_4.recording.mp4"
