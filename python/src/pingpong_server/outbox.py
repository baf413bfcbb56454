"""Per-client outboxes: recent pongs kept so that a client that comes back
(`Hello.resume_after`) gets what it missed, and a ping it sends again is
answered from here instead of twice. Pure: the caller passes the clock.
Bounded in pongs, bytes and age per client, and in clients (same limits as
`src/server/outbox.rs`).
"""

from __future__ import annotations

import bisect
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class OutboxLimits:
    """Bounds on what outboxes hold. Worst case: 1024 clients x 64 KiB."""

    #: Pongs kept per client (a second of pipelined pings at 256/s).
    max_pongs: int = 256
    #: Payload bytes kept per client.
    max_bytes: int = 64 * 1024
    #: Seconds after which a pong is dropped: longer than any reconnection the
    #: Rust client tries (it gives up after 10 s by default).
    max_age: float = 30.0
    #: Clients with an outbox; the least recently seen is dropped first.
    max_clients: int = 1024


class Outbox:
    """One client's recent pongs, in seq order."""

    def __init__(self, limits: OutboxLimits) -> None:
        self._limits = limits
        self._seqs: deque[int] = deque()
        self._pongs: deque[tuple[bytes, float]] = deque()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._seqs)

    def record(self, seq: int, payload: bytes, now: float) -> None:
        """Keeps the pong for `seq` (seqs rise; an older one is ignored)."""
        if self._seqs and self._seqs[-1] >= seq:
            return
        self._seqs.append(seq)
        self._pongs.append((payload, now))
        self._bytes += len(payload)
        self.prune(now)

    def find(self, seq: int) -> bytes | None:
        """The payload answered for `seq`, if still kept."""
        if not self._seqs or seq > self._seqs[-1]:
            return None
        i = bisect.bisect_left(self._seqs, seq)
        if i < len(self._seqs) and self._seqs[i] == seq:
            return self._pongs[i][0]
        return None

    def after(self, resume_after: int) -> Iterator[tuple[int, bytes]]:
        """Every kept pong with a seq above `resume_after`, in order."""
        start = bisect.bisect_right(self._seqs, resume_after)
        for i in range(start, len(self._seqs)):
            yield self._seqs[i], self._pongs[i][0]

    def prune(self, now: float) -> None:
        """Drops what is too old or over the count and byte limits."""
        limits = self._limits
        while self._seqs:
            payload, at = self._pongs[0]
            too_old = now - at > limits.max_age
            if not (too_old or len(self._seqs) > limits.max_pongs or self._bytes > limits.max_bytes):
                break
            self._seqs.popleft()
            self._pongs.popleft()
            self._bytes -= len(payload)


class Outboxes:
    """Every client's outbox, least recently used dropped first."""

    def __init__(self, limits: OutboxLimits | None = None) -> None:
        self.limits = limits or OutboxLimits()
        self._by_client: OrderedDict[bytes, Outbox] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_client)

    def for_client(self, client_id: bytes) -> Outbox:
        """The client's outbox, created if new; marks it recently used."""
        outbox = self._by_client.get(client_id)
        if outbox is None:
            outbox = Outbox(self.limits)
            self._by_client[client_id] = outbox
            while len(self._by_client) > self.limits.max_clients:
                self._by_client.popitem(last=False)
        else:
            self._by_client.move_to_end(client_id)
        return outbox

    def forget(self, client_id: bytes) -> None:
        """Drops a client that said Goodbye: it will not resume."""
        self._by_client.pop(client_id, None)
