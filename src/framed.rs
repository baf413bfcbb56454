//! Frames over any async byte stream: the bridge between [`crate::proto`] (pure)
//! and a transport (a WebTransport stream, or `tokio::io::duplex` in tests).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::proto::{
    encode_frame, ClientMessageView, FrameDecoder, FrameError, ServerMessageView, WireMessage,
};

/// Largest read from the stream (straight into the decoder's buffer): 4 KiB
/// holds 64 pipelined 56-byte pings;
/// larger frames simply take several reads.
const READ_CHUNK: usize = 4 * 1024;

/// Smallest read, and where every reader starts: four pings' frames. Every
/// session holds its read buffer while it waits, and most sessions are idle or
/// ping once a second, so the buffer grows only while reads fill it.
const IDLE_CHUNK: usize = 256;

/// The read buffer's next size after a read of `read` bytes into `size`: twice
/// as large when the read filled it (more was waiting), half as large when it
/// used less than a quarter, within [`IDLE_CHUNK`]..=[`READ_CHUNK`].
fn next_chunk_size(size: usize, read: usize) -> usize {
    if read == size {
        (size * 2).min(READ_CHUNK)
    } else if read < size / 4 {
        (size / 2).max(IDLE_CHUNK)
    } else {
        size
    }
}

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FramedError {
    /// The stream failed.
    #[error("stream error: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not a valid frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A frame was started and not finished in time (a slowloris peer).
    #[error("a frame was started but not completed within {after:?} ({buffered} bytes received)")]
    Stalled {
        /// Bytes of the unfinished frame.
        buffered: usize,
        /// The allowed time.
        after: std::time::Duration,
    },
}

/// Reads messages from a byte stream.
#[derive(Debug)]
pub struct FramedReader<R> {
    inner: R,
    decoder: FrameDecoder,
    /// Bytes asked for by the next read (see [`next_chunk_size`]).
    chunk: usize,
    frame_timeout: Option<std::time::Duration>,
    partial_since: Option<tokio::time::Instant>,
    /// The stall deadline's timer, made once a frame is first left unfinished
    /// and then only moved when it fires: pipelined pings leave a frame
    /// unfinished at most reads (a QUIC packet ends mid-frame), and arming a
    /// fresh timer each time cost more than decoding the frames.
    stall_timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<R: AsyncRead + Unpin> FramedReader<R> {
    /// Wraps `inner` with the protocol's frame limit.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            decoder: FrameDecoder::new(),
            chunk: IDLE_CHUNK,
            frame_timeout: None,
            partial_since: None,
            stall_timer: None,
        }
    }

    /// Once a frame has begun, the rest of it must arrive within `timeout`,
    /// else [`next`](Self::next) fails with [`FramedError::Stalled`].
    pub fn with_frame_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.frame_timeout = Some(timeout);
        self
    }

    /// The next message, or `None` when the stream ended cleanly between frames.
    ///
    /// Cancel-safe: bytes already read stay buffered for the next call.
    pub async fn next<M: WireMessage>(&mut self) -> Result<Option<M>, FramedError> {
        loop {
            if let Some(message) = self.decoder.decode()? {
                return Ok(Some(message));
            }
            if !self.ready().await? {
                return Ok(None);
            }
        }
    }

    /// Waits until a whole frame (or one the limits refuse) is buffered, so
    /// that the next `try_next*` returns it: true; false when the stream ended
    /// cleanly between frames.
    ///
    /// Cancel-safe: bytes already read stay buffered for the next call.
    pub async fn ready(&mut self) -> Result<bool, FramedError> {
        loop {
            if self.decoder.has_frame() {
                self.partial_since = None;
                return Ok(true);
            }
            let n = match (self.frame_timeout, self.decoder.buffered()) {
                (Some(after), buffered) if buffered > 0 => {
                    let since = *self
                        .partial_since
                        .get_or_insert_with(tokio::time::Instant::now);
                    let deadline = since + after;
                    let timer = self
                        .stall_timer
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                    // Left armed by an earlier frame, the timer fires no later
                    // than this deadline (frames begin in order): when it
                    // fires early it is moved here, and only then.
                    let mut buffer = self.decoder.read_buffer(self.chunk);
                    tokio::select! {
                        biased;
                        read = self.inner.read_buf(&mut buffer) => read?,
                        () = timer.as_mut() => {
                            if tokio::time::Instant::now() >= deadline {
                                return Err(FramedError::Stalled { buffered, after });
                            }
                            timer.as_mut().reset(deadline);
                            continue;
                        }
                    }
                }
                _ => {
                    self.partial_since = None;
                    self.inner
                        .read_buf(&mut self.decoder.read_buffer(self.chunk))
                        .await?
                }
            };
            if n == 0 {
                self.decoder.finish()?;
                return Ok(false);
            }
            self.chunk = next_chunk_size(self.chunk, n);
        }
    }

    /// The next server message if one is already buffered, a pong decoded in
    /// place (its payload borrowed), without reading the stream.
    #[inline(always)] // on a client's per-pong path: its result is not moved
    pub fn try_next_server_view(&mut self) -> Result<Option<ServerMessageView<'_>>, FramedError> {
        Ok(self.decoder.decode_server_view()?)
    }

    /// The next client message if one is already buffered, decoded in place
    /// (a ping's payload borrowed, not copied), without reading the stream.
    #[inline(always)] // on a server's per-ping path: its result is not moved
    pub fn try_next_client_view(&mut self) -> Result<Option<ClientMessageView<'_>>, FramedError> {
        Ok(self.decoder.decode_client_view()?)
    }

    /// Bytes received but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.decoder.buffered()
    }
}

