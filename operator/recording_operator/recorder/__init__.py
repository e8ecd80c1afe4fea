"""The recorder: the process inside each recorder pod.

It pulls one live stream with PyAV (FFmpeg's libraries), remuxes the selected tracks into split,
playable files under the storage root, appends an info XML entry per finished file, and reports
its progress on its Recording's status. It never transcodes: a recorder costs about twice the
CPU of ``ffmpeg -c copy`` and ~57 MiB at 720p30 (docs/benchmarks.md), so one node can run many.

Modules, one concern each: ``source`` (open and retry the input), ``tracks`` (which streams),
``timeline`` (one output clock across reconnects and timestamp jumps), ``interleave`` (decode
order across tracks, so a split is exact), ``splitter`` (when to start a new file), ``writer``
(one output file), ``paths`` (macros, safe locations, and files that never replace each
other), ``infofile`` (the info XML), ``space`` (waiting out a full storage), ``resume`` (where a
restarted recorder picks up), ``progress`` (the recorder-owned status fields), ``reporter``
(patching them through ``kube.rest``), ``wakeup`` (a publish notification ends a wait),
``session`` (the state machine that ties it together) and ``main`` (signals and wiring).
"""
