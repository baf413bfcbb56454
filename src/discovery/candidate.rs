//! A server that may be connected to ([`Candidate`]), where it was found
//! ([`Source`]), and the changes sources report about it ([`DiscoveryEvent`]).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::srv::SrvInfo;
use super::txt::ServerTxt;

/// How a candidate was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Given explicitly by the user.
    Static,
    /// Advertised over multicast DNS.
    Mdns,
    /// An SRV record in unicast DNS.
    Dns,
    /// Browsed in a unicast DNS-SD domain (RFC 6763: PTR, then SRV and TXT).
    DnsSd,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Static => "static",
            Source::Mdns => "mdns",
            Source::Dns => "dns",
            Source::DnsSd => "dns-sd",
        })
    }
}

/// A server that may be connected to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Identity of the record within its source (mDNS full name, or the URL).
    pub key: String,
    /// Human-readable instance name.
    pub instance: String,
    /// Host name to connect to and to verify in the certificate (no trailing dot).
    pub host: String,
    /// Addresses already known for `host` (from mDNS); empty when `host` must be
    /// resolved.
    pub addresses: Vec<SocketAddr>,
    /// UDP port.
    pub port: u16,
    /// WebTransport path.
    pub path: String,
    /// Where it was found.
    pub source: Source,
    /// What a pingpong server advertised about itself (parsed TXT), when the
    /// source carries TXT in pingpong's format.
    pub txt: Option<ServerTxt>,
    /// The raw TXT `key=value` pairs (keys lowercased, bounded), for services of
    /// any type.
    pub txt_pairs: Vec<(String, String)>,
    /// SRV priority and weight, for candidates found through SRV.
    pub srv: Option<SrvInfo>,
    /// For DNS-SD candidates: the domain browsed, and how it was known
    /// (shared by every candidate of the domain).
    pub browsed: Option<std::sync::Arc<DnsSdDomain>>,
}

/// The DNS-SD domain a candidate was browsed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSdDomain {
    /// The domain, e.g. `lab.example`.
    pub domain: String,
    /// How the client knew it: `--dns-sd`, or the record that named it and
    /// why that was asked (`b._dns-sd._udp.lab.example (the search list)`).
    pub learnt: String,
}

impl Candidate {
    /// A candidate for unit tests: `key` is also its instance, host
    /// `<key>.local` at 192.0.2.1:4433, found over mDNS, serving (TXT v=1),
    /// no SRV; change what a test is about with struct update syntax.
    #[cfg(test)]
    pub(crate) fn for_test(key: &str) -> Self {
        Self {
            key: key.into(),
            instance: key.into(),
            host: format!("{key}.local"),
            addresses: vec![SocketAddr::from(([192, 0, 2, 1], 4433))],
            port: 4433,
            path: "/pingpong".into(),
            source: Source::Mdns,
            txt: Some(ServerTxt::for_test(crate::proto::ServerState::Serving)),
            txt_pairs: Vec::new(),
            srv: None,
            browsed: None,
        }
    }

    /// Its known addresses joined by `separator`, or `host:port` when none is
    /// known yet.
    pub fn addresses_text(&self, separator: &str) -> String {
        if self.addresses.is_empty() {
            format!("{}:{}", self.host, self.port)
        } else {
            self.addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(separator)
        }
    }

    /// The `https://` URL of the candidate's WebTransport endpoint.
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("https://{host}:{}{}", self.port, self.path)
    }

    /// The addresses to dial within `family`, in the order to try them
    /// (RFC 8305 §4): the families alternate, starting with the family of the
    /// best address, where routable beats link-local and IPv4 beats IPv6 (a
    /// private IPv4 network is what LANs most often route).
    pub fn dial_order(&self, family: AddressFamily) -> Vec<SocketAddr> {
        let rank = |addr: &SocketAddr| match addr.ip() {
            IpAddr::V4(v4) if !v4.is_link_local() => 0,
            IpAddr::V6(v6) if !v6.is_unicast_link_local() => 1,
            IpAddr::V4(_) => 2,
            IpAddr::V6(_) => 3,
        };
        let mut ranked: Vec<SocketAddr> = self
            .addresses
            .iter()
            .filter(|a| family.allows(a))
            .copied()
            .collect();
        ranked.sort_by_key(|a| (rank(a), *a));
        ranked.dedup();
        let (mut first, mut second): (Vec<_>, Vec<_>) = match ranked.first() {
            Some(best) => {
                let v4_first = best.is_ipv4();
                ranked.into_iter().partition(|a| a.is_ipv4() == v4_first)
            }
            None => return Vec::new(),
        };
        let mut order = Vec::with_capacity(first.len() + second.len());
        first.reverse();
        second.reverse();
        loop {
            match (first.pop(), second.pop()) {
                (None, None) => return order,
                (a, b) => order.extend(a.into_iter().chain(b)),
            }
        }
    }

    /// Whether the server says it takes new sessions (unknown counts as yes).
    pub fn is_serving(&self) -> bool {
        self.txt
            .as_ref()
            .is_none_or(|t| t.state == crate::proto::ServerState::Serving)
    }
}

/// Which IP versions a client may use (`ping -4` / `-6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressFamily {
    /// Either.
    #[default]
    Any,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

impl AddressFamily {
    /// Whether `addr` is of this family.
    pub fn allows(self, addr: &SocketAddr) -> bool {
        match self {
            AddressFamily::Any => true,
            AddressFamily::V4 => addr.is_ipv4(),
            AddressFamily::V6 => addr.is_ipv6(),
        }
    }
}

/// A change seen by a discovery source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryEvent {
    /// A new server.
    Added(Candidate),
    /// A known server changed (addresses, TXT).
    Updated(Candidate),
    /// A server went away, and why.
    Removed(Candidate, RemovalReason),
}

/// Why a server left a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalReason {
    /// It said goodbye: an mDNS record with TTL 0 (RFC 6762 §10.1), or it
    /// advertised `state=draining` before it went.
    Goodbye,
    /// A reconfirmation went unanswered (RFC 6762 §10.4): asked after a failed
    /// connection to it, here or by another process on the link.
    ReconfirmFailed,
    /// Its records' TTL ran out with no answer to the refresh queries.
    Expired,
    /// Unicast DNS no longer lists it.
    Unlisted,
}

impl RemovalReason {
    /// The reason as a short token, for JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RemovalReason::Goodbye => "goodbye",
            RemovalReason::ReconfirmFailed => "reconfirm-failed",
            RemovalReason::Expired => "ttl-expired",
            RemovalReason::Unlisted => "unlisted",
        }
    }
}

impl std::fmt::Display for RemovalReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RemovalReason::Goodbye => "goodbye",
            RemovalReason::ReconfirmFailed => "reconfirm failed",
            RemovalReason::Expired => "TTL expired",
            RemovalReason::Unlisted => "no longer in DNS",
        })
    }
}

impl DiscoveryEvent {
    /// The candidate the event is about.
    pub fn candidate(&self) -> &Candidate {
        match self {
            DiscoveryEvent::Added(c)
            | DiscoveryEvent::Updated(c)
            | DiscoveryEvent::Removed(c, _) => c,
        }
    }
}
