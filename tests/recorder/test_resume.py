"""What a restarted recorder continues from."""

from __future__ import annotations

from typing import Any

from recording_operator.model.recording import RecordingStatus
from recording_operator.recorder.infofile import InfoEntry
from recording_operator.recorder.resume import plan_resume


def status(**fields: object) -> dict[str, Any]:
    """The status as the recorder reads it from Kubernetes (camelCase JSON), built from the
    operator's typed model so both sides agree on the names."""
    return RecordingStatus.model_validate(fields).to_json()


def info(sequence: int, tx: str = "TX") -> InfoEntry:
    return InfoEntry(tx, "id", "", "v", "a", "s", f"{sequence}.ts", 1, 1, sequence, False,
                     "t", "t", "t")


def test_a_fresh_recording_starts_at_sequence_zero() -> None:
    resume = plan_resume(None, "TX", [])
    assert (resume.next_sequence, resume.total_bytes, resume.orphan) == (0, 0, None)


def test_after_a_clean_drop_the_next_sequence_follows() -> None:
    resume = plan_resume(status(recorder={"state": "stopped"}, sequence=2,
                                totalRecordBytes=300, totalRecordTime=9000), "TX", [])
    assert (resume.next_sequence, resume.total_bytes, resume.total_time_ms) == (3, 300, 9000)
    assert resume.orphan is None


def test_a_crash_mid_file_leaves_an_orphan_and_its_partial_figures_are_taken_back() -> None:
    resume = plan_resume(status(
        recorder={"state": "recording"}, sequence=4, outputFilePath="TX_4.recording.ts",
        startTime="2026-01-01T00:00:00.000+00:00", recordBytes=50, recordTime=2000,
        totalRecordBytes=450, totalRecordTime=18000,
    ), "TX", [])
    assert resume.next_sequence == 5
    assert (resume.total_bytes, resume.total_time_ms) == (400, 16000)
    assert resume.orphan is not None and resume.orphan.sequence == 4


def test_the_info_file_wins_when_it_is_ahead_of_the_status() -> None:
    resume = plan_resume(status(recorder={"state": "recording"}, sequence=1), "TX",
                         [info(0), info(1), info(2), info(7, tx="OTHER")])
    assert resume.next_sequence == 3


def test_a_crash_between_two_files_keeps_the_finished_files_figures() -> None:
    """Killed right after a split, before the new file was reported: the status names the
    finished file, whose figures stay in the totals."""
    resume = plan_resume(status(
        recorder={"state": "recording"}, sequence=0, outputFilePath="TX_v_a_s_1_2.ts",
        startTime="2026-01-01T00:00:00.000+00:00", recordBytes=109416, recordTime=2005,
        totalRecordBytes=109416, totalRecordTime=2005,
    ), "TX", [])
    assert resume.next_sequence == 1
    assert (resume.total_bytes, resume.total_time_ms) == (109416, 2005)
    assert resume.orphan is None


def test_the_info_files_sums_are_the_totals() -> None:
    resume = plan_resume(status(recorder={"state": "recording"}, sequence=1,
                                outputFilePath="TX_1.recording.ts",
                                startTime="2026-01-01T00:00:00.000+00:00", recordBytes=5,
                                recordTime=5, totalRecordBytes=7, totalRecordTime=7),
                         "TX", [info(0), info(1, tx="OTHER")])
    assert (resume.total_bytes, resume.total_time_ms) == (1, 1)


def test_the_sequences_in_the_totals_are_known() -> None:
    """A file whose publication a kill cut short after its listing is reported again only if
    the totals do not hold it: the info file's sequences, or else the status's files."""
    heard = status(recorder={"state": "stopped"}, sequence=1, totalRecordBytes=2,
                   files=[{"sequence": 1, "filePath": "1.ts", "recordBytes": 2,
                           "recordTime": 2, "startTime": "2026-01-01T00:00:00.000+00:00",
                           "finishTime": "2026-01-01T00:00:02.000+00:00",
                           "lastSequence": False}])
    assert plan_resume(heard, "TX", []).counted == {1}
    assert plan_resume(heard, "TX", [info(0), info(1), info(5, tx="OTHER")]).counted == {0, 1}
    assert plan_resume(None, "TX", []).counted == frozenset()
