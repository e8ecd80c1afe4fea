"""The notes of docs/benchmarks.md: from this run's own figures, why a goal that is missed is
missed and what would meet it; then, dated as history, what earlier rounds of tuning changed
and measured (their figures are theirs, not this run's)."""

from __future__ import annotations

from collections.abc import Sequence

from .common import Figure


def _find(figures: Sequence[Figure], prefix: str) -> Figure | None:
    return next((f for f in figures if f.name.startswith(prefix)), None)


def _v(figure: Figure | None, digits: int = 2) -> str:
    return "n/a" if figure is None or figure.value is None else f"{figure.value:.{digits}f}"


TUNED = """\
**Operator and API** (each change measured with these scripts, and tested):

- *Stop latency* (operator). A stopping Recording was re-checked every `--stop-poll` (2 s):
  kopf does not re-run a delayed finalizer when the recorder's "finished" report arrives, so
  every stop took one poll interval — measured 2.17 s, while the recorder had finished its file
  after 0.12 s. The checks now start 0.25 s after the pod gets SIGTERM and double up to
  `--stop-poll` (`controller/stopping.py`, `poll_delay`; test
  `tests/controller/test_stop_latency.py`): a stop takes about 0.3 s, and a slow recorder
  costs a handful of extra checks at most.
- *records at thousands of tasks* (API). Reads already came from the watch-backed cache with
  memoised task views; what remained was serialising every task on every call (profiled: 8.5
  of 13 ms at 5,000 tasks, growing faster than the task count with the sort and the cache
  misses). The API now keeps each task's JSON per Recording version and joins the sorted
  fragments (`api/views.py`; test `tests/api/test_views.py`). On the API process with an
  in-memory store of 5,000 realistic Recordings, records went from 13 ms to 4 ms p50 (1,000
  tasks: 3.3 to 1.4 ms); the answer is byte for byte the same.
- *Control plane at scale*: no change needed. The API is the slower half of the throughput
  figure (each startRecord checks for a duplicate id with a LIST by field selector, which the
  API server answers from its cache by scanning the namespace, then creates; 8 clients at a
  time); the operator keeps up, each pod following the API's answer within about a second.
  Under such a burst a startRecord waits its turn (see the p99 of one call in the details);
  the 50 ms goal is for calls one at a time, as API latency measures them.
"""


def _reservation(figures: Sequence[Figure]) -> str:
    embedded = _find(figures, "reservation: publish")
    default = _find(figures, "reservation, recorder alone, --retry-max 1")
    longer = _find(figures, "reservation, recorder alone, --retry-max 5")
    opened = [f for f in figures if f.name.startswith("open a live RTMP stream")]
    if embedded is None or default is None or longer is None:
        return ""
    verdict = "is met" if embedded.met else "is missed"
    runs = ", ".join(f"{v:.1f}" for v in embedded.runs)
    open_text = "; ".join(f"{_v(f)} s with {f.name.split(', ', 1)[1]}" for f in opened)
    return f"""\
**Reservation latency {verdict}** ({_v(embedded)} s median through the embedded stack; the
runs: {runs} s; goal < 3 s). The operator and the API are not on this path: the recorder pod
is already running, waiting for the stream. Two recorder settings add up:

1. *It polls for the stream.* An absent stream is retried with a backoff from 0.5 s doubling
   to `--retry-max` (default 1 s: one cheap connect per second per waiting reservation), so a
   publish waits up to that long for the next attempt. On the same publishes, side by side,
   recorders alone took {_v(default)} s with the default
   (runs: {", ".join(f"{v:.1f}" for v in default.runs)}) and {_v(longer)} s with
   `--retry-max 5` (runs: {", ".join(f"{v:.1f}" for v in longer.runs)}), the earlier default.
2. *It learns the stream's tracks before writing.* Opening a stream that is already live takes
   {open_text}: FLV announces no track list, so FFmpeg reads `analyzeduration` of it (1 s by
   default; a stream whose metadata announces video the probe missed is probed again, longer).

Without polling at all, the media server's publish notification (nginx-rtmp `on_publish`,
OME's AdmissionWebhooks) waking the waiting recorder would take item 1 away.
"""


