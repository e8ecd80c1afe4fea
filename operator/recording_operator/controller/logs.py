"""Structured logs: kopf's JSON formatter (one object per line, with the object's reference),
minus the per-event success lines of the watch handlers (two per status update a recorder
makes) and the access log of the liveness probe."""

from __future__ import annotations

import logging
import re

import kopf

_CHATTY = re.compile(r"^Handler '(mirror|pods)' succeeded\.$")


class _QuietWatchers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno <= logging.INFO and _CHATTY.match(record.getMessage()))


def configure_logging(json_format: bool, verbose: bool) -> None:
    kopf.configure(
        verbose=verbose,
        log_format=kopf.LogFormat.JSON if json_format else kopf.LogFormat.FULL,
        log_prefix=not json_format,
        log_refkey="object" if json_format else None,
    )
    if not verbose:
        logging.getLogger("kopf.objects").addFilter(_QuietWatchers())
        # one line per liveness probe is noise
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
