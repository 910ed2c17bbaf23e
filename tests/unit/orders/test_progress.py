"""When a partition counts as stalled: records waiting and no advance for the stall time."""

from __future__ import annotations

from services.orders.progress import Progress

TP = ("orders.commands", 0)


def test_an_idle_partition_is_never_stalled() -> None:
    progress = Progress()
    progress.advanced({TP: 9}, now=0.0)
    assert progress.stalled({TP: 10}, now=1000.0, stall_after_s=60) == []


def test_records_beyond_the_last_commit_stall_it() -> None:
    progress = Progress()
    progress.advanced({TP: 9}, now=0.0)
    assert progress.stalled({TP: 12}, now=30.0, stall_after_s=60) == []
    (reason,) = progress.stalled({TP: 12}, now=61.0, stall_after_s=60)
    assert "orders.commands:0" in reason and "lag 2" in reason


def test_a_batch_in_flight_stalls_it_until_it_is_durable() -> None:
    progress = Progress()
    progress.received({TP}, now=0.0)
    assert progress.stalled({}, now=61.0, stall_after_s=60)
    progress.advanced({TP: 3}, now=62.0)
    assert progress.stalled({TP: 4}, now=63.0, stall_after_s=60) == []