#: What the recorder's round of tuning found (issue 12), measured with bench/recorder_cpu.py,
#: bench/recorder_path.py (callgrind), perf and pyinstrument; the figures of one run follow.
RECORDER_TUNED = """\
**Where the recorder's time and memory went** (issue 12; each figure measured on this machine,
720p30 at ~2.8 Mb/s, 20 s splits, the info XML and status reporting on):

- *Memory: 110 → 66 MiB peak for the whole pod* (60 s before, 5 minutes after). A recorder
  loaded kubernetes_asyncio (with aiohttp, urllib3 and asyncio) to patch one status object every
  few seconds: on top of the 52 MiB a recorder's imports reach anyway, that client added 46 MiB
  (aiohttp alone 10.7 MiB, httpx 6.7 MiB). The recorder now reports through `kube/rest.py` over
  the standard library's `http.client` and `ssl`, which it had loaded already;
  `tests/recorder/test_record_imports.py` checks that no client library is loaded. Private
  memory went from 75 to 37 MiB. What is left: the interpreter and PyAV's libraries (PyAV's
  wheel links every FFmpeg library, each relocated on load), pydantic and the model's classes
  (~15 MiB), and the stream: opening a 720p stream (FFmpeg decodes a few frames to learn the
  tracks) raised the peak by 11 MiB, 8 of which stay.
- *CPU per packet.* Callgrind on the same FLV file: ours 375 → 367 M instructions per recorded
  minute, ffmpeg 292-294 M (1.27x → 1.26x). Most packets of an interleaved source are ahead of
  the other track and wait in the interleaver; they now go from there straight to the writer (no
  `_emit` and `write` calls: 4,392 of 4,392 packets took that way before, 34 now), the
  interleaver's floor is recomputed only when the slowest track moves, and the packet's time
  base is set from a slotted rational (PyAV reads numerator and denominator: 1.2 → 0.27 µs).
  Live, the code costs more than the instruction counts say: perf over 40 s of the live stream
  (before the interleaver change) put the recorder's CPU in the interpreter 37%, the kernel 30%,
  FFmpeg's libraries 17%, libc 9%, PyAV's glue 7%; ffmpeg's in the kernel 40%, libc 27%, its
  libraries 27%. The interpreter and PyAV's glue together came to 0.83x of ffmpeg's whole CPU;
  each packet wakes the interpreter from a blocking read, with cold caches.
- *Start-up: 1,255 → 1,083 M instructions* (ffmpeg 257 M): croniter is loaded only by a
  scheduled recording. The rest is the interpreter and its imports (CPU, best of 5: PyAV 0.11 s,
  pydantic and the model 0.2 s, ours 0.12 s, of 0.45 s).

"""

RECORDER_CPU_MISSED = """\
Why CPU stays above 1.5x: a Python process pays its start-up once per recording and the
interpreter's work for every packet, which, live, costs about as much as ffmpeg's whole remux.
What can reach the goal is FFmpeg doing the per-packet work in C: the recorder keeps the split
decisions, naming, the info XML, status and crash recovery, and hands the packet loop to
libavformat (the `segment` muxer, or a small C loop over PyAV's contexts)."""


def _recorder(figures: Sequence[Figure]) -> str:
    ratio = _find(figures, "recorder CPU / recorded minute")
    steady = _find(figures, "recorder CPU, steady state")
    pod = _find(figures, "recorder pod peak memory")
    start = _find(figures, "recorder start-up")
    instructions = _find(figures, "recorder instructions / recorded minute")
    if ratio is None or pod is None:
        return ""
    parts = ["**Recorder cost, this run** (`bench/recorder_cost.py`):"]
    parts.append(f"CPU {_v(ratio)}x ffmpeg's over the whole run ({ratio.verdict()}; "
                 f"{ratio.detail.split('; runs')[0]})")
    if steady is not None:
        parts.append(f"and {_v(steady)}x in the steady state ({steady.verdict()});")
    if instructions is not None:
        parts.append(f"instructions per recorded minute {_v(instructions)}x ffmpeg's "
                     f"({instructions.detail});")
    parts.append(f"pod peak memory {_v(pod, 1)} MiB ({pod.verdict()});")
    if start is not None:
        parts.append(f"start-up {_v(start)} s ({start.verdict()}; "
                     f"{start.detail.split('; runs')[0]}).")
    if ratio.met is False or (steady is not None and steady.met is False):
        parts.append(RECORDER_CPU_MISSED)
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


#: Earlier rounds of tuning, newest first: (when, what), written when they were measured.
HISTORY = (
    ("2026-11-30, issue 12", RECORDER_TUNED),
    ("2026-11-26, the first round", TUNED),
)


def history() -> str:
    """Earlier rounds, each under its date, so nobody reads their figures as this run's."""
    lines = ["### Earlier rounds (history: figures as measured then, not in this run)", ""]
    for when, text in HISTORY:
        lines += [f"*{when}.* {text.strip()}", ""]
    return "\n".join(lines)


def _delivery(figures: Sequence[Figure]) -> str:
    ratio = _find(figures, "upload throughput, x a plain bulk PUT")
    cpu = _find(figures, "delivery CPU per GB uploaded")
    if ratio is None or cpu is None or ratio.met is not False:
        return ""
    runs = ", ".join(f"{v:.2f}" for v in ratio.runs)
    return f"""\
**Upload throughput is missed** ({_v(ratio)}x a plain bulk PUT of the same files in the same
run; runs: {runs}; goal >= 0.8). Delivery is not CPU-bound ({_v(cpu, 1)} CPU s per GB): the
difference is waiting. Per file it makes more round trips than one PUT (a multipart upload's
create and complete, the HEAD that reads size and ETag back before the local copy may go) and
the store does more (versitygw's POSIX backend writes the parts, then joins them; every part's
Content-MD5 is checked). On a loaded machine the runs spread widely: the details give both
times of every run, the baseline's included.
"""


def notes(figures: Sequence[Figure]) -> str:
    parts = [_reservation(figures), _recorder(figures), _growth(figures), _delivery(figures),
             history()]
    return "\n".join(p for p in parts if p)
