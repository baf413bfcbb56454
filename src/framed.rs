//! Frames over any async byte stream: the bridge between [`crate::proto`] (pure)
//! and a transport (a WebTransport stream, or `tokio::io::duplex` in tests).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::proto::{encode_frame, FrameDecoder, FrameError, WireMessage};

/// Size of one read from the stream.
const READ_CHUNK: usize = 16 * 1024;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FramedError {
    /// The stream failed.
    #[error("stream error: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not a valid frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// Reads messages from a byte stream.
#[derive(Debug)]
pub struct FramedReader<R> {
    inner: R,
    decoder: FrameDecoder,
    chunk: Box<[u8]>,
}

impl<R: AsyncRead + Unpin> FramedReader<R> {
    /// Wraps `inner` with the protocol's frame limit.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            decoder: FrameDecoder::new(),
            chunk: vec![0; READ_CHUNK].into_boxed_slice(),
        }
    }

    /// The next message, or `None` when the stream ended cleanly between frames.
    ///
    /// Cancel-safe: bytes already read stay buffered for the next call.
    pub async fn next<M: WireMessage>(&mut self) -> Result<Option<M>, FramedError> {
        loop {
            if let Some(message) = self.decoder.decode()? {
                return Ok(Some(message));
            }
            let n = self.inner.read(&mut self.chunk).await?;
            if n == 0 {
                self.decoder.finish()?;
                return Ok(None);
            }
            self.decoder.push(&self.chunk[..n]);
        }
    }

    /// The next message if one is already buffered, without reading the stream.
    pub fn try_next<M: WireMessage>(&mut self) -> Result<Option<M>, FramedError> {
        Ok(self.decoder.decode()?)
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
