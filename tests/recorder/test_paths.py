"""Macro expansion and the storage root: names as specified, no way out of the root, and no
write that lands through a planted symlink or over another file."""

from __future__ import annotations

import os
import threading
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
    TaskPaths,
    expand,
    is_unique_name,
    move_noreplace,
    safe_value,
    temp_name,
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
    for bad in ("../x.ts", "/../x.ts", "a/../../x.ts", "", "/"):
        with pytest.raises(StorageError):
            root.resolve(bad)


def test_a_leading_slash_is_the_storage_root_as_in_ome(tmp_path: Path) -> None:
    root = StorageRoot(tmp_path)
    assert root.resolve("/path/to/x_1.ts") == tmp_path / "path" / "to" / "x_1.ts"
    assert root.resolve("//x.ts") == tmp_path / "x.ts"
    root.check_template("/path/to/save/recorded/file_${Sequence}.ts")
    root.check_template("/info.xml", info=True)
    paths = TaskPaths.of(root, "/rec/${Stream}_${Sequence}.ts", "/rec/${Stream}.xml", values())
    assert paths.relative(paths.file) == "rec/stream_3.ts"
    assert paths.relative(paths.info) == "rec/stream.xml"
    assert (tmp_path / "rec").is_dir()


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
    final = tmp_path / "same.ts"
    for n in range(3):
        (tmp_path / f"t{n}").write_bytes(b"%d" % n)
        move_noreplace(tmp_path / f"t{n}", final)
    assert [(tmp_path / name).read_bytes() for name in ("same.ts", "same_1.ts", "same_2.ts")] \
        == [b"0", b"1", b"2"]


def test_twenty_files_finished_at_once_under_one_name_all_survive(tmp_path: Path) -> None:
    temps = []
    for n in range(20):
        temp = tmp_path / f"t{n}.recording.ts"
        temp.write_bytes(b"file %d" % n)
        temps.append(temp)
    start = threading.Barrier(20)
    finals: list[Path] = []

    def finish(temp: Path) -> None:
        start.wait()
        finals.append(move_noreplace(temp, tmp_path / "a.ts"))

    threads = [threading.Thread(target=finish, args=(t,)) for t in temps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(finals)) == 20
    assert sorted(p.read_bytes() for p in finals) == sorted(b"file %d" % n for n in range(20))
    assert not list(tmp_path.glob("*.recording.ts"))


def test_a_planted_symlink_never_redirects_a_write(tmp_path: Path) -> None:
    root_dir = tmp_path / "root"
    root_dir.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    root = StorageRoot(root_dir)
    paths = TaskPaths.of(root, "a.ts", "info.xml", values())
    # at the temporary name and at the final name
    os.symlink(victim, paths.temp)
    os.symlink(victim, paths.file)
    with paths.create_temp() as (temp, target):
        assert temp != paths.temp
        with open(target, "wb") as handle:  # what the writer does with the name it is given
            handle.write(b"media")
    final = paths.finish(temp)
    assert final == root_dir / "a_1.ts" and final.read_bytes() == b"media"
    assert victim.read_bytes() == b"precious"
    assert os.readlink(paths.file) == str(victim), "the planted link is left as it was"


def test_temporary_names_keep_the_extension() -> None:
    assert temp_name("TX", 4, ".mp4") == "TX_4.recording.mp4"


def test_the_names_a_finished_file_may_take_are_recognised_and_no_others(tmp_path: Path) -> None:
    """A restarted recorder finds a file it renamed among these names (finishing.py)."""
    final = tmp_path / "tx_s.ts"
    taken = []
    for _ in range(3):  # the first three files of that name, as move_noreplace names them
        temp = tmp_path / "t.recording.ts"
        temp.write_bytes(b"x")
        taken.append(move_noreplace(temp, final).name)
    assert taken == ["tx_s.ts", "tx_s_1.ts", "tx_s_2.ts"]
    assert all(is_unique_name(final, name) for name in taken)
    for other in ["tx_s_01.ts", "tx_s_.ts", "tx_s_1.mp4", "xtx_s_1.ts", ".tx_s.ts.finishing",
                  "tx_s_1_2.ts"]:
        assert not is_unique_name(final, other), other
