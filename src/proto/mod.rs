//! Wire protocol v1: the messages, their framing and the version rules.
//!
//! Pure logic: no I/O, no async. Everything that touches a socket builds on
//! [`FrameDecoder`] and [`encode_frame`]; see `docs/protocol.md` for the
//! byte-level description shared with the Python server.

mod decoder;
mod error;
mod frame;
mod message;
mod version;

pub use decoder::FrameDecoder;
pub use error::{ErrorCode, FrameError};
pub use frame::{
    encode_frame, encode_frame_into, encode_ping_into, encode_pong_into, WireMessage, MAX_FRAME_LEN,
};
pub use message::{
    ClientMessage, ClientMessageView, ServerMessage, ServerMessageView, ServerState,
};
pub use version::{negotiate_version, MAX_VERSION, MIN_VERSION};
