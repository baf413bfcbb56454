//! Framing: an unsigned LEB128 length followed by one postcard-encoded
//! message; encoding here, decoding in `decoder.rs`.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::FrameError;
use super::message::{ClientMessage, ServerMessage};

/// Largest frame body the protocol allows (64 KiB).
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// A message type that can travel in a frame.
pub trait WireMessage: Serialize + DeserializeOwned + sealed::Sealed {
    /// How many variants (tags `0..TAGS`) this protocol version knows.
    const TAGS: u32;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::ClientMessage {}
    impl Sealed for super::ServerMessage {}
}

impl WireMessage for ClientMessage {
    const TAGS: u32 = 3;
}

impl WireMessage for ServerMessage {
    const TAGS: u32 = 4;
}

/// Encodes `message` as one frame (length prefix and body).
///
/// ```
/// use pingpong::proto::{encode_frame, ClientMessage, FrameDecoder};
///
/// let frame = encode_frame(&ClientMessage::Ping { seq: 1, payload: b"ping".to_vec() }).unwrap();
/// assert_eq!(frame, [7, 1, 1, 4, b'p', b'i', b'n', b'g']);
///
/// let mut decoder = FrameDecoder::new();
/// decoder.push(&frame[..3]); // frames may arrive in pieces
/// assert_eq!(decoder.decode::<ClientMessage>().unwrap(), None);
/// decoder.push(&frame[3..]);
/// assert!(matches!(decoder.decode::<ClientMessage>().unwrap(), Some(ClientMessage::Ping { seq: 1, .. })));
/// ```
pub fn encode_frame<M: WireMessage>(message: &M) -> Result<Vec<u8>, FrameError> {
    let mut frame = Vec::new();
    encode_frame_into(message, &mut frame)?;
    Ok(frame)
}

/// Appends `message` as one frame to `out`, so that many frames can share one
/// buffer and one write. On error `out` is left as it was.
pub fn encode_frame_into<M: WireMessage>(message: &M, out: &mut Vec<u8>) -> Result<(), FrameError> {
    encode_body_into(message, out)
}

/// Appends a `Pong` frame answering `seq` with `payload` to `out`: the same
/// bytes as encoding [`ServerMessage::Pong`], without the payload being copied
/// into a message first (a server answers a ping from its receive buffer).
pub fn encode_pong_into(seq: u64, payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    encode_echo_into(seq, payload, out)
}

/// Appends a `Ping` frame to `out`: the same bytes as encoding
/// [`ClientMessage::Ping`], without the payload being moved into a message.
pub fn encode_ping_into(seq: u64, payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    encode_echo_into(seq, payload, out)
}

/// A ping or a pong frame: both are tag 1 (their place in their enums), the
/// seq, the payload. Written by hand, byte for byte what postcard writes, as
/// this is the per-ping path of both sides: the frame's head (length prefix,
/// tag, seq, payload length) is put together on the stack, the prefix last
/// and right before the rest, then appended with the payload in two copies.
/// The protocol tests check the bytes.
#[inline(always)] // on the per-ping path
fn encode_echo_into(seq: u64, payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    const PREFIX: usize = 3;
    let mut head = [0u8; PREFIX + 1 + 2 * MAX_VARINT_LEN];
    head[PREFIX] = ECHO_TAG;
    let mut end = PREFIX + 1;
    end += varint_into(&mut head[end..], seq);
    end += varint_into(&mut head[end..], payload.len() as u64);
    let body_len = end - PREFIX + payload.len();
    if body_len > MAX_FRAME_LEN {
        return Err(FrameError::Oversized {
            len: body_len as u64,
            max: MAX_FRAME_LEN,
        });
    }
    let mut prefix = [0u8; PREFIX];
    let prefix_len = varint_into(&mut prefix, body_len as u64);
    let start = PREFIX - prefix_len;
    head[start..PREFIX].copy_from_slice(&prefix[..prefix_len]);
    out.reserve(end - start + payload.len());
    out.extend_from_slice(&head[start..end]);
    out.extend_from_slice(payload);
    Ok(())
}

/// The tag of [`ClientMessage::Ping`] and of [`ServerMessage::Pong`].
pub(super) const ECHO_TAG: u8 = 1;

/// The longest LEB128 encoding of a u64: 64 bits, 7 a byte.
const MAX_VARINT_LEN: usize = 10;

/// Appends `body` as one frame to `out`; on error `out` is left as it was.
fn encode_body_into<T: Serialize + ?Sized>(body: &T, out: &mut Vec<u8>) -> Result<(), FrameError> {
    // One byte is kept for the length prefix: a body under 128 bytes (a ping
    // or pong with a payload of up to 110 bytes, the client's default being
    // 56) needs no more, so the encoded body is never moved. A longer body is
    // moved right to make room.
    let start = out.len();
    out.push(0);
    if let Err(e) = postcard::to_extend(body, AppendTo(out)) {
        out.truncate(start);
        return Err(FrameError::Garbage {
            reason: e.to_string(),
        });
    }
    let body_len = out.len() - start - 1;
    if body_len > MAX_FRAME_LEN {
        out.truncate(start);
        return Err(FrameError::Oversized {
            len: body_len as u64,
            max: MAX_FRAME_LEN,
        });
    }
    // The longest prefix a legal frame needs: 3 bytes for 64 KiB.
    let mut prefix = [0u8; 3];
    let prefix_len = varint_into(&mut prefix, body_len as u64);
    if prefix_len > 1 {
        let end = out.len();
        out.resize(end + prefix_len - 1, 0);
        out.copy_within(start + 1..end, start + prefix_len);
    }
    out[start..start + prefix_len].copy_from_slice(&prefix[..prefix_len]);
    Ok(())
}

/// Lets postcard append to a borrowed buffer, so that the buffer is still the
/// caller's when encoding fails.
struct AppendTo<'a>(&'a mut Vec<u8>);

impl Extend<u8> for AppendTo<'_> {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, bytes: I) {
        self.0.extend(bytes);
    }
}

/// Writes `value` as LEB128 at the start of `out`, which must be long enough
/// (a frame length needs at most 3 bytes, a u64 at most 10); the bytes written.
#[inline(always)] // on the per-pong path; mostly one byte
fn varint_into(out: &mut [u8], mut value: u64) -> usize {
    if value < 0x80 {
        out[0] = value as u8;
        return 1;
    }
    let mut i = 0;
    while value >= 0x80 {
        out[i] = (value as u8) | 0x80;
        value >>= 7;
        i += 1;
    }
    out[i] = value as u8;
    i + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_refuses_an_oversized_message() {
        let big = ClientMessage::Ping {
            seq: 1,
            payload: vec![0u8; MAX_FRAME_LEN],
        };
        assert!(matches!(
            encode_frame(&big),
            Err(FrameError::Oversized { .. })
        ));
        let mut out = vec![1, 2, 3];
        assert!(encode_frame_into(&big, &mut out).is_err());
        assert_eq!(out, vec![1, 2, 3]);
    }
}
