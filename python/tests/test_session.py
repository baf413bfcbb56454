"""The sans-IO session: the same answers as `src/server/session.rs`."""

from __future__ import annotations

from pingpong_server.codec import (
    Error,
    ErrorCode,
    Garbage,
    Goodbye,
    Hello,
    Oversized,
    Ping,
    Pong,
    ServerState,
    Welcome,
)
from pingpong_server.session import Close, Reply, ReplyAndClose, ServerInfo, Session, negotiate_version

INFO = ServerInfo(server_id=bytes(range(16)), instance="snake")


def error_code(action: object) -> int | None:
    if isinstance(action, ReplyAndClose) and isinstance(action.message, Error):
        return action.message.code
    return None


def test_hello_then_pings_get_welcome_then_pongs() -> None:
    session = Session(INFO)
    action = session.on_message(Hello(1, b"\x01" * 16, 0))
    assert action == Reply(Welcome(1, INFO.server_id, "snake", ServerState.SERVING))
    assert session.client_id == b"\x01" * 16
    assert session.on_message(Ping(7, b"x")) == Reply(Pong(7, b"x"))


def test_versions_are_negotiated_down_and_zero_is_refused() -> None:
    assert negotiate_version(42) == 1
    assert negotiate_version(1) == 1
    assert negotiate_version(0) is None
    session = Session(INFO)
    assert isinstance(session.on_message(Hello(65535, bytes(16), 0)), Reply)
    assert session.version == 1
    assert error_code(Session(INFO).on_message(Hello(0, bytes(16), 0))) == ErrorCode.UNSUPPORTED_VERSION


def test_ping_before_hello_and_double_hello_are_refused() -> None:
    assert error_code(Session(INFO).on_message(Ping(1, b""))) == ErrorCode.UNEXPECTED_MESSAGE
    session = Session(INFO)
    session.on_message(Hello(1, bytes(16), 0))
    assert error_code(session.on_message(Hello(1, bytes(16), 0))) == ErrorCode.UNEXPECTED_MESSAGE


def test_goodbye_closes_quietly_and_bad_input_has_codes() -> None:
    assert Session(INFO).on_message(Goodbye()) == Close()
    session = Session(INFO)
    assert error_code(session.on_frame_error(Oversized(70000, 65536))) == ErrorCode.LIMIT_EXCEEDED
    assert error_code(session.on_frame_error(Garbage("x"))) == ErrorCode.MALFORMED_FRAME
    assert error_code(session.on_hello_timeout()) == ErrorCode.HELLO_TIMEOUT
    assert error_code(session.on_stall("slow")) == ErrorCode.LIMIT_EXCEEDED
