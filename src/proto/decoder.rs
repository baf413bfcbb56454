//! Decoding frames: [`FrameDecoder`] splits a byte stream into messages,
//! owned or (for the server's pings and the client's pongs) decoded in place.

use serde::Deserialize;

use super::error::FrameError;
use super::frame::{WireMessage, ECHO_TAG, MAX_FRAME_LEN};
use super::message::{ClientMessage, ClientMessageView, ServerMessage, ServerMessageView};

/// Longest LEB128 encoding of a `u64`.
const MAX_VARINT_BYTES: usize = 10;

/// Buffer capacity a decoder keeps once everything received is decoded. A
/// large frame (up to [`MAX_FRAME_LEN`]) grows the buffer; an idle session
/// should not hold that for the rest of its life, while pipelined small pings
/// keep theirs without reallocating: a 4 KiB read (64 pings in flight) behind
/// a frame left unfinished by the last read grows the buffer to 8 KiB.
const RETAINED_CAPACITY: usize = 8 * 1024;

/// Outcome of reading a varint from the front of a buffer.
enum Varint {
    /// A complete value and the number of bytes it took.
    Complete(u64, usize),
    /// More bytes are needed; the value so far is a lower bound.
    Incomplete(u64),
    /// Longer than any valid encoding.
    Invalid,
}

#[inline(always)] // on the per-ping path, three times; mostly one byte
fn read_varint(bytes: &[u8]) -> Varint {
    if let Some(&byte) = bytes.first() {
        if byte < 0x80 {
            return Varint::Complete(u64::from(byte), 1);
        }
    }
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(MAX_VARINT_BYTES) {
        let shift = 7 * i as u32;
        let bits = u64::from(byte & 0x7f);
        // The tenth byte may only carry the top bit of a u64.
        if i == MAX_VARINT_BYTES - 1 && bits > 1 {
            return Varint::Invalid;
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Varint::Complete(value, i + 1);
        }
    }
    if bytes.len() >= MAX_VARINT_BYTES {
        Varint::Invalid
    } else {
        Varint::Incomplete(value)
    }
}

/// Splits a byte stream into messages. Sans-IO: feed it bytes with [`push`](Self::push),
/// take messages with [`decode`](Self::decode), and call [`finish`](Self::finish) at end of
/// stream.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Start of the undecoded bytes in `buf`; decoded frames are not moved out
    /// one by one (that would copy the rest of the buffer for every frame).
    start: usize,
    max_len: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder with the protocol's 64 KiB limit.
    pub fn new() -> Self {
        Self::with_max_len(MAX_FRAME_LEN)
    }

    /// A decoder with a lower frame limit (values above 64 KiB are clamped).
    pub fn with_max_len(max_len: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            max_len: max_len.min(MAX_FRAME_LEN),
        }
    }

    /// Appends bytes received from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.release_decoded();
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Decodes the next complete frame, if there is one.
    ///
    /// An oversized length is reported as soon as the prefix shows it, without
    /// waiting for the body.
    pub fn decode<M: WireMessage>(&mut self) -> Result<Option<M>, FrameError> {
        let Some(body) = self.next_body()? else {
            return Ok(None);
        };
        let message = decode_body::<M>(body, M::TAGS);
        self.release_decoded();
        message.map(Some)
    }

    /// Decodes the next complete client frame in place: a ping's payload is
    /// borrowed from the buffer rather than copied (what a server answering
    /// pipelined pings needs). The buffer is released on the next call.
    #[inline(always)] // on a server's per-ping path: its result is not moved
    pub fn decode_client_view(&mut self) -> Result<Option<ClientMessageView<'_>>, FrameError> {
        match self.next_body()? {
            Some(body) => match echo_view(body) {
                Some((seq, payload)) => Ok(Some(ClientMessageView::Ping { seq, payload })),
                None => decode_body(body, ClientMessage::TAGS).map(Some),
            },
            None => Ok(None),
        }
    }

    /// The next server message if a whole frame is buffered, a pong decoded
    /// in place (its payload borrowed, as the client checks it and drops it);
    /// the buffer is released on the next call.
    #[inline(always)] // on a client's per-pong path: its result is not moved
    pub fn decode_server_view(&mut self) -> Result<Option<ServerMessageView<'_>>, FrameError> {
        match self.next_body()? {
            Some(body) => match echo_view(body) {
                Some((seq, payload)) => Ok(Some(ServerMessageView::Pong { seq, payload })),
                None => decode_body(body, ServerMessage::TAGS)
                    .map(|message| Some(ServerMessageView::Other(message))),
            },
            None => Ok(None),
        }
    }

    /// Whether a whole frame, or a length the limit refuses, is buffered:
    /// the next [`decode`](Self::decode) will not return `Ok(None)`.
    pub fn has_frame(&self) -> bool {
        let pending = &self.buf[self.start..];
        match read_varint(pending) {
            Varint::Complete(len, prefix) => {
                len > self.max_len as u64 || pending.len() >= prefix + len as usize
            }
            Varint::Incomplete(lower_bound) => lower_bound > self.max_len as u64,
            Varint::Invalid => true,
        }
    }

    /// The buffer to read the stream into, for at most `additional` bytes:
    /// received bytes go straight where frames are decoded, with no copy in
    /// between. Append only (it is a [`bytes::BufMut`]).
    pub fn read_buffer(&mut self, additional: usize) -> bytes::buf::Limit<&mut Vec<u8>> {
        self.release_decoded();
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.reserve(additional);
        bytes::BufMut::limit(&mut self.buf, additional)
    }

    /// The body of the next complete frame, which is then counted as decoded.
    #[inline(always)] // on the per-ping path
    fn next_body(&mut self) -> Result<Option<&[u8]>, FrameError> {
        self.release_decoded();
        let pending = &self.buf[self.start..];
        let (len, prefix) = match read_varint(pending) {
            Varint::Complete(len, prefix) => (len, prefix),
            Varint::Incomplete(lower_bound) => {
                return self.check_len(lower_bound).map(|()| None);
            }
            Varint::Invalid => return Err(FrameError::BadLength),
        };
        self.check_len(len)?;
        let len = len as usize;
        if pending.len() < prefix + len {
            return Ok(None);
        }
        let body = self.start + prefix..self.start + prefix + len;
        self.start = body.end;
        Ok(Some(&self.buf[body]))
    }

    /// Once everything received is decoded, empties the buffer and gives back
    /// what a large frame made it grow to.
    fn release_decoded(&mut self) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.buf.shrink_to(RETAINED_CAPACITY);
            self.start = 0;
        }
    }

    /// Checks that the stream did not end inside a frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        match self.buffered() {
            0 => Ok(()),
            buffered => Err(FrameError::Truncated { buffered }),
        }
    }

    fn check_len(&self, len: u64) -> Result<(), FrameError> {
        if len > self.max_len as u64 {
            Err(FrameError::Oversized {
                len,
                max: self.max_len,
            })
        } else {
            Ok(())
        }
    }
}

