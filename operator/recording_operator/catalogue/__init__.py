"""The recordings catalogue: every finished file, found by stream and time range.

For the export (and anyone else), the one call to use::

    from recording_operator.catalogue import Catalogue, CatalogueFile, files_in_range

    catalogue = Catalogue.open(url)          # "sqlite:///data/catalogue.db" or
                                             # "postgresql+psycopg://user:pw@host/db"
    files: list[CatalogueFile] = files_in_range(
        catalogue, vhost, app, stream, start, end)   # start/end: aware datetimes

``files`` overlap [start, end) and come ordered by start time; each has ``file_path``
(relative to the storage root), ``local`` (a local copy exists), ``url`` (``s3://bucket/key``
once uploaded, else None), ``start_time``/``finish_time`` (aware UTC), ``bytes``,
``transaction_id``, ``sequence``. :func:`gaps_between` gives the uncovered stretches.
A database failure raises :class:`CatalogueUnavailable` (answer 503; the next call reconnects).

Fed by the delivery's signed events (``file.finished`` / ``file.uploaded`` / ``file.deleted``,
see :mod:`.receiver`), rebuildable from the info XML files (``recording-operator catalogue
rebuild``). SQLAlchemy models (:mod:`.schema`), Alembic migrations shipped in the package and
run on open (:mod:`.db`). It sits below the API (which serves it) and knows nothing of
Kubernetes.
"""

from __future__ import annotations

from datetime import datetime

from ..model.coverage import Gap
from .store import BadEvent, Catalogue, CatalogueFile, CatalogueUnavailable, gaps_between

__all__ = ["BadEvent", "Catalogue", "CatalogueFile", "CatalogueUnavailable", "Gap",
           "files_in_range", "gaps_between"]


def files_in_range(catalogue: Catalogue, vhost: str, app: str, stream: str,
                   start: datetime, end: datetime) -> list[CatalogueFile]:
    """The files of one stream overlapping [start, end), in order (see the module doc)."""
    return catalogue.files_in_range(vhost, app, stream, start, end)