/// Writes one message as a frame.
pub async fn write_message<W, M>(writer: &mut W, message: &M) -> Result<(), FramedError>
where
    W: AsyncWrite + Unpin,
    M: WireMessage,
{
    let frame = encode_frame(message)?;
    writer.write_all(&frame).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ClientMessage;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn messages_cross_a_duplex_pipe() {
        let (a, b) = tokio::io::duplex(64);
        let (_, mut w) = tokio::io::split(a);
        let (r, _) = tokio::io::split(b);
        let mut reader = FramedReader::new(r);
        let sent: Vec<_> = (0..50)
            .map(|seq| ClientMessage::Ping {
                seq,
                payload: vec![seq as u8; 100],
            })
            .collect();
        let writer = {
            let sent = sent.clone();
            tokio::spawn(async move {
                for m in &sent {
                    write_message(&mut w, m).await.unwrap();
                }
            })
        };
        for want in &sent {
            assert_eq!(
                reader.next::<ClientMessage>().await.unwrap().as_ref(),
                Some(want)
            );
        }
        writer.await.unwrap();
        assert!(reader.next::<ClientMessage>().await.unwrap().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_frame_left_unfinished_stalls_after_the_timeout() {
        let (a, b) = tokio::io::duplex(64);
        let (_, mut w) = tokio::io::split(a);
        let (r, _) = tokio::io::split(b);
        let mut reader =
            FramedReader::new(r).with_frame_timeout(std::time::Duration::from_secs(10));
        w.write_all(&[5, 1]).await.unwrap(); // 2 of 6 bytes, then silence
        assert!(matches!(
            reader.next::<ClientMessage>().await,
            Err(FramedError::Stalled { buffered: 2, .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_later_frame_gets_its_own_full_timeout() {
        let (a, b) = tokio::io::duplex(64);
        let (_, mut w) = tokio::io::split(a);
        let (r, _) = tokio::io::split(b);
        let after = std::time::Duration::from_secs(10);
        let mut reader = FramedReader::new(r).with_frame_timeout(after);
        let frame = encode_frame(&ClientMessage::Ping {
            seq: 1,
            payload: vec![7; 4],
        })
        .unwrap();
        // The first frame is left unfinished for 6 s, then completed: the
        // timer it armed is still set for t = 10 s.
        let (head, tail) = frame.split_at(2);
        w.write_all(head).await.unwrap();
        let writer = async {
            tokio::time::sleep(std::time::Duration::from_secs(6)).await;
            w.write_all(tail).await.unwrap();
            w.write_all(head).await.unwrap(); // the second frame begins at t = 6 s
            w
        };
        let (first, mut w) = tokio::join!(reader.next::<ClientMessage>(), writer);
        assert!(matches!(
            first,
            Ok(Some(ClientMessage::Ping { seq: 1, .. }))
        ));
        let started = tokio::time::Instant::now();
        // The second frame stalls at t = 16 s, not at the old timer's 10 s.
        let second = reader.next::<ClientMessage>().await;
        assert!(matches!(
            second,
            Err(FramedError::Stalled { buffered: 2, .. })
        ));
        assert_eq!(started.elapsed(), after);
        w.write_all(tail).await.unwrap();
    }

    #[test]
    fn the_read_buffer_grows_while_reads_fill_it_and_shrinks_when_idle() {
        let mut size = IDLE_CHUNK;
        let mut sizes = vec![size];
        while size < READ_CHUNK {
            size = next_chunk_size(size, size);
            sizes.push(size);
        }
        assert_eq!(sizes, [256, 512, 1024, 2048, 4096]);
        assert_eq!(next_chunk_size(READ_CHUNK, READ_CHUNK), READ_CHUNK);
        // Half full keeps its size; one ping at a time shrinks it back.
        assert_eq!(next_chunk_size(READ_CHUNK, READ_CHUNK / 2), READ_CHUNK);
        while size > IDLE_CHUNK {
            size = next_chunk_size(size, 64);
        }
        assert_eq!(next_chunk_size(size, 0), IDLE_CHUNK);
    }

    #[tokio::test]
    async fn a_frame_larger_than_every_read_arrives_whole() {
        let big = ClientMessage::Ping {
            seq: 1,
            payload: vec![7; 3 * READ_CHUNK],
        };
        let frame = encode_frame(&big).unwrap();
        let mut reader = FramedReader::new(&frame[..]);
        assert_eq!(reader.next::<ClientMessage>().await.unwrap(), Some(big));
    }

    #[tokio::test]
    async fn stream_ending_mid_frame_is_truncation() {
        let bytes: &[u8] = &[5, 1, 0];
        let mut reader = FramedReader::new(bytes);
        assert!(matches!(
            reader.next::<ClientMessage>().await,
            Err(FramedError::Frame(FrameError::Truncated { buffered: 3 }))
        ));
    }
}
