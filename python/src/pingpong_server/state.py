"""What every connection of one server shares (as `src/server/mod.rs`'s
`Shared`): identity, limits, the client verifier (replaced when the
certificates are reloaded), outboxes, the live sessions and connections, the
drain, and the counters the operations endpoint reports."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from .certs import ClientVerifier
from .codec import CLOSE_INTERNAL_ERROR, CLOSE_SHUTDOWN
from .outbox import Outboxes
from .session import ServerInfo

log = logging.getLogger("pingpong_server")

#: Reasons a handshake or session is refused, as the Rust server counts them
#: in `pingpong_refused_total{reason}`.
REFUSAL_REASONS = ("tls", "not_found", "server_full", "protocol")


class Connection(Protocol):
    """What the shared state asks of a connection."""

    remote: str

    def drain(self) -> None:
        """The server is shutting down: tell the session to move."""

    def close(self, error_code: int = ..., reason_phrase: str = ...) -> None:
        """Closes the connection with an application error code."""


@dataclass
class Timing:
    """Deadlines of a session (defaults of the Rust server)."""

    hello_timeout: float = 10.0
    drain_timeout: float = 5.0


@dataclass
class Shared:
    """What every connection of one server shares."""

    info: ServerInfo
    path: str
    verifier: ClientVerifier
    max_sessions: int
    timing: Timing = field(default_factory=Timing)
    outboxes: Outboxes = field(default_factory=Outboxes)
    #: Sessions holding a slot (their control streams).
    sessions: set[object] = field(default_factory=set)
    connections: set[Connection] = field(default_factory=set)
    #: Set whenever no connection is open.
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    draining: bool = False
    #: Pings answered since start.
    pings: int = 0
    #: Sessions opened since start.
    sessions_total: int = 0
    #: Refusals by reason (see `REFUSAL_REASONS`).
    refused: Counter[str] = field(default_factory=Counter)
    #: When the certificate in use expires (Unix time; 0 before it is known).
    certificate_not_after: float = 0.0

    def refuse(self, reason: str) -> None:
        """Counts a refused handshake or session."""
        self.refused[reason] += 1

    def drain_sessions(self) -> None:
        """Tells every session to move and closes those that never said Hello."""
        self.draining = True
        for connection in list(self.connections):
            try:
                connection.drain()
            except Exception:
                # One broken connection must not stop the others' drain.
                log.exception("cannot drain remote=%s; closing it", connection.remote)
                connection.close(CLOSE_INTERNAL_ERROR, "internal server error")

    async def wait_until_idle(self, timeout: float) -> int:
        """Waits until no connection is left, at most `timeout` seconds; returns
        how many were still open and closes them."""
        if self.connections:
            self.idle.clear()
            try:
                await asyncio.wait_for(self.idle.wait(), timeout)
            except TimeoutError:
                pass
        remaining = len(self.connections)
        for connection in list(self.connections):
            connection.close(CLOSE_SHUTDOWN, "server shutting down")
        return remaining

    def opened(self, connection: Connection) -> None:
        """A connection started."""
        self.connections.add(connection)
        self.idle.clear()

    def closed(self, connection: Connection) -> None:
        """A connection ended."""
        self.connections.discard(connection)
        if not self.connections:
            self.idle.set()
