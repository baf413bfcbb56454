//! The v1 messages. Enum tags are the variant order: append only, never reorder.

use serde::{Deserialize, Serialize};

/// A message sent by the client on the control stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// First message of a session (tag 0).
    Hello {
        /// Highest protocol version the client speaks.
        version: u16,
        /// Stable identity of the client across reconnects.
        client_id: [u8; 16],
        /// The client already has every pong up to and including this seq.
        resume_after: u64,
    },
    /// A ping to be answered by a `Pong` with the same seq and payload (tag 1).
    Ping {
        /// Sequence number chosen by the client.
        seq: u64,
        /// Opaque bytes echoed back.
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
    /// The client is leaving; the server closes the session (tag 2).
    Goodbye,
}

/// A [`ClientMessage`] decoded in place: a ping's payload is borrowed from the
/// receive buffer. Same wire format, variant for variant (a test checks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ClientMessageView<'a> {
    /// As [`ClientMessage::Hello`].
    Hello {
        /// Highest protocol version the client speaks.
        version: u16,
        /// Stable identity of the client across reconnects.
        client_id: [u8; 16],
        /// The client already has every pong up to and including this seq.
        resume_after: u64,
    },
    /// As [`ClientMessage::Ping`].
    Ping {
        /// Sequence number chosen by the client.
        seq: u64,
        /// Opaque bytes echoed back, still in the receive buffer.
        payload: &'a [u8],
    },
    /// As [`ClientMessage::Goodbye`].
    Goodbye,
}

impl ClientMessageView<'_> {
    /// The owned message.
    pub fn to_message(&self) -> ClientMessage {
        match *self {
            ClientMessageView::Hello {
                version,
                client_id,
                resume_after,
            } => ClientMessage::Hello {
                version,
                client_id,
                resume_after,
            },
            ClientMessageView::Ping { seq, payload } => ClientMessage::Ping {
                seq,
                payload: payload.to_vec(),
            },
            ClientMessageView::Goodbye => ClientMessage::Goodbye,
        }
    }
}

/// A [`ServerMessage`] as a client reads it: a pong decoded in place (its
/// payload borrowed from the receive buffer), any other message owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMessageView<'a> {
    /// As [`ServerMessage::Pong`].
    Pong {
        /// The seq of the ping answered.
        seq: u64,
        /// The ping's payload, still in the receive buffer.
        payload: &'a [u8],
    },
    /// Any other message (or a pong in an encoding only postcard reads).
    Other(ServerMessage),
}

impl ServerMessageView<'_> {
    /// The owned message.
    pub fn to_message(&self) -> ServerMessage {
        match self {
            ServerMessageView::Pong { seq, payload } => ServerMessage::Pong {
                seq: *seq,
                payload: payload.to_vec(),
            },
            ServerMessageView::Other(message) => message.clone(),
        }
    }
}

/// State a server advertises about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerState {
    /// Accepting sessions (tag 0).
    Serving,
    /// Shutting down: finish up and go elsewhere (tag 1).
    Draining,
}

/// A message sent by the server on the control stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// Answer to `Hello` (tag 0).
    Welcome {
        /// Version chosen for this session.
        version: u16,
        /// Identity of this server instance.
        server_id: [u8; 16],
        /// Human-readable instance name.
        instance: String,
        /// Current state of the server.
        state: ServerState,
    },
    /// Answer to a `Ping` (tag 1).
    Pong {
        /// The seq of the ping being answered.
        seq: u64,
        /// The ping's payload, unchanged.
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
    /// The server is going away; reconnect elsewhere (tag 2).
    Drain {
        /// Why, for logs.
        reason: String,
        /// Suggested wait before reconnecting.
        reconnect_after_ms: u32,
    },
    /// A fatal session error; the server closes the session after it (tag 3).
    Error {
        /// One of [`crate::proto::ErrorCode`].
        code: u16,
        /// Human-readable detail.
        message: String,
    },
}
