//! The names both sides of the service share (docs/discovery.md, "mDNS records"): what servers
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
/// because the client certificate it carries has expired (or is not valid
/// yet). Only a session resumed from a TLS ticket can get that far: a full
/// handshake checks the dates itself and fails with a TLS alert.
pub const CLOSE_CLIENT_CERT_INVALID: u32 = 0x12;
