"""The control stream of one session: frames in, replies out, driven by the
sans-IO `Session` (as `src/server/handler.rs` drives `session.rs`). Keeps the
session's timers (stalled frame, drain) and its back-pressure: a client that
does not read its pongs stops being answered instead of growing the server's
memory. Knows its connection only through `SessionConnection`, so that it is
tested against a fake (tests/test_control.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from aioquic.quic.connection import QuicConnection

from . import aioquic_internals
from .codec import (
    CLOSE_OK,
    CLOSE_SHUTDOWN,
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
from .outbox import Outbox
from .session import Action, Close, Reply, ReplyAndClose, Session
from .state import Shared

log = logging.getLogger("pingpong_server")

#: A frame that has begun must be complete within this time: a 64 KiB frame
#: takes well under a second on a bad link, so this only stops slowloris peers.
FRAME_TIMEOUT = 10.0
#: Replies not yet acknowledged by the client above this pause reading its
#: pings (back-pressure: a client that does not read its pongs stops being
#: answered instead of growing the server's memory).
SEND_HIGH_WATER = 1024 * 1024
#: Pings received while paused, above this, end the session (LIMIT_EXCEEDED).
MAX_PENDING_INPUT = 1024 * 1024
#: While paused, how often the send buffer is checked again (aioquic has no
#: event for acknowledgements).
RESUME_POLL = 0.05


class SessionConnection(Protocol):
    """What a control stream asks of its connection."""

    shared: Shared
    remote: str
    client_name: str

    @property
    def quic(self) -> QuicConnection:
        """The QUIC connection the stream is on."""

    def transmit(self) -> None:
        """Sends what was queued."""

    def on_welcome(self) -> None:
        """The session is established."""

    def end_session(self, outcome: str, code: int, reason: str) -> None:
        """The session's protocol is over."""

    def close(self, error_code: int = ..., reason_phrase: str = ...) -> None:
        """Closes the connection."""


class ControlStream:
    """The control stream of one session: frames in, replies out."""

    def __init__(self, connection: SessionConnection, stream_id: int) -> None:
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

    def _finish(
        self, out: bytearray, action: ReplyAndClose | Close, goodbye: bool = True, reason: str = "protocol"
    ) -> None:
        """Sends what is pending and the last word, then ends the session; a
        refusal is counted under `reason`."""
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
            self._shared.refuse(reason)
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

    def refuse(self, code: ErrorCode, message: str, reason: str = "protocol") -> None:
        """Ends the session with an `Error`, counted as refused for `reason`."""
        self._finish(bytearray(), ReplyAndClose(Error(int(code), message)), reason=reason)

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
