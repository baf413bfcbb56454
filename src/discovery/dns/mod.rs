//! Unicast DNS discovery with hickory-resolver: SRV (RFC 2782) as Kubernetes
//! headless Services publish it, and DNS-SD browsing (RFC 6763: PTR → SRV + TXT).
//! The parts:
//! - `query.rs`: settings, queries, the names users type, what an answer yields;
//! - `error.rs`: why a lookup gave nothing usable;
//! - [`records`]: what an answer's records mean, pure (tested against arbitrary
//!   and mutated responses, without sockets);
//! - [`resolver`]: asking, with hickory-resolver, and turning answers into
//!   candidates;
//! - [`domains`]: the browse domains the network announces (RFC 6763 §11);
//! - `lookup.rs`: what a query resolves to ([`DnsResolver::resolve`]);
//! - [`watch`]: keeping a query's candidates up to date (TTL, refresh on failure).
//!
//! Everything in an answer is untrusted input and is validated like mDNS
//! records are; nothing is trusted until TLS has verified the server.

pub mod domains;
mod error;
mod lookup;
mod query;
pub mod records;
pub mod resolver;
pub mod watch;

pub use crate::discovery::txt::parse_txt_string;
pub use error::DnsLookupError;
pub use query::{
    browse_name, service_name, srv_name, DnsConfig, DnsQuery, Resolution, DEFAULT_SERVICE,
    DEFAULT_TIMEOUT, SERVICE_PREFIX,
};
pub(crate) use query::{MAX_NAME_LEN, MAX_REFRESH, MIN_REFRESH};
pub use resolver::DnsResolver;
pub use watch::DnsWatch;
