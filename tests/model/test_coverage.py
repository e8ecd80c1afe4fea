"""Gaps in a stream's files: a split is not a gap, a real hole is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from recording_operator.model.coverage import Gap, gaps

T0 = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_back_to_back_files_stamped_apart_leave_no_gap() -> None:
    # the recorder stamps each split a few milliseconds after the previous file's end
    spans = [(s(0), s(20)), (s(20.012), s(40)), (s(40.3), s(60))]
    assert gaps(spans, s(0), s(60)) == []


def test_a_hole_and_an_uncovered_end_are_gaps() -> None:
    spans = [(s(0), s(20)), (s(35), s(50))]
    assert gaps(spans, s(5), s(70)) == [Gap(s(20), s(35)), Gap(s(50), s(70))]


def test_overlapping_files_and_a_range_before_any_file() -> None:
    spans = [(s(10), s(30)), (s(15), s(25)), (s(29), s(40))]
    assert gaps(spans, s(0), s(40)) == [Gap(s(0), s(10))]
    assert gaps([], s(0), s(10)) == [Gap(s(0), s(10))]
