//! pingpong: zero-config peer discovery, with a mutually-authenticated
//! WebTransport ping-pong service as its workload.
//!
//! The parts, in the order data flows through them:
//!
//! - [`discovery`]: where servers come from ([`discovery::Candidate`]).
//! - [`client`]: connect with mTLS, Hello/Welcome, ping, summarise.
//! - [`server`]: accept sessions, answer pings.
//! - [`proto`]: the wire protocol, pure (no I/O).
//! - [`framed`]: protocol frames over any async byte stream.
//! - [`tls`]: certificates and rustls configurations.
//! - [`transport`]: QUIC timing shared by both sides.
//! - [`shutdown`]: signals to cancellation.
#![deny(missing_docs)]

pub mod client;
pub mod discovery;
pub mod framed;
pub mod proto;
pub mod server;
pub mod shutdown;
pub mod tls;
pub mod transport;
