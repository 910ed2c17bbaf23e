"""How far the worker has got on each input partition, for `/healthz` and `/metrics`.

A partition is stalled when records wait on it (in flight in a batch, or beyond the last
offset made durable) and it has not advanced for the stall time; an idle partition never is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TopicPartition = tuple[str, int]


@dataclass
class Partition:
    next_offset: int | None = None  # after the last record made durable
    advanced_at: float | None = None  # when it last advanced (monotonic seconds)
    waiting_since: float | None = None  # when records of a batch not yet durable arrived


@dataclass
class Progress:
    partitions: dict[TopicPartition, Partition] = field(default_factory=dict)

    def received(self, tps: set[TopicPartition], now: float) -> None:
        for tp in tps:
            entry = self.partitions.setdefault(tp, Partition())
            if entry.waiting_since is None:
                entry.waiting_since = now

    def advanced(self, last_offsets: dict[TopicPartition, int], now: float) -> None:
        for tp, offset in last_offsets.items():
            entry = self.partitions.setdefault(tp, Partition())
            entry.next_offset = offset + 1
            entry.advanced_at = now
            entry.waiting_since = None

    def lag(self, tp: TopicPartition, highwater: int | None) -> int | None:
        entry = self.partitions.get(tp)
        if entry is None or entry.next_offset is None or highwater is None:
            return None
        return max(highwater - entry.next_offset, 0)

    def stalled(
        self, highwaters: dict[TopicPartition, int], now: float, stall_after_s: float
    ) -> list[str]:
        """Why the worker is not healthy: one line per stalled partition (none when it is)."""
        reasons = []
        for tp, entry in sorted(self.partitions.items()):
            lag = self.lag(tp, highwaters.get(tp))
            since = entry.waiting_since
            if since is None and lag:
                since = entry.advanced_at
            if since is not None and now - since > stall_after_s:
                waiting = "records in flight" if lag is None else f"lag {lag}"
                reasons.append(
                    f"{tp[0]}:{tp[1]} has not advanced for {now - since:.0f}s ({waiting})"
                )
        return reasons
