"""Outboxes: replay after resume, answers to re-sent pings, and every bound."""

from __future__ import annotations

from pingpong_server.outbox import Outbox, Outboxes, OutboxLimits


def test_keeps_recent_pongs_and_replays_after_a_seq() -> None:
    outbox = Outbox(OutboxLimits())
    for seq in range(1, 11):
        outbox.record(seq, f"p{seq}".encode(), now=0.0)
    assert list(outbox.after(7)) == [(8, b"p8"), (9, b"p9"), (10, b"p10")]
    assert outbox.find(3) == b"p3"
    assert outbox.find(11) is None
    outbox.record(5, b"old", now=0.0)  # an older seq is ignored
    assert outbox.find(5) == b"p5"


def test_bounded_by_count_bytes_and_age() -> None:
    outbox = Outbox(OutboxLimits(max_pongs=4, max_bytes=1000, max_age=30.0))
    for seq in range(1, 10):
        outbox.record(seq, b"x", now=0.0)
    assert [seq for seq, _ in outbox.after(0)] == [6, 7, 8, 9]
    by_bytes = Outbox(OutboxLimits(max_pongs=100, max_bytes=10, max_age=30.0))
    for seq in range(1, 5):
        by_bytes.record(seq, b"abcd", now=0.0)
    assert [seq for seq, _ in by_bytes.after(0)] == [3, 4]
    by_age = Outbox(OutboxLimits(max_age=30.0))
    by_age.record(1, b"a", now=0.0)
    by_age.record(2, b"b", now=20.0)
    by_age.prune(now=31.0)
    assert [seq for seq, _ in by_age.after(0)] == [2]


def test_clients_are_bounded_least_recently_used_first() -> None:
    outboxes = Outboxes(OutboxLimits(max_clients=2))
    a, b, c = b"a" * 16, b"b" * 16, b"c" * 16
    outboxes.for_client(a).record(1, b"x", now=0.0)
    outboxes.for_client(b)
    outboxes.for_client(a)  # a is now the most recent
    outboxes.for_client(c)  # b goes
    assert len(outboxes) == 2
    assert outboxes.for_client(a).find(1) == b"x"
    outboxes.forget(a)
    assert len(outboxes.for_client(a)) == 0
