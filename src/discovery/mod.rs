//! Where servers come from.
//!
//! Every source produces [`Candidate`]s (`candidate.rs`) and reports them as
//! [`DiscoveryEvent`]s:
//! - [`static_target`]: an address given on the command line;
//! - [`mdns`]: `_pingpong._udp` advertised on the LAN (advertise and browse);
//! - [`txt`]: the TXT record a server publishes, and its validation;
//! - [`dns`]: SRV and DNS-SD over unicast DNS (hickory-resolver);
//! - [`register`]: a server's DNS-SD records written into a DNS zone (RFC 2136);
//! - [`srv`]: RFC 2782 priority and weighted choice;
//! - [`rank`]: health ranking and ejection of failing candidates;
//! - [`set`]: the candidates currently known, kept up to date from events;
//! - [`source`], [`sources`]: the interface of a source of candidates, and
//!   every configured source merged into one stream;
//! - [`publisher`]: the interface of a way of publishing a server.
//!
//! Everything a source receives from the network is untrusted: names, ports and
//! TXT values are validated and bounded before they become a candidate, and a
//! candidate is only trusted once the TLS handshake has verified the server.

mod candidate;
pub mod dns;
mod error;
pub mod mdns;
pub mod publisher;
pub mod rank;
pub mod register;
pub mod set;
pub mod source;
pub mod sources;
pub mod srv;
pub mod static_target;
pub mod txt;

pub use candidate::{AddressFamily, Candidate, DiscoveryEvent, DnsSdDomain, RemovalReason, Source};
pub use error::DiscoveryError;
pub use set::CandidateSet;
pub use sources::{Discovery, DiscoveryConfig, MdnsBrowse, SourceEvent};
pub use srv::SrvInfo;
pub use static_target::parse_target;
pub use txt::ServerTxt;

pub use crate::service::DEFAULT_PORT;
