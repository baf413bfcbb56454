"""The server's UDP socket and QUIC endpoint (as `src/server/endpoint.rs`):
binding (`[::]` dual-stack with an IPv4 fallback), the QUIC settings, and the
certificate reload that gives new connections new material."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aioquic.asyncio.server import QuicServer
from aioquic.h3.connection import H3_ALPN
from aioquic.quic.configuration import QuicConfiguration

from . import aioquic_internals
from .certs import CertificateError, ClientVerifier, ServerMaterial, load_server_material
from .connection import PingpongProtocol
from .sockets import bind
from .state import Shared

log = logging.getLogger("pingpong_server")

#: QUIC idle timeout, as `src/transport.rs`: the Rust client sends keep-alives
#: every 500 ms, so two seconds of silence means it is gone.
IDLE_TIMEOUT = 2.0
#: How often the certificate files are checked, as the Rust server's
#: RELOAD_POLL: certificates rotate over hours or days; a few seconds of delay
#: is invisible, and reading three small files costs nothing.
RELOAD_POLL = 2.0


def quic_configuration(material: ServerMaterial) -> QuicConfiguration:
    """QUIC settings: TLS 1.3 with the server's chain, HTTP/3 ALPN, datagrams
    (required by WebTransport's HTTP/3 settings) and the idle timeout."""
    configuration = QuicConfiguration(
        is_client=False,
        alpn_protocols=H3_ALPN,
        max_datagram_frame_size=65536,
        idle_timeout=IDLE_TIMEOUT,
    )
    configuration.certificate = material.chain[0]
    configuration.certificate_chain = material.chain[1:]
    configuration.private_key = material.key
    return configuration


async def serve(listen: tuple[str, int], material: ServerMaterial, shared: Shared) -> Listener:
    """Binds the UDP socket and starts accepting connections. `[::]` is
    dual-stack, falling back to 0.0.0.0 where IPv6 is unavailable."""
    aioquic_internals.check_compatibility()
    sock = bind_socket(*listen)
    loop = asyncio.get_running_loop()
    configuration = quic_configuration(material)
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: QuicServer(
            configuration=configuration,
            create_protocol=lambda *args, **kwargs: PingpongProtocol(*args, shared=shared, **kwargs),
        ),
        sock=sock,
    )
    return Listener(transport, protocol)


@dataclass
class Listener:
    """A bound server socket."""

    transport: asyncio.DatagramTransport
    protocol: QuicServer

    @property
    def address(self) -> tuple[str, int]:
        """The address and port actually bound."""
        host, port = self.transport.get_extra_info("sockname")[:2]
        return host, port

    def use(self, material: ServerMaterial) -> None:
        """New connections get `material`'s chain and key; open ones keep theirs."""
        aioquic_internals.set_configuration(self.protocol, quic_configuration(material))

    def close(self) -> None:
        """Stops receiving datagrams."""
        self.protocol.close()


@dataclass
class Changed:
    """The files changed and load."""

    material: ServerMaterial


@dataclass
class Rejected:
    """The files changed but do not load (half-written, key and certificate
    apart); the old material stays."""

    error: CertificateError


class CertWatcher:
    """Watches a server's certificate, key and CA files (cert-manager rewrites
    them through a symlink swap)."""

    def __init__(self, cert: Path, key: Path, ca: Path) -> None:
        self._paths = (cert, key, ca)
        self._seen = self._digest()

    def _digest(self) -> bytes | None:
        """The contents' digest, or None while a file cannot be read (mid-swap)."""
        digest = hashlib.sha256()
        for path in self._paths:
            try:
                digest.update(path.read_bytes())
            except OSError:
                return None
        return digest.digest()

    def check(self) -> Changed | Rejected | None:
        """Looks at the files again: None when they are as they were."""
        now = self._digest()
        if now == self._seen:
            return None
        self._seen = now
        try:
            return Changed(load_server_material(*self._paths))
        except CertificateError as error:
            return Rejected(error)


async def reload_certificates(
    watcher: CertWatcher,
    listener: Listener,
    shared: Shared,
    allowed_clients: list[str] | None,
    on_change: Callable[[ServerMaterial], None],
) -> None:
    """Every RELOAD_POLL seconds, gives new sessions the certificates on disk
    if they changed and load (logged as the Rust server logs it); runs until
    cancelled."""
    while True:
        await asyncio.sleep(RELOAD_POLL)
        result = watcher.check()
        if isinstance(result, Changed):
            listener.use(result.material)
            shared.verifier = ClientVerifier(result.material.ca, allowed_clients)
            on_change(result.material)
            log.info("certificates reloaded for new sessions fingerprint=%s", result.material.fingerprint)
        elif isinstance(result, Rejected):
            log.warning("new certificate files do not load; keeping the current ones: %s", result.error)


def bind_socket(host: str, port: int) -> socket.socket:
    """A non-blocking UDP socket on `host`:`port` (`::` = both families)."""
    return bind(host, port, socket.SOCK_DGRAM)
