//! Errors of the codec and the error codes carried in `ServerMessage::Error`.

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The stream ended in the middle of a frame.
    #[error("truncated frame: stream ended with {buffered} byte(s) of an incomplete frame")]
    Truncated {
        /// Bytes of the incomplete frame that were received.
        buffered: usize,
    },
    /// The length prefix announces more than the protocol allows.
    #[error("oversized frame: {len} bytes announced, the limit is {max}")]
    Oversized {
        /// Announced length (saturated at `u64::MAX`).
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The length prefix is not a valid varint.
    #[error("malformed frame length prefix")]
    BadLength,
    /// The message tag is not one this version knows.
    #[error("unknown message tag {tag}")]
    UnknownTag {
        /// The tag that was received.
        tag: u32,
    },
    /// The body does not decode as the message its tag announces.
    #[error("malformed message: {reason}")]
    Garbage {
        /// What the decoder complained about.
        reason: String,
    },
}

/// Error codes of `ServerMessage::Error`. Stable: append only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum ErrorCode {
    /// The client's protocol version is not supported.
    UnsupportedVersion = 1,
    /// A frame could not be decoded.
    MalformedFrame = 2,
    /// A message arrived that is not allowed in the session's state (e.g. Ping before Hello).
    UnexpectedMessage = 3,
    /// A configured limit was exceeded.
    LimitExceeded = 4,
    /// The session did not send Hello in time.
    HelloTimeout = 5,
    /// The server is shutting down and takes no new sessions.
    ShuttingDown = 6,
}

impl ErrorCode {
    /// The code as carried on the wire.
    pub fn as_u16(self) -> u16 {
        self as u16
    }

    /// The code for a wire value, if known.
    pub fn from_u16(code: u16) -> Option<Self> {
        use ErrorCode::*;
        [
            UnsupportedVersion,
            MalformedFrame,
            UnexpectedMessage,
            LimitExceeded,
            HelloTimeout,
            ShuttingDown,
        ]
        .into_iter()
        .find(|c| c.as_u16() == code)
    }
}
