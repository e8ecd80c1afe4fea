"""Probing recorded files with PyAV: what a player would see.

Every packet is demuxed and decoded; FFmpeg's own error messages are captured, so a file that
"plays" here is one that decodes from its first packet to its last without complaint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import av.logging


@dataclass
class TrackProbe:
    kind: str
    codec: str
    time_base: Fraction | None  # the stream's, as PyAV reports it
    packets: int = 0
    keyframes: int = 0
    frames: int = 0
    first_is_key: bool | None = None
    #: Seconds: the earliest presentation time and the end of the last packet.
    start: float = float("inf")
    end: float = float("-inf")
    first_dts: float | None = None
    dts: list[float] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class FileProbe:
    path: Path
    tracks: dict[str, TrackProbe]
    errors: list[str]

    @property
    def video(self) -> TrackProbe:
        return self.tracks["video"]

    @property
    def audio(self) -> TrackProbe:
        return self.tracks["audio"]

    @property
    def start(self) -> float:
        return min(t.start for t in self.tracks.values())

    @property
    def duration(self) -> float:
        main = self.tracks.get("video") or self.tracks["audio"]
        return main.duration


def probe(path: Path, *, decode: bool = True) -> FileProbe:
    tracks: dict[str, TrackProbe] = {}
    with av.logging.Capture() as logs, av.open(str(path)) as container:
        by_index = {}
        for stream in container.streams:
            if stream.type in ("video", "audio") and stream.type not in tracks:
                tracks[stream.type] = TrackProbe(stream.type, stream.codec_context.name,
                                                 stream.time_base)
                by_index[stream.index] = tracks[stream.type]
        for packet in container.demux():
            track = by_index.get(packet.stream.index)
            if track is None:
                continue
            pts = packet.pts if packet.pts is not None else packet.dts
            dts = packet.dts if packet.dts is not None else pts
            if pts is None or dts is None:  # neither stamp (the demuxer's last, empty packet)
                if decode:
                    track.frames += len(packet.decode())  # flush the decoder
                continue
            tb = packet.time_base
            track.packets += 1
            if track.first_is_key is None:
                track.first_is_key = packet.is_keyframe
                track.first_dts = float(dts * tb)
            track.keyframes += int(packet.is_keyframe)
            track.dts.append(float(dts * tb))
            track.start = min(track.start, float(pts * tb))
            track.end = max(track.end, float((pts + (packet.duration or 0)) * tb))
            if decode:
                try:
                    track.frames += len(packet.decode())
                except av.FFmpegError as exc:
                    logs.append((av.logging.ERROR, "decode", str(exc)))
    errors = [f"{name}: {message}" for level, name, message in logs
              if level <= av.logging.ERROR]
    return FileProbe(path=path, tracks=tracks, errors=errors)
