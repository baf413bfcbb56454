//! The names both sides of the service share (DESIGN.md §4): what servers
//! advertise and listen on, and what clients look for. Discovery and the server
//! both use them; neither depends on the other for them.

/// The mDNS / DNS-SD service type pingpong servers advertise.
pub const SERVICE_TYPE: &str = "_pingpong._udp.local.";

/// Default QUIC port of pingpong servers (the one HTTPS-over-QUIC examples
/// use, free of the well-known 443).
pub const DEFAULT_PORT: u16 = 4433;

/// The WebTransport path of the service; servers answer others with 404.
pub const DEFAULT_PATH: &str = "/pingpong";

/// Application close code of a session the server refused when it opened
/// because the client certificate it carries no longer passes the server's
/// check (expired, another CA, off the allow-list). Only a resumed session
/// can get that far: a full handshake runs the same check and fails with a
/// TLS alert instead.
pub const CLOSE_CLIENT_CERT_INVALID: u32 = 0x12;
