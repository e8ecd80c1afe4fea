"""A recorder's progress reports wake no operator handler; a state change does.

Recorders report every few seconds each; at thousands of tasks, a handler run per report would
be the operator's whole load. The mirror handler's kopf filter lets only events through that
change what it does (a state to mirror, a state to count).
"""

from __future__ import annotations

import time

import pytest

from tests.waiting import wait_for

from .support import Kube, Operator, StartOperator, api_made, pod_of, state_is

MIRROR_RUNS = 'recording_operator_handler_duration_seconds_count{handler="mirror"}'
#: Longer than kopf's batching window (0.1 s), so each report is an event of its own for kopf
#: rather than being folded into the next one.
PACE = 0.3


def counted(op: Operator, state: str) -> bool:
    return op.metric(f'recording_operator_recordings{{state="{state}"}}') == 1


@pytest.mark.controlplane
def test_progress_reports_wake_no_handler_and_a_state_change_does(
    kube: Kube, start_operator: StartOperator
) -> None:
    op = start_operator()
    name = api_made(kube)
    pod_of(kube, name)
    kube.report(name, {"recorder": {"state": "recording"}, "sequence": 0})
    state_is(kube, name, "recording")
    wait_for(lambda: counted(op, "recording"), 10, "the census to count the recording")
    before = op.metric(MIRROR_RUNS)

    for n in range(1, 11):
        kube.report(name, {"recorder": {"state": "recording",
                                        "updatedTime": f"2026-01-01T00:00:{n:02d}.000+00:00"},
                           "recordBytes": n * 1000, "recordTime": n * 100,
                           "totalRecordBytes": n * 1000, "totalRecordTime": n * 100})
        time.sleep(PACE)  # pacing the reports, not waiting for an outcome

    kube.report(name, {"recorder": {"state": "stopped", "message": "the stream ended"}})
    state_is(kube, name, "stopped")
    wait_for(lambda: counted(op, "stopped"), 10, "the census to count the stopped state")
    # kopf handles one object's events in order: the ten reports were seen before the change.
    # The change runs the handler twice: to mirror the state, then to count its own write.
    assert op.metric(MIRROR_RUNS) - before == 2
    assert kube.status(name)["recordBytes"] == 10_000
