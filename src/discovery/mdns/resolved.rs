//! A resolved service, whoever resolved it (mdns-sd's browse, or a one-shot
//! query's reply), and its validation into a [`Candidate`]: names, port and TXT
//! from the network are bounded before anything else sees them.

use std::net::{IpAddr, SocketAddr, SocketAddrV6};

use mdns_sd::{ResolvedService, ScopedIp};

use super::{instance_label, raw_pairs, MAX_HOST_LEN, MAX_INSTANCE_LEN};
use crate::discovery::txt::ServerTxt;
use crate::discovery::{Candidate, Source};
use crate::text::{printable, truncate};

/// One service with its SRV, TXT and address records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// `instance._type._udp.local.`, labels joined as mdns-sd joins them.
    pub fullname: String,
    /// `_type._udp.local.`
    pub ty_domain: String,
    /// SRV target (`host.local.`).
    pub host: String,
    /// SRV port.
    pub port: u16,
    /// TXT `key=value` pairs in record order (a key without `=` has value "").
    pub txt: Vec<(String, String)>,
    /// Addresses of the host, link-local IPv6 with their interface scope.
    pub addresses: Vec<SocketAddr>,
}

impl Resolved {
    /// What mdns-sd resolved.
    pub fn from_mdns_sd(service: &ResolvedService) -> Self {
        Self {
            fullname: service.fullname.clone(),
            ty_domain: service.ty_domain.clone(),
            host: service.host.clone(),
            port: service.port,
            txt: service
                .txt_properties
                .iter()
                .map(|p| {
                    (
                        p.key().to_string(),
                        p.val().map(printable).unwrap_or_default(),
                    )
                })
                .collect(),
            addresses: service
                .addresses
                .iter()
                .map(|ip| socket_addr(ip, service.port))
                .collect(),
        }
    }

    /// The first value of TXT `key` (case-insensitive, RFC 6763 §6.4).
    fn txt_value(&self, key: &str) -> Option<&str> {
        self.txt
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Validates the service and turns it into a candidate; `strict` requires a
    /// valid pingpong TXT record (other service types keep whatever TXT they have).
    pub fn candidate(&self, strict: bool) -> Result<Candidate, String> {
        let fullname = &self.fullname;
        if fullname.len() > 255 {
            return Err(format!("full name is {} bytes", fullname.len()));
        }
        let instance = instance_label(fullname, super::main_type(&self.ty_domain));
        if instance.is_empty() || instance.len() > MAX_INSTANCE_LEN * 4 {
            return Err("instance name empty or too long".into());
        }
        let host = self.host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty()
            || host.len() > MAX_HOST_LEN
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Err(format!("host name {:?} is not a DNS name", truncate(&host)));
        }
        // An address as SRV target would be dialled as such, bypassing the
        // addresses the records gave and the name the certificate is checked by.
        if host.parse::<IpAddr>().is_ok() {
            return Err(format!("host name {host:?} is an address"));
        }
        if self.port == 0 {
            return Err("port 0".into());
        }
        let txt = match ServerTxt::parse(|key| self.txt_value(key)) {
            Ok(txt) => Some(txt),
            Err(e) if strict => return Err(e.to_string()),
            Err(_) => None,
        };
        let mut seen: Vec<String> = Vec::new();
        let first_of_each = self.txt.iter().filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            let first = !seen.contains(&k);
            if first {
                seen.push(k);
            }
            first
        });
        let txt_pairs = raw_pairs(first_of_each.cloned());
        let mut addresses: Vec<SocketAddr> = self
            .addresses
            .iter()
            .map(|a| SocketAddr::new(a.ip(), self.port).with_scope_of(a))
            .collect();
        addresses.sort();
        addresses.dedup();
        if addresses.is_empty() {
            return Err("no address".into());
        }
        Ok(Candidate {
            key: fullname.clone(),
            // mdns-sd gives received names as their raw labels: shown as is.
            instance: instance.to_string(),
            host,
            addresses,
            port: self.port,
            path: txt
                .as_ref()
                .map_or_else(|| "/".to_string(), |t| t.path.clone()),
            source: Source::Mdns,
            txt,
            srv: None,
            txt_pairs,
            browsed: None,
        })
    }
}

/// Keeps an IPv6 address's interface scope when its port changes.
trait WithScope {
    fn with_scope_of(self, other: &SocketAddr) -> SocketAddr;
}

impl WithScope for SocketAddr {
    fn with_scope_of(self, other: &SocketAddr) -> SocketAddr {
        match (self, other) {
            (SocketAddr::V6(mine), SocketAddr::V6(theirs)) => SocketAddr::V6(SocketAddrV6::new(
                *mine.ip(),
                mine.port(),
                0,
                theirs.scope_id(),
            )),
            (mine, _) => mine,
        }
    }
}

/// A socket address for `ip`; a link-local IPv6 address keeps its interface.
fn socket_addr(ip: &ScopedIp, port: u16) -> SocketAddr {
    match (ip.to_ip_addr(), ip) {
        (IpAddr::V6(v6), ScopedIp::V6(scoped)) if v6.is_unicast_link_local() => {
            SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scoped.scope_id().index))
        }
        (addr, _) => SocketAddr::new(addr, port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved() -> Resolved {
        Resolved {
            fullname: "web1._pingpong._udp.local.".into(),
            ty_domain: "_pingpong._udp.local.".into(),
            host: "Web1.local.".into(),
            port: 4433,
            txt: vec![
                ("V".into(), "1".into()),
                ("path".into(), "/pingpong".into()),
                ("state".into(), "serving".into()),
                ("v".into(), "9".into()),
            ],
            addresses: vec![
                "10.0.0.1:4433".parse().unwrap(),
                "[fe80::1%3]:4433".parse().unwrap(),
                "10.0.0.1:4433".parse().unwrap(),
            ],
        }
    }

    #[test]
    fn a_valid_service_becomes_a_candidate_with_the_first_of_each_txt_key() {
        let candidate = resolved().candidate(true).unwrap();
        assert_eq!(candidate.host, "web1.local");
        assert_eq!(candidate.instance, "web1");
        assert_eq!(candidate.txt.unwrap().version, 1);
        assert_eq!(candidate.txt_pairs.len(), 3);
        assert_eq!(
            candidate.addresses,
            vec![
                "10.0.0.1:4433".parse::<SocketAddr>().unwrap(),
                "[fe80::1%3]:4433".parse().unwrap()
            ]
        );
    }

    #[test]
    fn bad_services_are_refused_with_a_reason() {
        let mut no_address = resolved();
        no_address.addresses.clear();
        assert_eq!(no_address.candidate(true).unwrap_err(), "no address");
        let mut bad_host = resolved();
        bad_host.host = "we b.local.".into();
        assert!(bad_host.candidate(true).is_err());
        bad_host.host = "10.0.0.5.".into();
        assert!(bad_host.candidate(true).is_err());
        let mut no_txt = resolved();
        no_txt.txt.clear();
        assert!(no_txt.candidate(true).is_err());
        assert!(no_txt.candidate(false).unwrap().txt.is_none());
    }
}
