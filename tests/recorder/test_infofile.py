"""The info XML: the spec's element order and layout, atomic rewrites, round trips."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recording_operator.recorder import infofile
from recording_operator.recorder.infofile import InfoEntry

from .checks import INFO_ORDER, read_info


def entry(sequence: int, **over: object) -> InfoEntry:
    base = dict(
        transaction_id="TX", id="rec<1>", metadata="a & b", vhost="default", app="app",
        stream="s", file_path=f"dir/f_{sequence}.ts", record_bytes=1234, record_time=5000,
        sequence=sequence, last_sequence=False, created_time="2023-03-15T21:15:20.113+09:00",
        start_time="2023-03-15T21:15:21.000+09:00", finish_time="2023-03-15T21:15:26.000+09:00",
    )
    base.update(over)
    return InfoEntry(**base)  # type: ignore[arg-type]


def test_layout_is_exactly_as_specified() -> None:
    text = infofile.render([entry(0)])
    assert text == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<files>\n"
        "  <file>\n"
        "    <transactionId>TX</transactionId>\n"
        "    <id>rec&lt;1&gt;</id>\n"
        "    <metadata>a &amp; b</metadata>\n"
        "    <vhost>default</vhost>\n"
        "    <app>app</app>\n"
        "    <stream>s</stream>\n"
        "    <filePath><![CDATA[dir/f_0.ts]]></filePath>\n"
        "    <recordBytes>1234</recordBytes>\n"
        "    <recordTime>5000</recordTime>\n"
        "    <sequence>0</sequence>\n"
        "    <lastSequence>false</lastSequence>\n"
        "    <createdTime>2023-03-15T21:15:20.113+09:00</createdTime>\n"
        "    <startTime>2023-03-15T21:15:21.000+09:00</startTime>\n"
        "    <finishTime>2023-03-15T21:15:26.000+09:00</finishTime>\n"
        "  </file>\n"
        "</files>\n"
    )


def test_append_keeps_earlier_entries_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "info.xml"
    infofile.append(path, entry(0))
    infofile.append(path, entry(1, last_sequence=True, file_path="odd ]]> name.ts"))
    assert infofile.read(path) == [entry(0), entry(1, last_sequence=True,
                                                   file_path="odd ]]> name.ts")]
    parsed = read_info(path)
    assert [e["sequence"] for e in parsed] == ["0", "1"]
    assert parsed[1]["filePath"] == "odd ]]> name.ts"
    assert list(parsed[0]) == INFO_ORDER


def test_rewrites_are_atomic(tmp_path: Path) -> None:
    path = tmp_path / "info.xml"
    infofile.append(path, entry(0))
    inode = path.stat().st_ino
    infofile.append(path, entry(1))
    assert path.stat().st_ino != inode, "replaced by rename, never rewritten in place"
    assert sorted(os.listdir(tmp_path)) == ["info.xml"], "no temporary file left behind"


def test_a_broken_info_file_is_moved_aside_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "info.xml"
    path.write_text("<files><file>")
    infofile.append(path, entry(0))
    assert (tmp_path / "info.xml.broken").read_text() == "<files><file>"
    assert infofile.read(path) == [entry(0)]


def test_the_same_sequence_is_listed_once(tmp_path: Path) -> None:
    path = tmp_path / "info.xml"
    infofile.append(path, entry(0))
    infofile.append(path, entry(0, record_bytes=99))
    assert [e.record_bytes for e in infofile.read(path)] == [99]


def test_parse_refuses_other_documents() -> None:
    with pytest.raises(ValueError, match="root element"):
        infofile.parse("<x/>")
