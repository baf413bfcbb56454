"""Every place where pingpong reaches into aioquic's private parts, in one
module, so that an aioquic upgrade that moves them breaks loudly here (see
`check_compatibility` and tests/test_aioquic_internals.py) and nowhere else.

Why it is needed (aioquic 1.7):

- A server never asks for a client certificate: the TLS context sends a
  CertificateRequest only when its private `_request_client_certificate` is
  set, and `QuicConfiguration` has no option for it.
- When a client does send one, aioquic checks its CertificateVerify signature
  (proof of the private key) but never verifies the chain; `verify_mode` and
  `cafile` apply to the client side only. We hook the server's Certificate
  handler to verify chain, validity and the clientAuth EKU, and to refuse an
  empty Certificate with the TLS alert `certificate_required` (116), as
  rustls does.
- The TLS context is created when the first datagram arrives
  (`QuicConnection._initialize`), so the hook wraps that method.
- Stream limits: aioquic lets a peer open 128 streams of each kind and has no
  setting for it; a pingpong session needs two bidirectional streams
  (CONNECT and the control stream) and the three unidirectional ones of
  HTTP/3, as `src/server/mod.rs` allows.
- Back-pressure: aioquic buffers whatever the application sends without bound;
  the server asks how much of a stream is still unacknowledged, to stop a client that
  never reads its pongs.
- Certificate reload: `QuicServer` keeps the configuration it was created
  with for every new connection and has no setter; a reload replaces it.

Session resumption (PSK) would skip the CertificateRequest; the server never
enables it (`serve` is called without session ticket handlers).
"""

from __future__ import annotations

from collections.abc import Callable

from aioquic import tls
from aioquic._buffer import Buffer
from aioquic.asyncio.server import QuicServer
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from cryptography import x509

from .certs import ClientRejected, ClientVerifier

#: Bidirectional streams a client may have open: CONNECT + control stream.
MAX_BIDI_STREAMS = 2
#: Unidirectional streams a client may have open: HTTP/3 control, QPACK encoder and decoder.
MAX_UNI_STREAMS = 3


class AlertCertificateRequired(tls.Alert):
    """TLS alert 116: the client sent no certificate (aioquic has no class for it)."""

    description = tls.AlertDescription.certificate_required


class AlertUnknownCa(tls.Alert):
    """TLS alert 48: the chain does not lead to our CA."""

    description = tls.AlertDescription.unknown_ca


class AlertAccessDenied(tls.Alert):
    """TLS alert 49: a valid client that is not on the allow-list."""

    description = tls.AlertDescription.access_denied


_ALERTS: dict[str, type[tls.Alert]] = {
    "access_denied": AlertAccessDenied,
    "unknown_ca": AlertUnknownCa,
    "expired": tls.AlertCertificateExpired,
    "unsupported": tls.AlertUnsupportedCertificate,
    "bad": tls.AlertBadCertificate,
}


def check_compatibility() -> None:
    """Raises RuntimeError if the installed aioquic lacks what this module uses."""
    context = tls.Context(is_client=False)
    connection = QuicConnection(configuration=QuicConfiguration(is_client=True))
    wanted = [
        (context, "_request_client_certificate"),
        (context, "_server_handle_certificate"),
        (context, "_peer_certificate"),
        (context, "_peer_certificate_chain"),
        (connection, "_initialize"),
        (connection, "_streams"),
        (connection, "_network_paths"),
        (connection, "_local_max_streams_bidi"),
        (connection, "_local_max_streams_uni"),
    ]
    missing = [name for owner, name in wanted if not hasattr(owner, name)]
    # A QuicServer needs a running loop to exist: look for the attribute in
    # the code that sets it and the code that reads it for new connections.
    for method in (QuicServer.__init__, QuicServer.datagram_received):
        if "_configuration" not in method.__code__.co_names:
            missing.append(f"QuicServer.{method.__name__} using _configuration")
    if missing:
        raise RuntimeError(
            "this aioquic version lacks internals pingpong-server needs for client "
            f"certificates and limits: {', '.join(missing)}; pin aioquic as in requirements.lock"
        )


def harden(
    connection: QuicConnection,
    verifier: ClientVerifier,
    on_rejected: Callable[[str], None] | None = None,
) -> None:
    """Makes a fresh server connection require and verify client certificates,
    and caps its stream counts. Call before it receives its first datagram."""
    # `sent` too: aioquic raises a limit as streams end, and advertises the new
    # value only when it differs from what was sent (streams open at once).
    for limit, value in (
        (connection._local_max_streams_bidi, MAX_BIDI_STREAMS),
        (connection._local_max_streams_uni, MAX_UNI_STREAMS),
    ):
        limit.value = value
        limit.sent = value
    initialize = connection._initialize

    def initialize_with_client_auth(peer_cid: bytes) -> None:
        initialize(peer_cid)
        _require_client_certificate(connection.tls, verifier, on_rejected)

    connection._initialize = initialize_with_client_auth  # type: ignore[method-assign]


def _require_client_certificate(
    context: tls.Context,
    verifier: ClientVerifier,
    on_rejected: Callable[[str], None] | None,
) -> None:
    context._request_client_certificate = True
    handle_certificate = context._server_handle_certificate

    def handle_and_verify(input_buf: Buffer) -> None:
        handle_certificate(input_buf)
        leaf = context._peer_certificate
        if leaf is None:
            reason = "no client certificate: this server requires one"
            if on_rejected:
                on_rejected(reason)
            raise AlertCertificateRequired(reason)
        try:
            verifier.verify(leaf, list(context._peer_certificate_chain))
        except ClientRejected as rejected:
            if on_rejected:
                on_rejected(str(rejected))
            raise _ALERTS[rejected.alert](str(rejected)) from None

    context._server_handle_certificate = handle_and_verify  # type: ignore[method-assign]


def set_configuration(server: QuicServer, configuration: QuicConfiguration) -> None:
    """Makes `server` use `configuration` for the connections it accepts from
    now on (open ones keep theirs)."""
    server._configuration = configuration


def peer_certificate(connection: QuicConnection) -> x509.Certificate | None:
    """The client's verified certificate, once the handshake is complete."""
    context = getattr(connection, "tls", None)
    return context._peer_certificate if context is not None else None


def buffered_bytes(connection: QuicConnection, stream_id: int) -> int:
    """Bytes written on `stream_id` that the peer has not acknowledged yet
    (what aioquic holds in memory for it, queued behind flow control)."""
    stream = connection._streams.get(stream_id)
    return len(stream.sender._buffer) if stream is not None else 0


def peer_address(connection: QuicConnection) -> tuple[str, int] | None:
    """The client's current address (server protocols share one socket, so
    the transport cannot tell)."""
    paths = connection._network_paths
    if not paths:
        return None
    host, port = paths[0].addr[:2]
    return str(host), int(port)
