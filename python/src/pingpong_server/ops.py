"""The operations endpoint (`--metrics ADDR`), as the Rust server's
`src/server/metrics.rs`: `/healthz` (the process is alive), `/readyz` (it
takes sessions; 503 while draining) and `/metrics` (OpenMetrics text, with
the Rust server's metric names, so that one PodMonitor and one set of alerts
fit either server), over plain HTTP on its own TCP port."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from . import __version__
from .sockets import bind
from .state import REFUSAL_REASONS, Shared

log = logging.getLogger("pingpong_server")

#: Longest request head read: a GET line and a few headers.
MAX_REQUEST = 8192
#: A client gets this long to send its request.
REQUEST_TIMEOUT = 5.0
#: Connections served at once, and from one address (the Rust server's
#: `http_serve::ConnectionLimits`): a scraper, the kubelet's probes and a person
#: with curl need a handful, each from its own address; one peer cannot take
#: every place and lock the probes out. One over either is closed at once.
MAX_CONNECTIONS = 64
MAX_CONNECTIONS_PER_PEER = 8


class Slots:
    """The connections being served, counted against both limits. Pure
    bookkeeping: `take` a place for a peer, `give_back` it when done."""

    def __init__(self, total: int = MAX_CONNECTIONS, per_peer: int = MAX_CONNECTIONS_PER_PEER) -> None:
        self._total = total
        self._per_peer = per_peer
        self._by_peer: dict[str, int] = {}

    def open(self) -> int:
        """Connections being served."""
        return sum(self._by_peer.values())

    def take(self, peer: str) -> bool:
        """Whether a connection from `peer` may be served (and is now counted)."""
        from_peer = self._by_peer.get(peer, 0)
        if self.open() >= self._total or from_peer >= self._per_peer:
            return False
        self._by_peer[peer] = from_peer + 1
        return True

    def give_back(self, peer: str) -> None:
        """A connection from `peer` is done."""
        left = self._by_peer.get(peer, 0) - 1
        if left > 0:
            self._by_peer[peer] = left
        else:
            self._by_peer.pop(peer, None)


class ServerCollector(Collector):
    """Reads the server's shared state at each scrape."""

    def __init__(self, shared: Shared, registration: Callable[[], str] | None) -> None:
        self._shared = shared
        self._registration = registration

    def collect(self) -> Iterator[Metric]:
        shared = self._shared
        yield GaugeMetricFamily("pingpong_sessions_open", "Sessions open now", value=len(shared.sessions))
        yield GaugeMetricFamily(
            "pingpong_sessions_max",
            "Sessions the server accepts at most (--max-sessions); more are refused as server_full",
            value=shared.max_sessions,
        )
        yield CounterMetricFamily(
            "pingpong_sessions", "Sessions opened since start", value=shared.sessions_total
        )
        yield CounterMetricFamily("pingpong_pings", "Pings answered since start", value=shared.pings)
        # This server issues no session tickets (a resumed aioquic session would
        # skip the client certificate), so it accepts none: always 0.
        yield CounterMetricFamily(
            "pingpong_tls_tickets_accepted",
            "Session tickets of returning clients accepted (valid, unexpired): "
            "their handshakes resume without a certificate exchange",
            value=0,
        )
        refused = CounterMetricFamily(
            "pingpong_refused", "Handshakes and sessions refused, by reason", labels=["reason"]
        )
        for reason in sorted(set(REFUSAL_REASONS) | set(shared.refused)):
            if shared.refused[reason]:
                refused.add_metric([reason], shared.refused[reason])
        yield refused
        yield GaugeMetricFamily("pingpong_draining", "1 while the server drains", value=int(shared.draining))
        yield GaugeMetricFamily(
            "pingpong_outbox_clients", "Clients with an outbox", value=len(shared.outboxes)
        )
        yield GaugeMetricFamily(
            "pingpong_certificate_not_after_seconds",
            "When the server certificate in use expires (Unix time)",
            value=shared.certificate_not_after,
        )
        build = GaugeMetricFamily("pingpong_build_info", "Build information", labels=["version"])
        build.add_metric([__version__], 1)
        yield build
        if self._registration is not None:
            yield GaugeMetricFamily(
                "pingpong_dns_registered",
                "1 while the server's records are in its DNS zone (--register-dns), "
                "0 while registering fails",
                value=int(self._registration().startswith("dns: registered")),
            )


@dataclass
class Response:
    """What one path answers."""

    status: int
    reason: str
    content_type: str
    body: bytes


class OpsEndpoint:
    """Answers `/healthz`, `/readyz` and `/metrics` for one server."""

    def __init__(self, shared: Shared, registration: Callable[[], str] | None = None) -> None:
        self._shared = shared
        self._registration = registration
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(ServerCollector(shared, registration))
        self.slots = Slots()

    def respond(self, path: str) -> Response:
        """The answer to a GET of `path`."""
        extra = f"{self._registration()}\n" if self._registration is not None else ""
        if path == "/healthz":
            return Response(200, "OK", "text/plain", b"ok\n")
        if path == "/readyz" and not self._shared.draining:
            return Response(200, "OK", "text/plain", f"ready\n{extra}".encode())
        if path == "/readyz":
            return Response(503, "Service Unavailable", "text/plain", f"draining\n{extra}".encode())
        if path == "/metrics":
            # prometheus_client's OpenMetrics writer carries no type hints.
            body: bytes = generate_latest(self._registry)  # type: ignore[no-untyped-call]
            return Response(200, "OK", CONTENT_TYPE_LATEST, body)
        return Response(404, "Not Found", "text/plain", b"not found\n")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        peer = str(peername[0]) if peername else "?"
        if not self.slots.take(peer):
            log.debug("ops connection from %s refused: %d open", peer, self.slots.open())
            writer.close()
            return
        try:
            await self._answer(reader, writer)
        finally:
            self.slots.give_back(peer)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
            parts = head.split(b" ", 2)
            if len(parts) < 3 or parts[0] != b"GET":
                response = Response(405, "Method Not Allowed", "text/plain", b"GET only\n")
            else:
                response = self.respond(parts[1].split(b"?", 1)[0].decode("ascii", "replace"))
            writer.write(
                f"HTTP/1.1 {response.status} {response.reason}\r\n"
                f"Content-Type: {response.content_type}\r\n"
                f"Content-Length: {len(response.body)}\r\nConnection: close\r\n\r\n".encode()
                + response.body
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # a slow, oversized or vanished request: nothing to answer
        finally:
            writer.close()

    async def start(self, host: str, port: int) -> tuple[asyncio.Server, tuple[str, int]]:
        """Listens on `host`:`port` (`[::]` is dual-stack, falling back to
        0.0.0.0 where IPv6 is unavailable); returns the server and the address
        bound."""
        sock = bind_tcp(host, port)
        server = await asyncio.start_server(self._serve, sock=sock, limit=MAX_REQUEST)
        bound_host, bound_port = sock.getsockname()[:2]
        return server, (bound_host, bound_port)


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host`:`port` (`::` = both families)."""
    sock = bind(host, port, socket.SOCK_STREAM)
    sock.listen(128)
    return sock
