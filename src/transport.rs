//! QUIC transport timing shared by server and client.

use std::time::Duration;

/// A connection with no traffic for this long is dead. QUIC's default (30 s) would
/// leave a client pinging a killed server for half a minute. Two seconds is four
/// keep-alive intervals, so three lost keep-alives in a row on a lossy LAN do not
/// kill a healthy session; while pinging, the client's suspicion
/// (`client::suspicion`) notices a dead server far sooner.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// Keep-alive interval: a quarter of [`IDLE_TIMEOUT`].
pub const KEEP_ALIVE_INTERVAL: Duration = Duration::from_millis(500);

/// How long a new session may take to send its `Hello` before the server closes it.
/// Generous for a human-driven client on a slow link, short enough that idle
/// half-open sessions do not pile up.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client waits for the connection, TLS handshake and WebTransport
/// session to be established. Loopback takes a millisecond and a LAN a few; five
/// seconds covers a lossy path with a few retransmissions.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
