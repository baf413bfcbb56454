"""Protocol v1 on the wire: the messages, their postcard encoding, and framing.

Byte-for-byte the same as the Rust side (`src/proto/`, docs/protocol.md): a frame
is an unsigned LEB128 length (at most 64 KiB) followed by one postcard-encoded
message. Postcard writes an enum as a varint tag and then its fields in order;
integers as LEB128 varints; `[u8; 16]` as 16 raw bytes; byte strings and
strings as a varint length and the bytes. Only the v1 messages are implemented,
which is all a server needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

#: Longest frame body either side accepts (and the longest it sends).
MAX_FRAME_LEN = 64 * 1024
#: A u64 varint takes at most ten bytes.
_MAX_VARINT_BYTES = 10
#: Versions this server speaks.
MIN_VERSION = 1
MAX_VERSION = 1


class FrameError(Exception):
    """A frame that cannot be decoded. Subclasses say why."""


class Truncated(FrameError):
    """The stream ended inside a frame."""

    def __init__(self, buffered: int) -> None:
        super().__init__(f"truncated frame: stream ended with {buffered} byte(s) of an incomplete frame")
        self.buffered = buffered


class Oversized(FrameError):
    """The length prefix announces more than the protocol allows."""

    def __init__(self, length: int, maximum: int) -> None:
        super().__init__(f"oversized frame: {length} bytes announced, the limit is {maximum}")
        self.length = length
        self.maximum = maximum


class BadLength(FrameError):
    """The length prefix is not a valid varint."""

    def __init__(self) -> None:
        super().__init__("malformed frame length prefix")


class UnknownTag(FrameError):
    """The message tag is not one this version knows."""

    def __init__(self, tag: int) -> None:
        super().__init__(f"unknown message tag {tag}")
        self.tag = tag


class Garbage(FrameError):
    """The body does not decode as the message its tag announces."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"malformed message: {reason}")
        self.reason = reason


class ErrorCode(IntEnum):
    """Codes of the `Error` message (stable, append only)."""

    UNSUPPORTED_VERSION = 1
    MALFORMED_FRAME = 2
    UNEXPECTED_MESSAGE = 3
    LIMIT_EXCEEDED = 4
    HELLO_TIMEOUT = 5
    SHUTTING_DOWN = 6


#: Application close code of a session that ended normally.
CLOSE_OK = 0
#: Application close code sent to sessions when the server shuts down.
CLOSE_SHUTDOWN = 0x10
#: Application close code of a connection that hit a bug in this server.
CLOSE_INTERNAL_ERROR = 0x11


class ServerState(IntEnum):
    """What a server says about itself in `Welcome` and TXT."""

    SERVING = 0
    DRAINING = 1


# Client -> server ----------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    """First message of a session (tag 0)."""

    version: int
    client_id: bytes
    resume_after: int


@dataclass(frozen=True)
class Ping:
    """A ping to be answered with the same seq and payload (tag 1)."""

    seq: int
    payload: bytes


@dataclass(frozen=True)
class Goodbye:
    """The client is leaving (tag 2)."""


ClientMessage = Hello | Ping | Goodbye

# Server -> client ----------------------------------------------------------


@dataclass(frozen=True)
class Welcome:
    """Answer to `Hello` (tag 0)."""

    version: int
    server_id: bytes
    instance: str
    state: ServerState


@dataclass(frozen=True)
class Pong:
    """Answer to a `Ping` (tag 1)."""

    seq: int
    payload: bytes


@dataclass(frozen=True)
class Drain:
    """The server is going away; reconnect elsewhere (tag 2)."""

    reason: str
    reconnect_after_ms: int


@dataclass(frozen=True)
class Error:
    """A fatal session error; the session ends after it (tag 3)."""

    code: int
    message: str


ServerMessage = Welcome | Pong | Drain | Error


# Primitive encoding ---------------------------------------------------------


