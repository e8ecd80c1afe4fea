"""Assertions about recorded files that several tests share."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .harness import FRAME
from .probe import FileProbe, probe

INFO_ORDER = [
    "transactionId", "id", "metadata", "vhost", "app", "stream", "filePath", "recordBytes",
    "recordTime", "sequence", "lastSequence", "createdTime", "startTime", "finishTime",
]


def assert_plays(path: Path, *, kinds: tuple[str, ...] = ("video", "audio")) -> FileProbe:
    """The file decodes from its first packet to its last, and starts with a keyframe."""
    result = probe(path)
    assert sorted(result.tracks) == sorted(kinds), (path, result.tracks)
    assert not result.errors, (path, result.errors)
    for kind in kinds:
        track = result.tracks[kind]
        assert track.packets > 0, (path, kind)
        # Every packet decoded into a frame: nothing was undecodable (video: a missing
        # reference would show here).
        assert track.frames == track.packets, (path, kind, track.frames, track.packets)
        assert all(b > a for a, b in zip(track.dts, track.dts[1:], strict=False)), (path, kind)
    main = result.tracks.get("video") or result.tracks["audio"]
    assert main.first_is_key, f"{path} does not start with a keyframe"
    return result


def read_info(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<files>\n  <file>\n')
    assert "\n    <transactionId>" in text, "children are indented by 2 spaces per level"
    root = ET.fromstring(text)
    assert root.tag == "files"
    entries = []
    for node in root:
        assert node.tag == "file"
        assert [child.tag for child in node] == INFO_ORDER
        entries.append({child.tag: child.text or "" for child in node})
    assert text.count("<filePath><![CDATA[") == len(entries)
    return entries


def assert_info_matches(info: Path, storage: Path, files: list[Path]) -> list[dict[str, Any]]:
    """One entry per finished file, in sequence order, with the file's real size."""
    entries = read_info(info)
    assert [storage / e["filePath"] for e in entries] == files
    assert [int(e["sequence"]) for e in entries] == list(
        range(int(entries[0]["sequence"]), int(entries[0]["sequence"]) + len(entries)))
    for entry, path in zip(entries, files, strict=True):
        assert int(entry["recordBytes"]) == path.stat().st_size
    return entries


def assert_starts_at_zero(result: FileProbe) -> None:
    """Timestamps begin at 0: the first keyframe is decoded at 0 (its DTS) and the file shows
    its first picture or sound within the B-frame reordering delay (2 frames here)."""
    first_dts = min(t.first_dts for t in result.tracks.values() if t.first_dts is not None)
    assert abs(first_dts) <= 0.001, (result.path, first_dts)
    main = result.tracks.get("video") or result.tracks["audio"]
    assert main.first_dts is not None and abs(main.first_dts) <= 0.001, (result.path, main)
    assert 0 <= result.start <= 3 * FRAME, (result.path, result.start)
