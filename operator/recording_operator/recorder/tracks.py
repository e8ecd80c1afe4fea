"""Which of the source's streams are recorded, and which one drives the splits.

A selector names a source stream index (``trackId``), the ``index``-th stream of a kind, or every
stream of a kind. No selector means every audio and video stream. Data and subtitle streams are
never recorded: they rarely survive a container change and are not what users ask to record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..model.resolved import TrackSelector
from .errors import NoTracks

_MEDIA = ("video", "audio")


@dataclass(frozen=True)
class Track:
    #: Position among the recorded tracks, which is also the output stream index.
    slot: int
    #: The source stream index.
    index: int
    kind: str
    codec: str
    #: The PyAV input stream (the template for the output stream).
    stream: Any


@dataclass(frozen=True)
class Selection:
    tracks: tuple[Track, ...]
    #: The slot whose keyframes start files: the first video track, else the first audio.
    default_slot: int
    #: Selectors that matched nothing, for the status message.
    unmatched: tuple[str, ...]

    @property
    def default(self) -> Track:
        return self.tracks[self.default_slot]

    @property
    def audio_only(self) -> bool:
        return self.default.kind != "video"


def _describe(selector: TrackSelector) -> str:
    if selector.track_id is not None:
        return f"trackId {selector.track_id}"
    if selector.index is not None:
        return f"{selector.media} track #{selector.index}"
    return f"any {selector.media} track"


def _matches(selector: TrackSelector, stream: Any, nth_of_kind: int) -> bool:
    if selector.track_id is not None:
        return bool(stream.index == selector.track_id)
    if selector.media is not None and stream.type != selector.media:
        return False
    return selector.index is None or selector.index == nth_of_kind


def describe_source(streams: Sequence[Any]) -> str:
    return ", ".join(f"#{s.index} {s.type} {_codec(s)}" for s in streams) or "no streams"


def _codec(stream: Any) -> str:
    ctx = stream.codec_context
    return str(ctx.name) if ctx is not None else "unknown"


def select(streams: Sequence[Any], selectors: Sequence[TrackSelector]) -> Selection:
    """Picks the recorded streams in source order; raises NoTracks when none is left."""
    media = [s for s in streams if s.type in _MEDIA and s.codec_context is not None]
    nth: dict[int, int] = {}
    counts = dict.fromkeys(_MEDIA, 0)
    for stream in media:
        nth[stream.index] = counts[stream.type]
        counts[stream.type] += 1

    if not selectors:
        chosen = media
        unmatched: list[str] = []
    else:
        chosen = []
        unmatched = []
        for selector in selectors:
            hits = [s for s in media if _matches(selector, s, nth[s.index])]
            if not hits:
                unmatched.append(_describe(selector))
            chosen.extend(h for h in hits if h not in chosen)
        chosen.sort(key=lambda s: s.index)

    if not chosen:
        wanted = ", ".join(_describe(s) for s in selectors) or "audio or video"
        raise NoTracks(
            f"the source has no track to record ({wanted} wanted; source has "
            f"{describe_source(streams)})"
        )
    tracks = tuple(
        Track(slot=i, index=s.index, kind=s.type, codec=_codec(s), stream=s)
        for i, s in enumerate(chosen)
    )
    default = next((t.slot for t in tracks if t.kind == "video"), 0)
    return Selection(tracks=tracks, default_slot=default, unmatched=tuple(unmatched))