def write_varint(out: bytearray, value: int) -> None:
    """Appends `value` as an unsigned LEB128 varint."""
    if value < 0:
        raise ValueError("varints are unsigned")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _uint(out: bytearray, value: int, bits: int, what: str) -> None:
    if not 0 <= value < (1 << bits):
        raise ValueError(f"{what} {value} does not fit u{bits}")
    write_varint(out, value)


def _bytes(out: bytearray, value: bytes) -> None:
    write_varint(out, len(value))
    out += value


def _id(out: bytearray, value: bytes, what: str) -> None:
    if len(value) != 16:
        raise ValueError(f"{what} must be 16 bytes, not {len(value)}")
    out += value


class _Reader:
    """Reads postcard primitives from one frame body."""

    def __init__(self, body: bytes | memoryview) -> None:
        self._body = memoryview(body)
        self._at = 0

    def varint(self, bits: int, what: str) -> int:
        # Most values (tags, lengths, small seqs) fit one byte.
        if self._at < len(self._body) and self._body[self._at] < 0x80:
            self._at += 1
            return self._body[self._at - 1]
        # Postcard allows ceil(bits / 7) bytes and no bits beyond the type.
        max_bytes = (bits + 6) // 7
        value = 0
        for i in range(max_bytes):
            if self._at >= len(self._body):
                raise Garbage(f"{what}: unexpected end of frame")
            byte = self._body[self._at]
            self._at += 1
            value |= (byte & 0x7F) << (7 * i)
            if byte & 0x80 == 0:
                if value >= 1 << bits:
                    raise Garbage(f"{what}: {value} does not fit u{bits}")
                return value
        raise Garbage(f"{what}: varint longer than u{bits} allows")

    def raw(self, n: int, what: str) -> bytes:
        if self._at + n > len(self._body):
            raise Garbage(f"{what}: unexpected end of frame")
        value = bytes(self._body[self._at : self._at + n])
        self._at += n
        return value

    def byte_string(self, what: str) -> bytes:
        return self.raw(self.varint(64, what), what)

    def string(self, what: str) -> str:
        try:
            return self.byte_string(what).decode("utf-8")
        except UnicodeDecodeError as error:
            raise Garbage(f"{what}: not UTF-8") from error

    def end(self) -> None:
        if self._at != len(self._body):
            raise Garbage(f"{len(self._body) - self._at} trailing byte(s) after the message")


# Messages ---------------------------------------------------------------------


def encode_body(message: ClientMessage | ServerMessage) -> bytes:
    """The postcard encoding of one message (no length prefix)."""
    out = bytearray()
    match message:
        case Hello(version, client_id, resume_after):
            write_varint(out, 0)
            _uint(out, version, 16, "version")
            _id(out, client_id, "client_id")
            _uint(out, resume_after, 64, "resume_after")
        case Ping(seq, payload):
            write_varint(out, 1)
            _uint(out, seq, 64, "seq")
            _bytes(out, payload)
        case Goodbye():
            write_varint(out, 2)
        case Welcome(version, server_id, instance, state):
            write_varint(out, 0)
            _uint(out, version, 16, "version")
            _id(out, server_id, "server_id")
            _bytes(out, instance.encode("utf-8"))
            write_varint(out, int(state))
        case Pong(seq, payload):
            write_varint(out, 1)
            _uint(out, seq, 64, "seq")
            _bytes(out, payload)
        case Drain(reason, reconnect_after_ms):
            write_varint(out, 2)
            _bytes(out, reason.encode("utf-8"))
            _uint(out, reconnect_after_ms, 32, "reconnect_after_ms")
        case Error(code, text):
            write_varint(out, 3)
            _uint(out, code, 16, "code")
            _bytes(out, text.encode("utf-8"))
    return bytes(out)


