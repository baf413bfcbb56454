"""One session's protocol logic as a sans-IO state machine: messages in,
actions out. No sockets, no clocks; `control.py` drives it. Mirrors
`src/server/session.rs`, so that a client cannot tell the servers apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from .codec import (
    MAX_VERSION,
    MIN_VERSION,
    ClientMessage,
    Error,
    ErrorCode,
    FrameError,
    Goodbye,
    Hello,
    Oversized,
    Ping,
    Pong,
    ServerMessage,
    ServerState,
    Welcome,
)


@dataclass(frozen=True)
class ServerInfo:
    """Who the server is, as told in `Welcome`."""

    server_id: bytes
    instance: str


@dataclass(frozen=True)
class Reply:
    """Send this message and keep going."""

    message: ServerMessage


@dataclass(frozen=True)
class ReplyAndClose:
    """Send this message, then end the session."""

    message: Error


@dataclass(frozen=True)
class Close:
    """End the session without a word (the client said Goodbye)."""


Action = Reply | ReplyAndClose | Close


def negotiate_version(offered: int) -> int | None:
    """The version to use with a client whose highest is `offered`, if any."""
    version = min(offered, MAX_VERSION)
    return version if version >= MIN_VERSION else None


class Session:
    """State of one session: waiting for Hello, then established."""

    def __init__(self, info: ServerInfo) -> None:
        self._info = info
        self.version: int | None = None
        self.client_id: bytes | None = None
        self.resume_after = 0

    def on_message(self, message: ClientMessage) -> Action:
        """Handles one message from the client."""
        match message:
            case Hello(offered, client_id, resume_after) if self.version is None:
                version = negotiate_version(offered)
                if version is None:
                    return _close_with(
                        ErrorCode.UNSUPPORTED_VERSION,
                        f"protocol version {offered} is not supported; "
                        f"this server speaks {MIN_VERSION}..={MAX_VERSION}",
                    )
                self.version = version
                self.client_id = client_id
                self.resume_after = resume_after
                return Reply(Welcome(version, self._info.server_id, self._info.instance, ServerState.SERVING))
            case Hello():
                return _close_with(ErrorCode.UNEXPECTED_MESSAGE, "Hello sent twice in one session")
            case Ping(seq, payload) if self.version is not None:
                return Reply(Pong(seq, payload))
            case Ping():
                return _close_with(
                    ErrorCode.UNEXPECTED_MESSAGE, "Ping before Hello: a session starts with Hello"
                )
            case Goodbye():
                return Close()

    def on_frame_error(self, error: FrameError) -> ReplyAndClose:
        """The answer to a frame that could not be decoded."""
        code = ErrorCode.LIMIT_EXCEEDED if isinstance(error, Oversized) else ErrorCode.MALFORMED_FRAME
        return _close_with(code, str(error))

    def on_stall(self, detail: str) -> ReplyAndClose:
        """The answer to a client that started a frame and did not finish it."""
        return _close_with(ErrorCode.LIMIT_EXCEEDED, detail)

    def on_hello_timeout(self) -> ReplyAndClose:
        """The answer to a client that sent no Hello in time."""
        return _close_with(ErrorCode.HELLO_TIMEOUT, "no Hello received in time")


def _close_with(code: ErrorCode, message: str) -> ReplyAndClose:
    return ReplyAndClose(Error(int(code), message))
