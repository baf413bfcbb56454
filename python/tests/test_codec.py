"""The codec against the Rust side's golden vectors (both directions), and
its refusals of bad frames."""

from __future__ import annotations

import json

import pytest
from conftest import GOLDEN

from pingpong_server import codec
from pingpong_server.codec import (
    BadLength,
    Drain,
    Error,
    FrameDecoder,
    Garbage,
    Goodbye,
    Hello,
    Oversized,
    Ping,
    Pong,
    ServerState,
    Truncated,
    UnknownTag,
    Welcome,
    decode_client_message,
    decode_server_message,
    encode_frame,
    encode_pong,
)

VECTORS = json.loads((GOLDEN / "vectors.json").read_text())["vectors"]


def expected(message: dict[str, str | int]) -> codec.ClientMessage | codec.ServerMessage:
    """The message a vectors.json entry describes."""
    kind = message["type"]
    hexed = lambda key: bytes.fromhex(str(message[key]))  # noqa: E731
    number = lambda key: int(message[key])  # noqa: E731
    match kind:
        case "Hello":
            return Hello(number("version"), hexed("client_id"), number("resume_after"))
        case "Ping":
            return Ping(number("seq"), hexed("payload"))
        case "Goodbye":
            return Goodbye()
        case "Welcome":
            state = ServerState.DRAINING if message["state"] == "draining" else ServerState.SERVING
            return Welcome(number("version"), hexed("server_id"), str(message["instance"]), state)
        case "Pong":
            return Pong(number("seq"), hexed("payload"))
        case "Drain":
            return Drain(str(message["reason"]), number("reconnect_after_ms"))
        case "Error":
            return Error(number("code"), str(message["message"]))
    raise AssertionError(f"unknown vector type {kind}")


def test_every_golden_file_is_described() -> None:
    files = {p.name for p in GOLDEN.glob("*.bin")}
    assert files == {v["file"] for v in VECTORS}
    assert len(files) >= 13


@pytest.mark.parametrize("vector", VECTORS, ids=[v["file"] for v in VECTORS])
def test_golden_vector_decodes_and_reencodes_byte_for_byte(vector: dict) -> None:
    frame = (GOLDEN / vector["file"]).read_bytes()
    decoder = FrameDecoder()
    decoder.push(frame)
    body = decoder.next_body()
    assert body is not None and decoder.buffered == 0
    decode = decode_client_message if vector["direction"] == "client_to_server" else decode_server_message
    message = decode(body)
    assert message == expected(vector["message"])
    assert encode_frame(message) == frame


def test_frames_split_anywhere_decode_the_same() -> None:
    stream = b"".join((GOLDEN / v["file"]).read_bytes() for v in VECTORS if v["file"].startswith("client"))
    for step in (1, 2, 7, 1000):
        decoder = FrameDecoder()
        bodies = []
        for i in range(0, len(stream), step):
            decoder.push(stream[i : i + step])
            while (body := decoder.next_body()) is not None:
                bodies.append(decode_client_message(body))
        decoder.finish()
        assert len(bodies) == 7


def test_oversized_prefix_is_refused_before_the_body() -> None:
    decoder = FrameDecoder()
    decoder.push(bytes([0x81, 0x80, 0x04]))  # 65537
    with pytest.raises(Oversized) as error:
        decoder.next_body()
    assert error.value.length == 65537
    # A 4 GiB announcement is refused from its first bytes, before it is complete.
    decoder = FrameDecoder()
    decoder.push(bytes([0xFF, 0xFF, 0xFF]))
    with pytest.raises(Oversized):
        decoder.next_body()


def test_the_largest_frame_passes() -> None:
    message = Ping(1, b"x" * (65536 - 1 - 1 - 3))
    frame = encode_frame(message)
    decoder = FrameDecoder()
    decoder.push(frame)
    body = decoder.next_body()
    assert body is not None and len(body) == 65536
    assert decode_client_message(body) == message
    with pytest.raises(Oversized):
        encode_frame(Ping(1, b"x" * 65536))


def test_bad_frames_get_typed_errors() -> None:
    decoder = FrameDecoder()
    decoder.push(b"\xff" * 10)
    with pytest.raises(BadLength):
        decoder.next_body()
    with pytest.raises(UnknownTag) as unknown:
        decode_client_message(b"\x07")
    assert unknown.value.tag == 7
    with pytest.raises(Garbage, match="trailing"):
        decode_client_message(b"\x02\x00")
    with pytest.raises(Garbage, match="end of frame"):
        decode_client_message(b"\x01\x05\x09ab")
    with pytest.raises(Garbage, match="fit u16"):
        decode_client_message(b"\x00\xff\xff\x7f" + bytes(16) + b"\x00")
    with pytest.raises(Garbage, match="UTF-8"):
        decode_server_message(b"\x03\x01\x02\xc3\x28")
    with pytest.raises(Garbage, match="no valid message tag"):
        decode_client_message(b"")
    truncated = FrameDecoder()
    truncated.push(b"\x05\x01\x01")
    assert truncated.next_body() is None
    with pytest.raises(Truncated) as cut:
        truncated.finish()
    assert cut.value.buffered == 3


def test_values_out_of_range_are_not_encoded() -> None:
    with pytest.raises(ValueError):
        encode_frame(Ping(-1, b""))
    with pytest.raises(ValueError):
        encode_frame(Ping(1 << 64, b""))
    with pytest.raises(ValueError):
        encode_frame(Hello(1, b"short", 0))


@pytest.mark.parametrize(
    ("seq", "payload"),
    [
        (0, b""),
        (1, b"ping"),
        (127, b"x"),
        (128, b"y" * 127),
        (2**64 - 1, b"z" * 300),
        (2**40, b"\xcd" * 1024),
    ],
)
def test_the_fast_pong_encoder_matches_the_generic_one(seq: int, payload: bytes) -> None:
    assert encode_pong(seq, payload) == encode_frame(Pong(seq, payload))
