"""The `load` a server publishes in its TXT record, as the Rust server's
`src/server/load.rs`: sessions in use per mille of `--max-sessions`, published
only when it lands in another ranking bucket (clients compare it in buckets of
100) and not more often than every `LOAD_INTERVAL` seconds, because a TXT
change is an mDNS announcement to the whole LAN."""

from __future__ import annotations

#: Clients compare loads in buckets of this many per mille.
LOAD_BUCKET = 100
#: How often the server looks at its load, seconds.
LOAD_POLL = 1.0
#: Least time between two published values, seconds.
LOAD_INTERVAL = 5.0


def per_mille(sessions: int, max_sessions: int) -> int:
    """Sessions in use per mille of the limit (0 to 1000)."""
    if max_sessions <= 0:
        return 1000
    return min(sessions, max_sessions) * 1000 // max_sessions


class LoadReport:
    """What was published last, and when (a server starts with `load=0`)."""

    def __init__(self) -> None:
        self.published = 0
        self._at: float | None = None

    def next(self, load: int, now: float) -> int | None:
        """The value to publish now, if any."""
        if load // LOAD_BUCKET == self.published // LOAD_BUCKET:
            return None
        if self._at is not None and now - self._at < LOAD_INTERVAL:
            return None
        self.published = load
        self._at = now
        return load