def _varint_bytes(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    write_varint(out, value)
    return bytes(out)


def encode_pong(seq: int, payload: bytes) -> bytes:
    """`encode_frame(Pong(seq, payload))`, without the generic dispatch: the
    server's hot path."""
    if not 0 <= seq < 1 << 64:
        raise ValueError(f"seq {seq} does not fit u64")
    body = b"\x01" + _varint_bytes(seq) + _varint_bytes(len(payload)) + payload
    if len(body) > MAX_FRAME_LEN:
        raise Oversized(len(body), MAX_FRAME_LEN)
    return _varint_bytes(len(body)) + body


def encode_frame(message: ClientMessage | ServerMessage) -> bytes:
    """One complete frame: length prefix and body."""
    body = encode_body(message)
    if len(body) > MAX_FRAME_LEN:
        raise Oversized(len(body), MAX_FRAME_LEN)
    out = bytearray()
    write_varint(out, len(body))
    out += body
    return bytes(out)


def _tag(reader: _Reader, tags: int) -> int:
    try:
        tag = reader.varint(32, "message tag")
    except Garbage as error:
        raise Garbage("frame body holds no valid message tag") from error
    if tag >= tags:
        raise UnknownTag(tag)
    return tag


def decode_client_message(body: bytes | memoryview) -> ClientMessage:
    """Decodes one client message body (what the server receives)."""
    reader = _Reader(body)
    message: ClientMessage
    match _tag(reader, 3):
        case 0:
            message = Hello(
                version=reader.varint(16, "version"),
                client_id=reader.raw(16, "client_id"),
                resume_after=reader.varint(64, "resume_after"),
            )
        case 1:
            message = Ping(seq=reader.varint(64, "seq"), payload=reader.byte_string("payload"))
        case _:
            message = Goodbye()
    reader.end()
    return message


def decode_server_message(body: bytes | memoryview) -> ServerMessage:
    """Decodes one server message body (used by tests and tools)."""
    reader = _Reader(body)
    message: ServerMessage
    match _tag(reader, 4):
        case 0:
            version = reader.varint(16, "version")
            server_id = reader.raw(16, "server_id")
            instance = reader.string("instance")
            state = reader.varint(32, "state")
            if state > 1:
                raise Garbage(f"state: unknown variant {state}")
            message = Welcome(version, server_id, instance, ServerState(state))
        case 1:
            message = Pong(seq=reader.varint(64, "seq"), payload=reader.byte_string("payload"))
        case 2:
            message = Drain(
                reason=reader.string("reason"),
                reconnect_after_ms=reader.varint(32, "reconnect_after_ms"),
            )
        case _:
            message = Error(code=reader.varint(16, "code"), message=reader.string("message"))
    reader.end()
    return message


class FrameDecoder:
    """Splits a byte stream into frame bodies.

    Push bytes as they arrive, then call `next_body` until it returns None. A
    prefix over the limit is refused as soon as it is read, before the body.
    """

    def __init__(self, max_len: int = MAX_FRAME_LEN) -> None:
        self._buf = bytearray()
        self._max_len = min(max_len, MAX_FRAME_LEN)

    def push(self, data: bytes) -> None:
        """Appends received bytes."""
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned as a frame."""
        return len(self._buf)

    def next_body(self) -> bytes | None:
        """The next complete frame body, None if more bytes are needed.

        Raises `Oversized` or `BadLength` for a bad prefix; the decoder is
        useless afterwards (the stream has lost its framing).
        """
        value = 0
        for i, byte in enumerate(self._buf[:_MAX_VARINT_BYTES]):
            bits = byte & 0x7F
            if i == _MAX_VARINT_BYTES - 1 and bits > 1:
                raise BadLength()
            value |= bits << (7 * i)
            if byte & 0x80 == 0:
                self._check(value)
                end = i + 1 + value
                if len(self._buf) < end:
                    return None
                body = bytes(self._buf[i + 1 : end])
                del self._buf[:end]
                return body
        if len(self._buf) >= _MAX_VARINT_BYTES:
            raise BadLength()
        # An incomplete prefix is already a lower bound on the length.
        self._check(value)
        return None

    def finish(self) -> None:
        """Call at the end of the stream: raises `Truncated` inside a frame."""
        if self._buf:
            raise Truncated(len(self._buf))

    def _check(self, length: int) -> None:
        if length > self._max_len:
            raise Oversized(length, self._max_len)
