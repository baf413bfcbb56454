//! Where servers come from.
//!
//! Every source produces [`Candidate`]s. For now the only source is
//! [`static_target`]: an address given on the command line. mDNS and DNS-SRV
//! sources plug in here.

pub mod static_target;

use std::fmt;

pub use static_target::parse_target;

/// Default QUIC port of pingpong servers.
pub const DEFAULT_PORT: u16 = 4433;

/// How a candidate was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Given explicitly by the user.
    Static,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Static => "static",
        })
    }
}

/// A server that may be connected to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Host name or IP address (without brackets).
    pub host: String,
    /// UDP port.
    pub port: u16,
    /// WebTransport path.
    pub path: String,
    /// Where it was found.
    pub source: Source,
}

impl Candidate {
    /// The `https://` URL of the candidate's WebTransport endpoint.
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("https://{host}:{}{}", self.port, self.path)
    }
}
