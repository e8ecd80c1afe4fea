"""What the recorder's status report says about itself."""

from __future__ import annotations

from datetime import UTC

from recording_operator.model.recording import RECORDER_FIELDS, RecordingStatus
from recording_operator.recorder.progress import Progress


def test_a_report_names_the_pod_that_wrote_it_and_only_recorder_fields() -> None:
    progress = Progress(UTC, pod_uid="0f6c6e1e-uid")
    progress.stopped(None, finished=True)
    patch = progress.snapshot()
    assert set(patch) <= RECORDER_FIELDS
    report = RecordingStatus.model_validate(patch).recorder
    assert report is not None
    assert report.finished and report.pod_uid == "0f6c6e1e-uid"


def test_a_fresh_recorder_is_not_finished() -> None:
    report = RecordingStatus.model_validate(Progress(UTC).snapshot()).recorder
    assert report is not None and not report.finished and report.pod_uid is None
