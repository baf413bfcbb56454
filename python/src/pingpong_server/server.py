"""The WebTransport server: QUIC + HTTP/3 from aioquic, one pingpong session
per connection, driven by the sans-IO `Session`. Mirrors `src/server/`:

- `Shared`: what every connection shares (identity, limits, outboxes, the
  set of live sessions, the drain).
- `PingpongProtocol`: one QUIC connection: TLS hooks, HTTP/3 events, the
  CONNECT at the service path (404 elsewhere), then one `ControlStream`.
- `ControlStream`: reads frames, answers them, keeps timers (Hello deadline,
  stalled frame, drain) and back-pressure.
- `serve` / `Shared.drain`: start, and the SIGTERM path (Drain to sessions,
  wait for them to leave, close the rest).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass, field

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import QuicServer
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import H3Event, HeadersReceived, WebTransportStreamDataReceived
from aioquic.quic.configuration import QuicConfiguration
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
from .certs import ClientVerifier, ServerMaterial, describe
from .codec import (
    ClientMessage,
    Drain,
    Error,
    ErrorCode,
    FrameDecoder,
    FrameError,
    Ping,
    Pong,
    Welcome,
    decode_client_message,
    encode_frame,
    encode_pong,
)
from .outbox import Outbox, Outboxes
from .session import Action, Close, Reply, ReplyAndClose, ServerInfo, Session

log = logging.getLogger("pingpong_server")

#: Application close code of a session that ended normally.
CLOSE_OK = 0
#: Application close code sent to sessions when the server shuts down.
CLOSE_SHUTDOWN = 0x10
#: Application close code of a connection that hit a bug in this server.
CLOSE_INTERNAL_ERROR = 0x11
#: How long a refused or departing client may take to read its last frame and
#: close, before the server closes the connection itself (as the Rust server).
ERROR_LINGER = 1.0
#: A frame that has begun must be complete within this time: a 64 KiB frame
#: takes well under a second on a bad link, so this only stops slowloris peers.
FRAME_TIMEOUT = 10.0
#: QUIC idle timeout, as `src/transport.rs`: the Rust client sends keep-alives
#: every 500 ms, so two seconds of silence means it is gone.
IDLE_TIMEOUT = 2.0
#: Replies not yet acknowledged by the client above this pause reading its
#: pings (back-pressure: a client that does not read its pongs stops being
#: answered instead of growing the server's memory).
SEND_HIGH_WATER = 1024 * 1024
#: Pings received while paused, above this, end the session (LIMIT_EXCEEDED).
MAX_PENDING_INPUT = 1024 * 1024
#: While paused, how often the send buffer is checked again (aioquic has no
#: event for acknowledgements).
RESUME_POLL = 0.05


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
    sessions: set[ControlStream] = field(default_factory=set)
    connections: set[PingpongProtocol] = field(default_factory=set)
    #: Set whenever no connection is open.
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    draining: bool = False
    pings: int = 0

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

    def opened(self, connection: PingpongProtocol) -> None:
        """A connection started."""
        self.connections.add(connection)
        self.idle.clear()

    def closed(self, connection: PingpongProtocol) -> None:
        """A connection ended."""
        self.connections.discard(connection)
        if not self.connections:
            self.idle.set()


class ControlStream:
    """The control stream of one session: frames in, replies out."""

    def __init__(self, connection: PingpongProtocol, stream_id: int) -> None:
        self._connection = connection
        self._shared = connection.shared
        self.stream_id = stream_id
        self.session = Session(self._shared.info)
        self._decoder = FrameDecoder()
        self._outbox: Outbox | None = None
        self._stall_timer: asyncio.TimerHandle | None = None
        self._drain_timer: asyncio.TimerHandle | None = None
        self._resume_timer: asyncio.TimerHandle | None = None
        self._ended = False
        self._input_ended = False
        self.pings = 0

    # Input ------------------------------------------------------------------

    def receive(self, data: bytes, stream_ended: bool) -> None:
        """Bytes from the client, as they arrive."""
        if self._ended:
            return
        self._decoder.push(data)
        self._input_ended = self._input_ended or stream_ended
        if self._resume_timer is not None:
            if self._decoder.buffered > MAX_PENDING_INPUT:
                self.refuse(
                    ErrorCode.LIMIT_EXCEEDED,
                    f"client does not read its pongs: {self._decoder.buffered} bytes of pings waiting",
                )
            return
        self._process()

    def _process(self) -> None:
        out = bytearray()
        now = time.monotonic()
        quic = self._connection.quic
        completed = False
        while not self._ended:
            if aioquic_internals.buffered_bytes(quic, self.stream_id) + len(out) > SEND_HIGH_WATER:
                self._pause()
                break
            try:
                body = self._decoder.next_body()
            except FrameError as error:
                self._finish(out, self.session.on_frame_error(error))
                return
            if body is None:
                break
            completed = True
            try:
                message = decode_client_message(body)
            except FrameError as error:
                self._finish(out, self.session.on_frame_error(error))
                return
            action = self._respond(message, now)
            if isinstance(action, Reply):
                reply = action.message
                out += (
                    encode_pong(reply.seq, reply.payload) if isinstance(reply, Pong) else encode_frame(reply)
                )
                if isinstance(action.message, Welcome):
                    self._connection.on_welcome()
                    self._replay(out)
            else:
                self._finish(out, action)
                return
        if self._ended:
            return
        if self._input_ended and self._resume_timer is None and self._decoder.buffered == 0:
            # The client closed its side between frames: it has left, without a
            # Goodbye, so its outbox stays for a resume (as in the Rust server).
            self._finish(out, Close(), goodbye=False)
            return
        if self._input_ended and self._resume_timer is None:
            try:
                self._decoder.finish()
            except FrameError as error:
                self._finish(out, self.session.on_frame_error(error))
                return
        if out and not self._send(bytes(out)):
            return
        self._watch_stall(completed)

    def _replay(self, out: bytearray) -> None:
        """A returning client gets the pongs it missed."""
        resume_after = self.session.resume_after
        if self._outbox is None:
            return
        replayed = 0
        for seq, payload in self._outbox.after(resume_after):
            out += encode_frame(Pong(seq, payload))
            replayed += 1
        if resume_after == 0 and replayed == 0:
            return  # a new client, not a resumed one
        log.info(
            "session resumed remote=%s client=%s after_seq=%d replayed=%d",
            self._connection.remote,
            self._connection.client_name,
            resume_after,
            replayed,
        )

    def _respond(self, message: ClientMessage, now: float) -> Action:
        if isinstance(message, Ping) and self._outbox is not None and self.session.version:
            kept = self._outbox.find(message.seq)
            if kept is not None:
                return Reply(Pong(message.seq, kept))
            action = self.session.on_message(message)
            self._outbox.record(message.seq, message.payload, now)
            self.pings += 1
            self._shared.pings += 1
            return action
        action = self.session.on_message(message)
        if isinstance(action, Reply) and isinstance(action.message, Welcome):
            assert self.session.client_id is not None
            self._outbox = self._shared.outboxes.for_client(self.session.client_id)
        return action

    def _send(self, data: bytes, end_stream: bool = False) -> bool:
        """Writes on the control stream; False if the client has reset or
        stopped it (aioquic raises on such a stream), which ends the session."""
        try:
            self._connection.quic.send_stream_data(self.stream_id, data, end_stream=end_stream)
        except (RuntimeError, ValueError, AssertionError):
            self.abort("control stream stopped by client")
            return False
        self._connection.transmit()
        return True

    # Ending -----------------------------------------------------------------

    def abort(self, outcome: str) -> None:
        """The client reset or stopped the control stream: nothing more can be
        said on it; the session is over."""
        if self._ended:
            return
        self._ended = True
        self._cancel_timers()
        self._connection.end_session(outcome, CLOSE_OK, "")

    def _finish(self, out: bytearray, action: ReplyAndClose | Close, goodbye: bool = True) -> None:
        """Sends what is pending and the last word, then ends the session."""
        self._ended = True
        self._cancel_timers()
        if isinstance(action, ReplyAndClose):
            out += encode_frame(action.message)
        elif goodbye and self.session.client_id is not None:
            # Goodbye: the client will not resume; its outbox can go.
            self._shared.outboxes.forget(self.session.client_id)
        try:
            self._connection.quic.send_stream_data(self.stream_id, bytes(out), end_stream=True)
            self._connection.transmit()
        except (RuntimeError, ValueError, AssertionError):
            pass  # the client stopped the stream; the session ends all the same
        if isinstance(action, ReplyAndClose):
            error = action.message
            log.warning(
                "session refused remote=%s client=%s code=%d message=%r",
                self._connection.remote,
                self._connection.client_name,
                error.code,
                error.message,
            )
            self._connection.end_session("refused", error.code, error.message)
        else:
            self._connection.end_session("closed by client", CLOSE_OK, "")

    def refuse(self, code: ErrorCode, message: str) -> None:
        """Ends the session with an `Error`."""
        self._finish(bytearray(), ReplyAndClose(Error(int(code), message)))

    def hello_timeout(self) -> None:
        """No Hello within the deadline."""
        if not self._ended and self.session.version is None:
            self._finish(bytearray(), self.session.on_hello_timeout())

    def drain(self) -> None:
        """The server is shutting down: tell the client to move, and give it
        `drain_timeout` to go while its pings are still answered."""
        if self._ended or self._drain_timer is not None:
            return
        if not self._send(encode_frame(Drain("server shutting down", 0))):
            return
        loop = asyncio.get_running_loop()
        self._drain_timer = loop.call_later(
            self._shared.timing.drain_timeout,
            self._connection.close,
            CLOSE_SHUTDOWN,
            "server shutting down",
        )

    def closed(self) -> None:
        """The connection is gone."""
        self._ended = True
        self._cancel_timers()

    def _cancel_timers(self) -> None:
        for timer in (self._stall_timer, self._drain_timer, self._resume_timer):
            if timer is not None:
                timer.cancel()
        self._stall_timer = self._drain_timer = self._resume_timer = None

    # Timers -----------------------------------------------------------------

    def _watch_stall(self, frame_completed: bool) -> None:
        """A started frame must be complete within FRAME_TIMEOUT."""
        if self._decoder.buffered == 0 or frame_completed:
            if self._stall_timer is not None:
                self._stall_timer.cancel()
                self._stall_timer = None
        if self._decoder.buffered and self._stall_timer is None and self._resume_timer is None:
            self._stall_timer = asyncio.get_running_loop().call_later(FRAME_TIMEOUT, self._stalled)

    def _stalled(self) -> None:
        self._stall_timer = None
        if not self._ended:
            self._finish(
                bytearray(),
                self.session.on_stall(
                    f"frame not completed within {FRAME_TIMEOUT:.0f} s "
                    f"({self._decoder.buffered} bytes received)"
                ),
            )

    def _pause(self) -> None:
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        if self._resume_timer is None:
            self._resume_timer = asyncio.get_running_loop().call_later(RESUME_POLL, self._resume)

    def _resume(self) -> None:
        self._resume_timer = None
        if self._ended:
            return
        if aioquic_internals.buffered_bytes(self._connection.quic, self.stream_id) > SEND_HIGH_WATER // 2:
            self._pause()
            return
        self._process()


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
                )
                return
            self.shared.sessions.add(self._control)
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

    def close(self) -> None:
        """Stops receiving datagrams."""
        self.protocol.close()


def bind_socket(host: str, port: int) -> socket.socket:
    """A non-blocking UDP socket on `host`:`port` (`::` = both families)."""
    if host in ("::", "[::]"):
        try:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(("::", port))
        except OSError as error:
            log.warning("IPv6 unavailable (%s), listening on 0.0.0.0:%d", error, port)
            return bind_socket("0.0.0.0", port)
    else:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError:
            sock.close()
            raise
    sock.setblocking(False)
    return sock
