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
    assert sorted(os.listdir(tmp_path)) == [".info.xml.lock", "info.xml"], \
        "no temporary file left behind (the lock file stays, empty)"


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


def test_control_characters_never_make_the_file_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "info.xml"
    hostile = "a\x01b\x1bc\x7fd\ufffe\ud800e\tf\ng"
    for sequence in range(3):
        infofile.append(path, entry(sequence, id=hostile, metadata=hostile, stream=hostile,
                                    file_path=f"{hostile}_{sequence}.ts"))
    entries = infofile.read(path)
    assert [e.sequence for e in entries] == [0, 1, 2], "every entry is still there"
    assert entries[0].metadata == "a\ufffdb\ufffdc\x7fd\ufffd\ufffde\tf\ng"
    assert not list(tmp_path.glob("*.broken")), "nothing had to be set aside"


def test_every_set_aside_file_gets_a_name_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "info.xml"
    for n in range(3):
        path.write_text(f"<files><file>{n}")
        infofile.append(path, entry(n))
    kept = sorted(p.read_text() for p in tmp_path.glob("info.xml*.broken"))
    assert kept == ["<files><file>0", "<files><file>1", "<files><file>2"]


def test_a_symlink_at_the_info_name_is_set_aside_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.xml"
    victim.write_text("precious")
    path = tmp_path / "info.xml"
    os.symlink(victim, path)
    infofile.append(path, entry(0))
    assert victim.read_text() == "precious"
    assert not path.is_symlink() and infofile.read(path) == [entry(0)]


def _append_many(path: str, first: int, count: int) -> None:
    for sequence in range(first, first + count):
        infofile.append(Path(path), entry(sequence, transaction_id=f"T{first}"))


def test_twenty_processes_appending_at_once_lose_no_entry(tmp_path: Path) -> None:
    import multiprocessing

    path = tmp_path / "info.xml"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(str(path), n * 100, 5))
               for n in range(20)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    entries = infofile.read(path)
    assert len(entries) == 100
    assert {(e.transaction_id, e.sequence) for e in entries} == {
        (f"T{n * 100}", n * 100 + k) for n in range(20) for k in range(5)}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".info.xml.lock", "info.xml"]
