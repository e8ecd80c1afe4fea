"""The recorder's failure kinds; each one maps to a different reaction of the state machine."""

from __future__ import annotations


class RecorderError(Exception):
    """Base class: the message is what the Recording's status shows, so it must read well."""


class SourceUnavailable(RecorderError):
    """The stream is not there (yet, or any more): wait and try again."""


class SourceRefused(RecorderError):
    """The source can never work as configured (unknown scheme, unsupported protocol)."""


class NoTracks(RecorderError):
    """The source has no track the recording selects."""


class StorageError(RecorderError):
    """The storage cannot take the file (not writable, full, path outside the root)."""


class StorageFull(StorageError):
    """The storage has no space (ENOSPC) or quota (EDQUOT) left: wait for space, keep the file."""