/// A ping's or a pong's seq and payload read straight from a frame body, as
/// postcard writes them: the tag ([`ECHO_TAG`], one byte), the seq and the
/// payload's length as LEB128, the payload, nothing after. This is the
/// per-ping path of both sides, and it skips serde's machinery (with the
/// frames written the same way, docs/performance.md). Anything else (another
/// message, a tag written in more bytes than it needs, a body too short or
/// too long) is `None`, and left to postcard, which decodes it or says what
/// is wrong; the protocol tests check that both read every body alike.
#[inline(always)] // on the per-ping path
fn echo_view(body: &[u8]) -> Option<(u64, &[u8])> {
    let (&tag, rest) = body.split_first()?;
    if tag != ECHO_TAG {
        return None;
    }
    let Varint::Complete(seq, used) = read_varint(rest) else {
        return None;
    };
    let rest = &rest[used..];
    let Varint::Complete(len, used) = read_varint(rest) else {
        return None;
    };
    let payload = &rest[used..];
    (payload.len() as u64 == len).then_some((seq, payload))
}

/// Decodes one frame body (no length prefix).
fn decode_body<'a, M: Deserialize<'a>>(body: &'a [u8], tags: u32) -> Result<M, FrameError> {
    match read_varint(body) {
        Varint::Complete(tag, _) if tag >= u64::from(tags) => {
            return Err(FrameError::UnknownTag {
                tag: u32::try_from(tag).unwrap_or(u32::MAX),
            })
        }
        Varint::Complete(..) => {}
        Varint::Incomplete(_) | Varint::Invalid => {
            return Err(FrameError::Garbage {
                reason: "frame body holds no valid message tag".into(),
            })
        }
    }
    let (message, rest) =
        postcard::take_from_bytes::<M>(body).map_err(|e| FrameError::Garbage {
            reason: e.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(FrameError::Garbage {
            reason: format!("{} trailing byte(s) after the message", rest.len()),
        });
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::frame::{encode_frame, encode_frame_into};
    use crate::proto::ServerMessage;
    use crate::proto::ServerState;

    fn ping(seq: u64, payload: &[u8]) -> ClientMessage {
        ClientMessage::Ping {
            seq,
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn a_frame_decoded_in_place_gives_its_buffer_back_at_the_next_read() {
        let big = ClientMessage::Ping {
            seq: 1,
            payload: vec![1; 60_000],
        };
        let mut decoder = FrameDecoder::new();
        decoder.push(&encode_frame(&big).unwrap());
        let view = decoder.decode_client_view().unwrap().unwrap();
        assert_eq!(view.to_message(), big);
        let next_read = decoder.read_buffer(256);
        assert!(
            next_read.get_ref().capacity() <= RETAINED_CAPACITY,
            "{}",
            next_read.get_ref().capacity()
        );
    }

    #[test]
    fn has_frame_tells_a_whole_frame_or_a_refused_length_from_a_partial_one() {
        let frame = encode_frame(&ping(7, b"abc")).unwrap();
        let mut decoder = FrameDecoder::new();
        assert!(!decoder.has_frame());
        decoder.push(&frame[..3]);
        assert!(!decoder.has_frame());
        decoder.push(&frame[3..]);
        assert!(decoder.has_frame());
        decoder.decode::<ClientMessage>().unwrap().unwrap();
        assert!(!decoder.has_frame());
        // A length over the limit is ready to be refused without its body.
        decoder.push(&[0x80, 0x80, 0x08]);
        assert!(decoder.has_frame());
        assert!(decoder.decode::<ClientMessage>().is_err());
    }

    #[test]
    fn bytes_read_into_the_read_buffer_are_decoded() {
        let frame = encode_frame(&ping(9, b"xyz")).unwrap();
        let mut decoder = FrameDecoder::new();
        let mut buffer = decoder.read_buffer(4);
        bytes::BufMut::put_slice(&mut buffer, &frame[..4]);
        assert_eq!(
            bytes::BufMut::remaining_mut(&buffer),
            0,
            "no more than asked for"
        );
        assert_eq!(decoder.decode::<ClientMessage>().unwrap(), None);
        let mut buffer = decoder.read_buffer(64);
        bytes::BufMut::put_slice(&mut buffer, &frame[4..]);
        assert_eq!(
            decoder.decode::<ClientMessage>().unwrap(),
            Some(ping(9, b"xyz"))
        );
    }

    #[test]
    fn a_large_frame_does_not_keep_its_buffer_once_decoded() {
        let big = ClientMessage::Ping {
            seq: 1,
            payload: vec![1; 60_000],
        };
        let mut decoder = FrameDecoder::new();
        decoder.push(&encode_frame(&big).unwrap());
        assert_eq!(decoder.decode::<ClientMessage>().unwrap(), Some(big));
        assert!(
            decoder.buf.capacity() <= RETAINED_CAPACITY,
            "{}",
            decoder.buf.capacity()
        );
    }

    #[test]
    fn decodes_frames_split_at_every_byte() {
        let mut stream = encode_frame(&ping(1, b"abc")).unwrap();
        stream.extend(encode_frame(&ClientMessage::Goodbye).unwrap());
        let mut decoder = FrameDecoder::new();
        let mut got = Vec::new();
        for byte in stream {
            decoder.push(&[byte]);
            while let Some(m) = decoder.decode::<ClientMessage>().unwrap() {
                got.push(m);
            }
        }
        assert_eq!(got, vec![ping(1, b"abc"), ClientMessage::Goodbye]);
        decoder.finish().unwrap();
    }

    #[test]
    fn length_prefix_is_a_leb128_varint() {
        let frame = encode_frame(&ping(0, &[7u8; 200])).unwrap();
        // body = tag(1) + seq(1) + len varint(2) + 200 = 204 = 0xcc 0x01
        assert_eq!(&frame[..2], &[0xcc, 0x01]);
        assert_eq!(frame.len(), 206);
    }

    #[test]
    fn truncated_frame_is_reported_at_end_of_stream() {
        let frame = encode_frame(&ping(5, b"hello")).unwrap();
        let mut decoder = FrameDecoder::new();
        decoder.push(&frame[..frame.len() - 2]);
        assert_eq!(decoder.decode::<ClientMessage>(), Ok(None));
        assert_eq!(
            decoder.finish(),
            Err(FrameError::Truncated {
                buffered: frame.len() - 2
            })
        );
    }

    #[test]
    fn oversized_prefix_is_rejected_before_the_body_arrives() {
        let mut decoder = FrameDecoder::new();
        // 4 GiB announced.
        decoder.push(&[0x80, 0x80, 0x80, 0x80, 0x10]);
        assert!(matches!(
            decoder.decode::<ClientMessage>(),
            Err(FrameError::Oversized {
                len: 0x1_0000_0000,
                ..
            })
        ));
        // Even a partial prefix that already exceeds the limit is rejected.
        let mut decoder = FrameDecoder::new();
        decoder.push(&[0xff, 0xff, 0xff]);
        assert!(matches!(
            decoder.decode::<ClientMessage>(),
            Err(FrameError::Oversized { .. })
        ));
    }

    #[test]
    fn exactly_the_limit_is_accepted_and_one_more_is_not() {
        let mut decoder = FrameDecoder::with_max_len(10);
        decoder.push(&[10]);
        assert_eq!(decoder.decode::<ClientMessage>(), Ok(None));
        let mut decoder = FrameDecoder::with_max_len(10);
        decoder.push(&[11]);
        assert!(matches!(
            decoder.decode::<ClientMessage>(),
            Err(FrameError::Oversized { len: 11, max: 10 })
        ));
    }

    #[test]
    fn frames_share_a_buffer_with_prefixes_of_every_length() {
        let messages = [
            ping(1, &[]),
            ping(2, &[9; 200]),
            ping(3, &vec![7; 20_000]),
            ClientMessage::Goodbye,
        ];
        let mut out = Vec::new();
        for m in &messages {
            encode_frame_into(m, &mut out).unwrap();
        }
        let mut decoder = FrameDecoder::new();
        decoder.push(&out);
        for m in &messages {
            assert_eq!(decoder.decode::<ClientMessage>().unwrap().as_ref(), Some(m));
        }
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn partial_frames_survive_between_pushes() {
        let mut stream = Vec::new();
        for seq in 0..10 {
            encode_frame_into(&ping(seq, b"abc"), &mut stream).unwrap();
        }
        let mut decoder = FrameDecoder::new();
        let mut got = 0;
        for chunk in stream.chunks(7) {
            decoder.push(chunk);
            while let Some(m) = decoder.decode::<ClientMessage>().unwrap() {
                assert_eq!(m, ping(got, b"abc"));
                got += 1;
            }
        }
        assert_eq!(got, 10);
    }

    #[test]
    fn endless_varint_is_a_bad_length() {
        let mut decoder = FrameDecoder::with_max_len(MAX_FRAME_LEN);
        decoder.max_len = usize::MAX; // reach the varint check, not the size check
        decoder.push(&[0xff; 11]);
        assert_eq!(
            decoder.decode::<ClientMessage>(),
            Err(FrameError::BadLength)
        );
    }

    #[test]
    fn unknown_tag_is_reported_as_such() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&[1, 9]);
        assert_eq!(
            decoder.decode::<ClientMessage>(),
            Err(FrameError::UnknownTag { tag: 9 })
        );
        let mut decoder = FrameDecoder::new();
        decoder.push(&[1, 4]);
        assert_eq!(
            decoder.decode::<ServerMessage>(),
            Err(FrameError::UnknownTag { tag: 4 })
        );
    }

    #[test]
    fn garbage_bodies_are_reported() {
        for body in [
            vec![],                                // no tag at all
            vec![1],                               // Ping without seq
            vec![1, 5, 10, 1, 2],                  // payload shorter than announced
            vec![2, 0],                            // Goodbye with a trailing byte
            vec![0, 0xff, 0xff, 0xff, 0xff, 0xff], // bad varint in Hello.version
        ] {
            let mut decoder = FrameDecoder::new();
            decoder.push(&[body.len() as u8]);
            decoder.push(&body);
            assert!(
                matches!(
                    decoder.decode::<ClientMessage>(),
                    Err(FrameError::Garbage { .. })
                ),
                "body {body:?}"
            );
        }
    }

    #[test]
    fn bad_utf8_in_a_string_is_garbage() {
        let mut decoder = FrameDecoder::new();
        // Error { code: 1, message: [0xff] }
        decoder.push(&[4, 3, 1, 1, 0xff]);
        assert!(matches!(
            decoder.decode::<ServerMessage>(),
            Err(FrameError::Garbage { .. })
        ));
    }

    #[test]
    fn a_bad_frame_does_not_eat_the_next_one() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&[1, 9]);
        decoder.push(
            &encode_frame(&ServerMessage::Welcome {
                version: 1,
                server_id: [1; 16],
                instance: "a".into(),
                state: ServerState::Serving,
            })
            .unwrap(),
        );
        assert!(decoder.decode::<ServerMessage>().is_err());
        assert!(matches!(
            decoder.decode::<ServerMessage>(),
            Ok(Some(ServerMessage::Welcome { .. }))
        ));
    }
}
