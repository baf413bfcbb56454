"""The published load: per mille of the limit, only a new bucket, at most once
per interval (the same rule as the Rust server's, `src/server/load.rs`)."""

from __future__ import annotations

from pingpong_server.load import LOAD_INTERVAL, LoadReport, per_mille


def test_load_is_sessions_per_mille_of_the_limit() -> None:
    assert [per_mille(s, 4000) for s in (0, 1000, 4000, 5000)] == [0, 250, 1000, 1000]
    assert per_mille(1, 3) == 333
    assert per_mille(0, 0) == 1000


def test_only_a_new_bucket_is_published_and_not_more_than_once_per_interval() -> None:
    report = LoadReport()
    assert report.next(0, 0.0) is None
    assert report.next(99, 0.0) is None
    assert report.next(100, 0.0) == 100
    assert report.next(99, 1.0) is None
    assert report.next(600, 4.0) is None
    assert report.next(600, LOAD_INTERVAL) == 600
    assert report.next(0, 2 * LOAD_INTERVAL) == 0
    assert report.next(50, 3 * LOAD_INTERVAL) is None
