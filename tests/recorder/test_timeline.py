"""The output clock across reconnects and jumps, and decode-order interleaving."""

from __future__ import annotations

from recording_operator.recorder.interleave import Interleaver, Sample
from recording_operator.recorder.timeline import Timeline

V, A = 0, 1


def out(timeline: Timeline, slot: int, dts: int, dur: int) -> int:
    offset = timeline.map(slot, dts, dur)
    assert offset is not None
    return dts + offset


def test_nothing_is_mapped_before_the_session_is_anchored() -> None:
    timeline = Timeline()
    timeline.start_session()
    assert timeline.map(A, 5, 1) is None
    timeline.anchor(1000)
    assert out(timeline, V, 1000, 40) == 0


def test_a_new_session_continues_where_the_last_one_ended() -> None:
    timeline = Timeline()
    timeline.start_session()
    timeline.anchor(50_000)
    assert out(timeline, V, 50_000, 40_000) == 0
    assert out(timeline, V, 90_000, 40_000) == 40_000
    timeline.start_session()  # the publisher reconnected: its clock starts again at 0
    timeline.anchor(0)
    assert out(timeline, V, 0, 40_000) == 80_000


def test_a_backward_jump_is_spliced_and_the_other_track_follows_in_sync() -> None:
    timeline = Timeline()
    timeline.start_session()
    timeline.anchor(10_000_000)
    for i in range(25):
        out(timeline, V, 10_000_000 + i * 40_000, 40_000)
        out(timeline, A, 10_000_000 + i * 40_000, 40_000)
    # The encoder restarted: both tracks jump back to 0.
    assert out(timeline, V, 0, 40_000) == 1_000_000
    assert out(timeline, A, 0, 40_000) == 1_000_000
    assert timeline.splices == 2


def test_a_forward_jump_beyond_the_gap_limit_is_spliced() -> None:
    timeline = Timeline(max_gap_us=10_000_000)
    timeline.start_session()
    timeline.anchor(0)
    out(timeline, V, 0, 40_000)
    assert out(timeline, V, 3_600_000_000, 40_000) == 40_000
    assert out(timeline, V, 3_600_040_000, 40_000) == 80_000


def test_small_jitter_is_left_alone() -> None:
    timeline = Timeline()
    timeline.start_session()
    timeline.anchor(0)
    out(timeline, A, 0, 23_000)
    assert out(timeline, A, 22_000, 23_000) == 22_000
    assert timeline.splices == 0


def sample(dts: int, slot: int, order: int) -> Sample:
    return Sample(dts, slot, dts, 10, False, order)


def test_interleaver_releases_in_dts_order_once_every_track_caught_up() -> None:
    inter = Interleaver(2, max_wait_us=1_000_000)
    assert inter.push(sample(100, V, 0)) == []  # audio not seen yet
    assert inter.push(sample(200, V, 1)) == []
    released = inter.push(sample(90, A, 2))
    assert [s.dts for s in released] == [90]
    released = inter.push(sample(150, A, 3))
    assert [s.dts for s in released] == [100, 150]
    assert [s.dts for s in inter.drain()] == [200]


def test_a_quiet_track_holds_the_others_back_at_most_max_wait() -> None:
    inter = Interleaver(2, max_wait_us=1000)
    assert inter.push(sample(0, V, 0)) == []
    assert [s.dts for s in inter.push(sample(1001, V, 1))] == [0]
