"""How often a recorder reports its progress: the cluster's status-write budget shared out.

Every recording recorder patches its Recording's status as its byte and time counters grow.
At 5 s each, 5,000 tasks are 1,000 writes/s to etcd (issue "Hardening": under 300/s). Changes
a client waits for (state, a new or finished file) still go out at once; only the progress-only
reports are spaced out: the operator gives each new recorder pod an interval that shares a
budget of progress writes per second among the Recordings it runs,
``tasks / budget`` seconds, never under :data:`FLOOR` and never over :data:`CEILING` (a
``records`` caller still sees bytes grow within a minute).

The interval is fixed when the pod is made. A burst of Recordings (each pod made once the burst
is in the operator's census) stays within the budget; Recordings that arrive one at a time give
the earlier pods shorter intervals, and the progress writes then reach about
``budget * (1 + ln(tasks / (FLOOR * budget)))``: 282/s at 5,000 tasks with the default budget.
"""

from __future__ import annotations

import math

#: The shortest interval, and the one a lone recorder (``recording-operator record``) uses.
FLOOR = 5.0
#: The longest interval: the bytes a ``records`` caller sees are at most this old.
CEILING = 60.0
#: Progress-only status writes per second the operator shares out among its recorders.
DEFAULT_BUDGET = 80.0


def progress_interval(tasks: int, budget: float = DEFAULT_BUDGET) -> float:
    """Seconds between a recorder's progress-only reports when ``tasks`` Recordings share
    ``budget`` writes per second (``budget`` <= 0: no sharing, the floor)."""
    if budget <= 0 or not math.isfinite(budget):
        return FLOOR
    return min(CEILING, max(FLOOR, round(max(tasks, 0) / budget, 1)))
