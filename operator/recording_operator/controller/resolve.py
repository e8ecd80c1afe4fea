"""A Recording resolved against the vhost/app config, or the reason it cannot be.

Pure: no I/O, so every refusal a user can meet (unknown vhost/app, unknown variant, a Recording
in the wrong namespace) is unit-tested and its message is the one the user reads in
``status.message`` and in the Recording's Events.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from ..model.config import AppConfig, Config, NotConfigured
from ..model.recording import RecordingSpec
from ..model.resolved import RecordingRef, ResolvedRecording, TrackSelector

#: Recording names become the value of the pod's ``recording`` label, which is capped at 63.
MAX_NAME_LENGTH = 63


class ResolveError(ValueError):
    """The Recording cannot be recorded as specified; the message says why, for its user."""


@dataclass(frozen=True)
class Resolution:
    """What the config says about a Recording, found once per reconcile and handed on: the
    operator has no transactionId yet when it checks, and adds it with :meth:`resolved`."""

    spec: RecordingSpec
    namespace: str
    name: str
    timezone: str
    app: AppConfig
    source_url: str
    tracks: list[TrackSelector]

    def resolved(self, transaction_id: str, created_time: str | None) -> ResolvedRecording:
        """Everything the recorder pod needs, so it never reads the config itself."""
        spec = self.spec
        return ResolvedRecording(
            recording=RecordingRef(namespace=self.namespace, name=self.name),
            id=spec.id,
            vhost=spec.vhost,
            app=spec.app,
            stream=spec.stream.name,
            transaction_id=transaction_id,
            source_url=self.source_url,
            tracks=self.tracks,
            interval_ms=spec.interval if spec.interval and spec.interval > 0 else None,
            schedule=spec.schedule or None,
            timezone=self.timezone,
            segmentation_rule=spec.segmentation_rule,
            file_path=spec.file_path or self.app.file_path,
            info_path=spec.info_path or self.app.info_path,
            metadata=spec.metadata,
            created_time=created_time,
        )


def check(spec: RecordingSpec, config: Config, namespace: str, name: str) -> Resolution:
    """Resolves the config-dependent parts or raises :class:`ResolveError`."""
    if len(name) > MAX_NAME_LENGTH:
        raise ResolveError(
            f"the Recording's name is {len(name)} characters long; at most {MAX_NAME_LENGTH} "
            "are allowed, since it labels the recorder pod"
        )
    try:
        app = config.lookup(spec.vhost, spec.app)
    except NotConfigured as exc:
        raise ResolveError(str(exc)) from None
    home = config.namespace_of(spec.vhost, spec.app)
    if namespace != home:
        raise ResolveError(
            f"Recordings of {spec.vhost}/{spec.app} belong in namespace {home!r}, "
            f"not {namespace!r}"
        )
    return Resolution(
        spec=spec, namespace=namespace, name=name, timezone=config.timezone, app=app,
        source_url=source_url(spec, app), tracks=tracks(spec, app),
    )


def source_url(spec: RecordingSpec, app: AppConfig) -> str:
    """``spec.source.url`` when a kubectl user gave one, else the app's template filled in.

    The stream name is percent-encoded: it is a client-chosen string and must not be able to
    add query parameters or path segments to the URL.
    """
    if spec.source and spec.source.url:
        return spec.source.url
    return (
        app.source.replace("{vhost}", quote(spec.vhost, safe=""))
        .replace("{app}", quote(spec.app, safe=""))
        .replace("{stream}", quote(spec.stream.name, safe=""))
    )


def tracks(spec: RecordingSpec, app: AppConfig) -> list[TrackSelector]:
    """The tracks the variants and track ids select, in request order, without duplicates.

    Empty means every track of the source.
    """
    selected: list[TrackSelector] = []
    unknown = [name for name in spec.stream.variant_names if name not in app.variants]
    if unknown:
        offered = ", ".join(sorted(app.variants)) or "none"
        raise ResolveError(
            f"unknown variant name(s) {', '.join(unknown)}; this app offers: {offered}"
        )
    for name in spec.stream.variant_names:
        variant = app.variants[name]
        if variant.track_ids:
            selected.extend(TrackSelector(track_id=track) for track in variant.track_ids)
        else:
            selected.append(TrackSelector(media=variant.media, index=variant.index))
    selected.extend(TrackSelector(track_id=track) for track in spec.stream.track_ids)
    unique: list[TrackSelector] = []
    for selector in selected:
        if selector not in unique:
            unique.append(selector)
    return unique


def resolve(
    spec: RecordingSpec,
    config: Config,
    *,
    namespace: str,
    name: str,
    transaction_id: str,
    created_time: str | None,
) -> ResolvedRecording:
    """:func:`check` and :meth:`Resolution.resolved` in one step."""
    return check(spec, config, namespace, name).resolved(transaction_id, created_time)
