"""The notes of docs/benchmarks.md: what was tuned, and — from this run's own figures — why a
goal that is missed is missed, and what would meet it."""

from __future__ import annotations

from collections.abc import Sequence

from .common import Figure


def _find(figures: Sequence[Figure], prefix: str) -> Figure | None:
    return next((f for f in figures if f.name.startswith(prefix)), None)


def _v(figure: Figure | None, digits: int = 2) -> str:
    return "n/a" if figure is None or figure.value is None else f"{figure.value:.{digits}f}"


TUNED = """\
**Tuned in this round.**

- *Stop latency* (operator). A stopping Recording was re-checked every `--stop-poll` (2 s):
  kopf does not re-run a delayed finalizer when the recorder's "finished" report arrives, so
  every stop took one poll interval — measured 2.17 s, while the recorder had finished its file
  after 0.12 s. The checks now start 0.25 s after the pod gets SIGTERM and double up to
  `--stop-poll` (`controller/stopping.py`, `poll_delay`; test
  `tests/controller/test_stop_latency.py`): a stop now takes about 0.3 s, and a slow recorder
  costs at most a handful of extra checks.
- *API latency* was already served from the watch-backed cache with memoised task views (the
  API helper's work): records over 1,000 tasks answers from memory; startRecord is one LIST by
  field selector (duplicate check) and one create.
- *Control plane at scale*: no change needed. The API is the slower half of the throughput
  figure (each startRecord does a duplicate check and a create, 8 clients at a time); the
  operator keeps up with it, its pods following the API's answers within about a second.
"""


def _reservation(figures: Sequence[Figure]) -> str:
    embedded = _find(figures, "reservation: publish")
    default = _find(figures, "reservation, recorder alone, --retry-max 5")
    short = _find(figures, "reservation, recorder alone, --retry-max 1")
    opened = [f for f in figures if f.name.startswith("open a live RTMP stream")]
    if embedded is None or embedded.met is not False:
        return ""
    open_text = "; ".join(f"{_v(f)} s with {f.name.split(', ', 1)[1]}" for f in opened)
    return f"""\
**Reservation latency is missed on the recorder's current settings** ({_v(embedded)} s
median through the embedded stack, goal < 3 s). The operator and the API are not on this path:
the recorder pod is already running, waiting for the stream. Two recorder settings add up:

1. *It polls for the stream.* An absent stream is retried with a backoff from 0.5 s doubling
   to `--retry-max` (default 5 s), so a publish waits for the next attempt: up to 5 s once a
   reservation has waited a while. Side by side, on the same stream published at the same
   moment, the recorder alone took {_v(default)} s with the default and {_v(short)} s with
   `--retry-max 1` (medians).
2. *It learns the stream's tracks before writing.* Opening a stream that is already live takes
   {open_text} (PyAV's `avformat_find_stream_info` reads `analyzeduration` worth of an RTMP
   stream, whose FLV container announces no track list).

What would meet the goal (recorder changes, so left to its owner and listed here): a retry
cap of about 1 s (one RTMP connect per second per waiting reservation: cheap for nginx-rtmp
and OME) *and* an `analyzeduration` near 0.5 s, or, better, no polling at all — the media
server's publish notification (nginx-rtmp `on_publish`, OME's AdmissionWebhooks) waking the
waiting recorder. In a cluster the recorder's command can carry `--retry-max 1` through the
config's `recorder.command`; the embedded stack sets that command itself.
"""


def _recorder(figures: Sequence[Figure]) -> str:
    ratio = _find(figures, "recorder CPU / recorded minute")
    rss = _find(figures, "recorder peak RSS")
    if ratio is None or rss is None or (ratio.met is not False and rss.met is not False):
        return ""
    parts = ["**Recorder cost** (figures from `bench/recorder_cpu.py`, the recorder's own "
             "benchmark; the recorder is tuned by its owner):"]
    if ratio.met is False:
        parts.append(f"CPU is {_v(ratio)}x ffmpeg's over the whole run (goal ≤ 1.5x): "
                     f"{ratio.detail.split('; runs')[0]}. A Python process pays its start-up "
                     "(interpreter, PyAV, the Kubernetes client) once per recording, and "
                     "Python-level work per packet that ffmpeg does in C.")
    if rss.met is False:
        parts.append(f"Peak RSS is {_v(rss, 1)} MB (goal ≤ 50 MB; {rss.detail.split('; runs')[0]}"
                     "). RSS counts the shared libraries (libavcodec & co., also mapped by "
                     "ffmpeg) and the interpreter; the private memory is what each further "
                     "recorder on a node adds.")
    return " ".join(parts) + "\n"


def _growth(figures: Sequence[Figure]) -> str:
    per_task = [f for f in figures if " per task at " in f.name]
    if not per_task:
        return ""
    lines = ["**How cost grows.** Cost per task above the empty baseline, at the largest level "
             "against the level below (linear or better when it does not grow):"]
    for f in per_task:
        lines.append(f"- {f.name}: {f.shown()} (goal {f.goal}): {f.verdict()}")
    return "\n".join(lines) + "\n"


def notes(figures: Sequence[Figure]) -> str:
    parts = [TUNED, _reservation(figures), _recorder(figures), _growth(figures)]
    return "\n".join(p for p in parts if p)
