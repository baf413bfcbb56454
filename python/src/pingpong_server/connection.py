"""One QUIC connection (as `src/server/accept.rs`): the TLS hooks that require
and verify a client certificate, HTTP/3 events, the WebTransport CONNECT at
the service path (404 elsewhere, refused while draining), a session slot under
`--max-sessions`, then one `ControlStream`; and how the connection ends (the
Hello deadline, a linger after the last frame, the summary log line)."""

from __future__ import annotations

import asyncio
import logging
import time

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3Connection
from aioquic.h3.events import H3Event, HeadersReceived, WebTransportStreamDataReceived
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import (
    ConnectionTerminated,
    HandshakeCompleted,
    ProtocolNegotiated,
    QuicEvent,
    StopSendingReceived,
    StreamReset,
)

from . import aioquic_internals
from .certs import describe
from .codec import CLOSE_INTERNAL_ERROR, CLOSE_OK, CLOSE_SHUTDOWN, ErrorCode
from .control import ControlStream
from .state import Shared

log = logging.getLogger("pingpong_server")

#: How long a refused or departing client may take to read its last frame and
#: close, before the server closes the connection itself (as the Rust server).
ERROR_LINGER = 1.0


class PingpongProtocol(QuicConnectionProtocol):
    """One QUIC connection: mTLS, HTTP/3, at most one pingpong session."""

    shared: Shared

    def __init__(self, *args: object, shared: Shared, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.shared = shared
        self._http: H3Connection | None = None
        self._connect_stream: int | None = None
        self._control: ControlStream | None = None
        self._hello_timer: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._session_slot = False
        self._opened = time.monotonic()
        self._outcome: str | None = None
        self.remote = "?"
        self.client_name = "unknown"
        aioquic_internals.harden(self._quic, shared.verifier, self._log_tls_refusal)

    @property
    def quic(self) -> QuicConnection:
        """The QUIC connection."""
        return self._quic

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.shared.opened(self)

    def _log_tls_refusal(self, reason: str) -> None:
        self._outcome = "tls refused"
        self.shared.refuse("tls")
        log.warning("connection refused during handshake remote=%s: %s", self._remote(), reason)

    def _remote(self) -> str:
        address = aioquic_internals.peer_address(self._quic)
        if address is None:
            return "?"
        host, port = address
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    # QUIC and HTTP/3 events ---------------------------------------------------

    def quic_event_received(self, event: QuicEvent) -> None:
        try:
            self._quic_event(event)
        except Exception:
            # A bug must cost one connection, and end it cleanly: an exception
            # that escaped here would unwind aioquic's datagram handling for every
            # connection in the same datagram batch and leave this one half-open.
            log.exception(
                "internal error remote=%s client=%s; closing the connection", self.remote, self.client_name
            )
            self._outcome = self._outcome or "internal error"
            self.close(CLOSE_INTERNAL_ERROR, "internal server error")

    def _quic_event(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated):
            self._http = H3Connection(self._quic, enable_webtransport=True)
            self.remote = self._remote()
        elif isinstance(event, HandshakeCompleted):
            certificate = aioquic_internals.peer_certificate(self._quic)
            if certificate is not None:
                self.client_name = describe(certificate)
        elif isinstance(event, ConnectionTerminated):
            self._terminated(event)
            return
        elif (
            isinstance(event, (StreamReset, StopSendingReceived))
            and self._control
            and event.stream_id == self._control.stream_id
        ):
            # aioquic has reset our side too (STOP_SENDING): the session is over.
            self._control.abort("control stream reset by client")
        if self._http is not None:
            for http_event in self._http.handle_event(event):
                self._http_event(http_event)

    def _http_event(self, event: H3Event) -> None:
        if isinstance(event, HeadersReceived):
            self._request(event)
        elif isinstance(event, WebTransportStreamDataReceived):
            self._stream_data(event)

    def _request(self, event: HeadersReceived) -> None:
        assert self._http is not None
        headers = {name: value for name, value in event.headers}
        method = headers.get(b":method")
        protocol = headers.get(b":protocol")
        path = headers.get(b":path", b"").decode("utf-8", "replace")
        if method != b"CONNECT" or protocol != b"webtransport" or path != self.shared.path:
            log.info("no session at this path (404) remote=%s path=%r", self.remote, path)
            self.shared.refuse("not_found")
            self._http.send_headers(event.stream_id, [(b":status", b"404")], end_stream=True)
            self.transmit()
            return
        if self.shared.draining:
            self.close(CLOSE_SHUTDOWN, "server shutting down")
            return
        if self._connect_stream is not None:
            self._http.send_headers(event.stream_id, [(b":status", b"429")], end_stream=True)
            self.transmit()
            return
        self._connect_stream = event.stream_id
        self._http.send_headers(
            event.stream_id,
            [(b":status", b"200"), (b"sec-webtransport-http3-draft", b"draft02")],
        )
        self.transmit()
        log.debug("session opened remote=%s client=%s", self.remote, self.client_name)
        self._hello_timer = asyncio.get_running_loop().call_later(
            self.shared.timing.hello_timeout, self._hello_deadline
        )

    def _stream_data(self, event: WebTransportStreamDataReceived) -> None:
        if event.session_id != self._connect_stream:
            return
        if self._control is None:
            self._control = ControlStream(self, event.stream_id)
            if len(self.shared.sessions) >= self.shared.max_sessions:
                log.warning(
                    "session refused: server full remote=%s client=%s limit=%d",
                    self.remote,
                    self.client_name,
                    self.shared.max_sessions,
                )
                self._control.refuse(
                    ErrorCode.LIMIT_EXCEEDED,
                    f"server full: {self.shared.max_sessions} sessions (its --max-sessions)",
                    reason="server_full",
                )
                return
            self.shared.sessions.add(self._control)
            self.shared.sessions_total += 1
            self._session_slot = True
        if event.stream_id != self._control.stream_id:
            # One control stream is the protocol; any other stream is refused.
            self._quic.stop_stream(event.stream_id, ErrorCode.LIMIT_EXCEEDED)
            self.transmit()
            return
        self._control.receive(event.data, event.stream_ended)

    def _hello_deadline(self) -> None:
        self._hello_timer = None
        if self._control is None:
            log.info("no control stream in time; closing remote=%s client=%s", self.remote, self.client_name)
            self.close(int(ErrorCode.HELLO_TIMEOUT), "no control stream")
        else:
            self._control.hello_timeout()

    def on_welcome(self) -> None:
        """The session is established: the Hello deadline is over."""
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None

    # Ending -----------------------------------------------------------------

    def drain(self) -> None:
        """The server is shutting down."""
        if self._control is not None and self._control.session.version is not None:
            self._control.drain()
        else:
            self.close(CLOSE_SHUTDOWN, "server shutting down")

    def end_session(self, outcome: str, code: int, reason: str) -> None:
        """The session's protocol is over: free its slot, and close the
        connection once the client has read the last frame (or after a second)."""
        self._outcome = self._outcome or outcome
        self._release_slot()
        if self._linger is None:
            self._linger = asyncio.get_running_loop().call_later(ERROR_LINGER, self.close, code, reason)

    def close(self, error_code: int = CLOSE_SHUTDOWN, reason_phrase: str = "server shutting down") -> None:
        """Closes the connection with an application error code."""
        if self._outcome is None and error_code == CLOSE_SHUTDOWN:
            self._outcome = "server shutting down"
        self._quic.close(error_code=error_code, reason_phrase=reason_phrase)
        self.transmit()

    def _release_slot(self) -> None:
        if self._session_slot and self._control is not None:
            self.shared.sessions.discard(self._control)
            self._session_slot = False

    def _terminated(self, event: ConnectionTerminated) -> None:
        for timer in (self._hello_timer, self._linger):
            if timer is not None:
                timer.cancel()
        self._hello_timer = self._linger = None
        if self._control is not None:
            self._control.closed()
        self._release_slot()
        self.shared.closed(self)
        if self._connect_stream is None:
            return
        outcome = self._outcome
        if outcome is None:
            outcome = (
                "closed by client"
                if event.error_code == CLOSE_OK
                else f"connection lost ({event.reason_phrase or event.error_code})"
            )
        log.info(
            "session remote=%s client=%s pings=%d duration=%.1fs end=%s",
            self.remote,
            self.client_name,
            self._control.pings if self._control else 0,
            time.monotonic() - self._opened,
            outcome,
        )
