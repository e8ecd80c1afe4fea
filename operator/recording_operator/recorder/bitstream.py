"""Bitstream conversions a container change needs, done once at the source side.

AAC from MPEG-TS or HLS carries an ADTS header on every frame and no codec configuration; MP4
wants raw frames plus an AudioSpecificConfig in the ``moov``. FFmpeg's ``aac_adtstoasc`` filter
does both, but PyAV's muxer does not insert it on its own, and the configuration must be known
before the file header is written. So ADTS audio bound for MP4 goes through the filter as it is
demuxed, and the configuration it finds is handed to every file's header.
"""

from __future__ import annotations

from typing import Any

from av.bitstream import BitStreamFilterContext

from .tracks import Track


def needs_adts_to_asc(track: Track, container_format: str) -> bool:
    ctx = track.stream.codec_context
    return container_format == "mp4" and track.codec == "aac" and not ctx.extradata


class AdtsToAsc:
    def __init__(self, stream: Any) -> None:
        self._filter = BitStreamFilterContext("aac_adtstoasc", in_stream=stream)
        #: The AudioSpecificConfig, once the first frame went through.
        self.extradata: bytes | None = None

    def filter(self, packet: Any) -> list[Any]:
        out: list[Any] = self._filter.filter(packet)
        if self.extradata is None:
            for converted in out:
                if converted.has_sidedata("new_extradata"):
                    self.extradata = bytes(converted.get_sidedata("new_extradata"))
                    break
        return out
