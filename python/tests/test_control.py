"""The control stream against a fake connection: Hello then pings get Welcome
then pongs; a malformed frame is refused and counted; a client that does not
read its pongs stops being answered until it does; a drain says Drain and
closes after the drain timeout; a returning client gets the pongs it missed."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from conftest import make_ca

from pingpong_server.certs import ClientVerifier
from pingpong_server.codec import (
    CLOSE_SHUTDOWN,
    Drain,
    Error,
    ErrorCode,
    FrameDecoder,
    Hello,
    Ping,
    Pong,
    ServerMessage,
    Welcome,
    decode_server_message,
    encode_frame,
)
from pingpong_server.control import SEND_HIGH_WATER, ControlStream
from pingpong_server.session import ServerInfo
from pingpong_server.state import Shared, Timing

STREAM = 4
CLIENT = b"\x07" * 16


class FakeQuic:
    """Records what is written; `unacknowledged` is what aioquic would still hold."""

    def __init__(self) -> None:
        self.sent = bytearray()
        self.ended = False
        self.unacknowledged = 0
        self._streams: dict[int, SimpleNamespace] = {}
        #: Set on every write, for tests that wait for one.
        self.wrote = asyncio.Event()

    def send_stream_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        assert stream_id == STREAM
        self.sent += data
        self.wrote.set()
        self.ended = self.ended or end_stream
        self._streams[STREAM] = SimpleNamespace(sender=SimpleNamespace(_buffer=bytes(self.unacknowledged)))

    def acknowledge(self) -> None:
        self.unacknowledged = 0
        self._streams[STREAM] = SimpleNamespace(sender=SimpleNamespace(_buffer=b""))


class FakeConnection:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.quic = FakeQuic()
        self.remote = "192.0.2.1:5000"
        self.client_name = "alice"
        self.welcomed = 0
        self.ended: tuple[str, int, str] | None = None
        self.closed_with: tuple[int, str] | None = None
        #: Set when the connection is closed.
        self.closed = asyncio.Event()

    def transmit(self) -> None:
        pass

    def on_welcome(self) -> None:
        self.welcomed += 1

    def end_session(self, outcome: str, code: int, reason: str) -> None:
        self.ended = (outcome, code, reason)

    def close(self, error_code: int = CLOSE_SHUTDOWN, reason_phrase: str = "") -> None:
        self.closed_with = (error_code, reason_phrase)
        self.closed.set()


async def replies_reach(connection: FakeConnection, count: int, timeout: float = 5.0) -> int:
    """Waits, write by write, until `count` replies were sent (at most
    `timeout` seconds); how many there are."""

    async def writes() -> None:
        while len(replies(connection)) < count:
            connection.quic.wrote.clear()
            await connection.quic.wrote.wait()

    try:
        await asyncio.wait_for(writes(), timeout)
    except TimeoutError:
        pass
    return len(replies(connection))


def shared(drain_timeout: float = 5.0) -> Shared:
    return Shared(
        info=ServerInfo(server_id=bytes(range(16)), instance="snake"),
        path="/pingpong",
        verifier=ClientVerifier([make_ca("control CA").cert]),
        max_sessions=10,
        timing=Timing(drain_timeout=drain_timeout),
    )


def replies(connection: FakeConnection) -> list[ServerMessage]:
    decoder = FrameDecoder()
    decoder.push(bytes(connection.quic.sent))
    messages = []
    while (body := decoder.next_body()) is not None:
        messages.append(decode_server_message(body))
    return messages


def hello(resume_after: int = 0) -> bytes:
    return encode_frame(Hello(1, CLIENT, resume_after))


def test_hello_and_pings_get_welcome_and_pongs_with_their_payloads() -> None:
    connection = FakeConnection(shared())
    control = ControlStream(connection, STREAM)
    control.receive(hello() + encode_frame(Ping(1, b"abc")), stream_ended=False)
    control.receive(encode_frame(Ping(2, b"")), stream_ended=False)
    messages = replies(connection)
    assert isinstance(messages[0], Welcome) and messages[0].instance == "snake"
    assert messages[1:] == [Pong(1, b"abc"), Pong(2, b"")]
    assert connection.welcomed == 1
    assert connection.shared.pings == 2 and control.pings == 2
    assert connection.ended is None


def test_a_malformed_frame_is_refused_and_counted() -> None:
    connection = FakeConnection(shared())
    control = ControlStream(connection, STREAM)
    control.receive(hello() + b"\x02\x09\x09", stream_ended=False)
    last = replies(connection)[-1]
    assert isinstance(last, Error)
    assert connection.quic.ended
    assert connection.ended is not None and connection.ended[0] == "refused"
    assert connection.ended[1] == last.code
    assert connection.shared.refused["protocol"] == 1


def test_a_client_that_does_not_read_its_pongs_is_answered_once_it_does() -> None:
    async def scenario() -> tuple[int, int]:
        connection = FakeConnection(shared())
        control = ControlStream(connection, STREAM)
        control.receive(hello(), stream_ended=False)
        connection.quic.unacknowledged = SEND_HIGH_WATER + 1
        connection.quic._streams[STREAM] = SimpleNamespace(
            sender=SimpleNamespace(_buffer=bytes(SEND_HIGH_WATER + 1))
        )
        control.receive(b"".join(encode_frame(Ping(seq, b"x")) for seq in range(1, 4)), stream_ended=False)
        paused = len(replies(connection))
        connection.quic.acknowledge()
        return paused, await replies_reach(connection, 4)

    paused, resumed = asyncio.run(scenario())
    assert paused == 1  # the Welcome only
    assert resumed == 4


def test_too_many_unread_pings_end_the_session() -> None:
    async def scenario() -> FakeConnection:
        connection = FakeConnection(shared())
        control = ControlStream(connection, STREAM)
        control.receive(hello(), stream_ended=False)
        connection.quic._streams[STREAM] = SimpleNamespace(
            sender=SimpleNamespace(_buffer=bytes(SEND_HIGH_WATER + 1))
        )
        control.receive(encode_frame(Ping(1, b"x")), stream_ended=False)
        control.receive(bytes(2 * 1024 * 1024), stream_ended=False)
        return connection

    connection = asyncio.run(scenario())
    last = replies(connection)[-1]
    assert isinstance(last, Error) and last.code == ErrorCode.LIMIT_EXCEEDED
    assert "does not read its pongs" in last.message


def test_a_drain_says_drain_and_closes_after_the_drain_timeout() -> None:
    async def scenario() -> FakeConnection:
        connection = FakeConnection(shared(drain_timeout=0.05))
        control = ControlStream(connection, STREAM)
        control.receive(hello(), stream_ended=False)
        control.drain()
        control.receive(encode_frame(Ping(1, b"still")), stream_ended=False)
        await asyncio.wait_for(connection.closed.wait(), 5)
        return connection

    connection = asyncio.run(scenario())
    messages = replies(connection)
    assert isinstance(messages[1], Drain)
    assert messages[2] == Pong(1, b"still")  # answered while it moves
    assert connection.closed_with == (CLOSE_SHUTDOWN, "server shutting down")


def test_a_returning_client_gets_the_pongs_it_missed() -> None:
    state = shared()
    first = FakeConnection(state)
    ControlStream(first, STREAM).receive(
        hello() + b"".join(encode_frame(Ping(seq, bytes([seq]))) for seq in (1, 2, 3)), stream_ended=False
    )
    # It got pong 1 only, then its connection broke (no Goodbye).
    again = FakeConnection(state)
    ControlStream(again, STREAM).receive(hello(resume_after=1), stream_ended=False)
    assert replies(again)[1:] == [Pong(2, b"\x02"), Pong(3, b"\x03")]
