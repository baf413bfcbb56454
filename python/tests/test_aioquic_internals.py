"""The one module that reaches into aioquic: real TLS 1.3 handshakes between an
aioquic client and a hardened aioquic server, in memory (datagrams handed
across by the test, no sockets). If an aioquic upgrade moves the internals,
these fail here, with names."""

from __future__ import annotations

import ssl

import pytest
from aioquic.h3.connection import H3_ALPN
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, QuicEvent
from conftest import Leaf, Pki
from cryptography.hazmat.primitives.serialization import Encoding

from pingpong_server import aioquic_internals
from pingpong_server.certs import ClientVerifier

CLIENT = ("127.0.0.1", 50000)
SERVER = ("127.0.0.1", 4433)
CRYPTO_ERROR = 0x100


def client_connection(pki: Pki, leaf: Leaf | None) -> QuicConnection:
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name="localhost")
    configuration.verify_mode = ssl.CERT_REQUIRED
    configuration.load_verify_locations(cadata=pki.ca.cert.public_bytes(Encoding.PEM))
    if leaf is not None:
        configuration.certificate = leaf.cert
        configuration.private_key = leaf.key
    return QuicConnection(configuration=configuration)


def server_connection(
    pki: Pki, client: QuicConnection, refusals: list[str], allowed: list[str] | None = None
) -> QuicConnection:
    configuration = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN)
    configuration.certificate = pki.server.cert
    configuration.private_key = pki.server.key
    server = QuicConnection(
        configuration=configuration,
        original_destination_connection_id=client.original_destination_connection_id,
    )
    aioquic_internals.harden(server, ClientVerifier([pki.ca.cert], allowed), refusals.append)
    return server


class Clock:
    """Simulated time: 5 ms per round trip of the exchange, so that pacing
    and acknowledgement delays run their course."""

    now = 0.0


def exchange(client: QuicConnection, server: QuicConnection) -> None:
    """Hands datagrams back and forth until both sides are quiet."""
    quiet = 0
    for _ in range(200):
        Clock.now += 0.005
        moved = False
        for data, _ in client.datagrams_to_send(now=Clock.now):
            server.receive_datagram(data, CLIENT, now=Clock.now)
            moved = True
        for data, _ in server.datagrams_to_send(now=Clock.now):
            client.receive_datagram(data, SERVER, now=Clock.now)
            moved = True
        quiet = 0 if moved else quiet + 1
        if quiet == 10:
            return
    raise AssertionError("the connections did not settle")


def events(connection: QuicConnection) -> list[QuicEvent]:
    found = []
    while (event := connection.next_event()) is not None:
        found.append(event)
    return found


def handshake(
    pki: Pki, leaf: Leaf | None, allowed: list[str] | None = None
) -> tuple[QuicConnection, QuicConnection, list[str]]:
    refusals: list[str] = []
    client = client_connection(pki, leaf)
    server = server_connection(pki, client, refusals, allowed)
    client.connect(SERVER, now=Clock.now)
    exchange(client, server)
    return client, server, refusals


def closed_with(connection: QuicConnection) -> ConnectionTerminated:
    """The close the peer sent (aioquic reports it once its draining period,
    a timer, is over)."""
    for _ in range(5):
        terminated = [e for e in events(connection) if isinstance(e, ConnectionTerminated)]
        if terminated:
            return terminated[0]
        timer = connection.get_timer()
        assert timer is not None, "the connection was not closed"
        Clock.now = max(Clock.now, timer)
        connection.handle_timer(now=Clock.now)
    raise AssertionError("the connection was not closed")


def test_the_installed_aioquic_has_the_internals_we_use() -> None:
    aioquic_internals.check_compatibility()


def test_a_valid_client_certificate_completes_the_handshake(pki: Pki) -> None:
    client, server, refusals = handshake(pki, pki.client)
    assert any(isinstance(e, HandshakeCompleted) for e in events(client))
    assert refusals == []
    identity = aioquic_internals.peer_certificate(server)
    assert identity is not None and identity == pki.client.cert
    assert aioquic_internals.peer_address(server) == CLIENT
    # The stream caps reached the client as transport parameters.
    assert client._remote_max_streams_bidi == aioquic_internals.MAX_BIDI_STREAMS
    assert client._remote_max_streams_uni == aioquic_internals.MAX_UNI_STREAMS


def test_no_client_certificate_gets_alert_certificate_required(pki: Pki) -> None:
    client, _, refusals = handshake(pki, None)
    assert closed_with(client).error_code == CRYPTO_ERROR + 116
    assert refusals == ["no client certificate: this server requires one"]


@pytest.mark.parametrize(
    ("which", "alert", "reason"),
    [
        ("other_client", 48, "not signed by our CA"),
        ("server", 43, "no clientAuth EKU"),
        ("expired_client", 45, "expired"),
    ],
)
def test_bad_client_certificates_get_the_matching_alert(
    pki: Pki, which: str, alert: int, reason: str
) -> None:
    client, _, refusals = handshake(pki, getattr(pki, which))
    assert closed_with(client).error_code == CRYPTO_ERROR + alert
    assert len(refusals) == 1 and reason in refusals[0]


def test_buffered_bytes_counts_what_the_peer_has_not_acknowledged(pki: Pki) -> None:
    client, server, _ = handshake(pki, pki.client)
    stream_id = client.get_next_available_stream_id()
    client.send_stream_data(stream_id, b"hello")
    exchange(client, server)
    assert aioquic_internals.buffered_bytes(server, stream_id) == 0
    server.send_stream_data(stream_id, b"x" * 5000)
    assert aioquic_internals.buffered_bytes(server, stream_id) == 5000
    exchange(client, server)
    assert aioquic_internals.buffered_bytes(server, stream_id) == 0
    assert aioquic_internals.buffered_bytes(server, 999) == 0


def test_a_client_off_the_allow_list_gets_access_denied(pki: Pki) -> None:
    client, _, refusals = handshake(pki, pki.client, allowed=["bob"])
    assert closed_with(client).error_code == CRYPTO_ERROR + 49
    assert "not on the allow-list" in refusals[0]
    client, _, refusals = handshake(pki, pki.client, allowed=["alice"])
    assert any(isinstance(e, HandshakeCompleted) for e in events(client))
    assert refusals == []
