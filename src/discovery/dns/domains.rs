//! Browse domains learnt from the network (RFC 6763 §11): with no DNS flag,
//! a client asks where to browse. For each domain of the resolver's search
//! list (`search`/`domain` in resolv.conf, which DHCP option 119 or 15 sets)
//! and for the reverse-mapping domain of each local IPv4 /24 and IPv6 /64,
//! it reads the PTR records at `b._dns-sd._udp.<domain>` ("browse here") and
//! `lb._dns-sd._udp.<domain>` ("browse here by default"), then browses
//! `_pingpong._udp.` in every domain they name.
//!
//! [`seeds`] is the pure part; `DnsResolver::resolve_learned` asks. A
//! network without such records, or a DNS server that does not answer, is
//! normal: nothing is reported but a debug line, and mDNS is not waited for.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use futures::StreamExt;
use hickory_resolver::proto::rr::Name;
use tracing::debug;

use super::records::{check_name, ptr_targets};
use super::resolver::DnsResolver;
use super::{service_name, Resolution, MAX_REFRESH};
use crate::discovery::DnsSdDomain;

/// Search-list domains asked about: resolv.conf allows six; more is a
/// misconfiguration.
const MAX_SEARCH_DOMAINS: usize = 6;
/// Local subnets asked about, per address family: a host on more networks
/// than that browses the first ones (sorted).
const MAX_SUBNETS: usize = 4;
/// Browse domains used at most, whatever the records say: each costs a
/// browse per TTL.
pub const MAX_LEARNT_DOMAINS: usize = 16;
/// Questions in flight at once while learning.
const CONCURRENT_QUERIES: usize = 8;
/// When no domain was learnt (no records, or no answer), ask again after
/// this: a network whose DNS server is down costs one query per seed a
/// minute, and a new record is found within it.
pub const RECHECK_WITHOUT_DOMAINS: Duration = Duration::from_secs(60);

/// Where to ask for browse domains, and why: each search domain, then the
/// reverse-mapping domain of each local subnet (loopback and link-local
/// addresses left out).
pub fn seeds(search: &[Name], addresses: &[IpAddr]) -> Vec<(Name, String)> {
    let mut out: Vec<(Name, String)> = Vec::new();
    let mut seen = HashSet::new();
    for domain in search.iter().take(MAX_SEARCH_DOMAINS) {
        let mut domain = domain.to_lowercase();
        domain.set_fqdn(true);
        if !domain.is_root() && seen.insert(domain.clone()) {
            out.push((domain, "the search list".into()));
        }
    }
    let mut subnets: Vec<(Name, String)> = addresses
        .iter()
        .filter_map(|ip| reverse_subnet(*ip))
        .collect();
    subnets.sort();
    let mut v4 = 0;
    let mut v6 = 0;
    for (name, why) in subnets {
        let count = if name.to_string().ends_with("in-addr.arpa.") {
            &mut v4
        } else {
            &mut v6
        };
        if *count < MAX_SUBNETS && seen.insert(name.clone()) {
            *count += 1;
            out.push((name, why));
        }
    }
    out
}

/// The reverse-mapping domain of `ip`'s /24 (IPv4) or /64 (IPv6) with the
/// host part zeroed (RFC 6763 §11), e.g. `0.0.82.10.in-addr.arpa.` for
/// 10.82.0.7, and the
/// subnet it stands for.
fn reverse_subnet(ip: IpAddr) -> Option<(Name, String)> {
    match ip {
        IpAddr::V4(v4) if !(v4.is_loopback() || v4.is_link_local() || v4.is_unspecified()) => {
            let [a, b, c, _] = v4.octets();
            let name = Name::from_ascii(format!("0.{c}.{b}.{a}.in-addr.arpa.")).ok()?;
            Some((name, format!("the subnet {a}.{b}.{c}.0/24")))
        }
        IpAddr::V6(v6)
            if !(v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xffc0) == 0xfe80) =>
        {
            let mut bytes = v6.octets();
            bytes[8..].fill(0);
            let nibbles: Vec<String> = bytes
                .iter()
                .rev()
                .flat_map(|b| [b & 0xf, b >> 4])
                .map(|n| format!("{n:x}"))
                .collect();
            let name = Name::from_ascii(format!("{}.ip6.arpa.", nibbles.join("."))).ok()?;
            let prefix = std::net::Ipv6Addr::from(bytes);
            Some((name, format!("the subnet {prefix}/64")))
        }
        _ => None,
    }
}

impl DnsResolver {
    /// DNS-SD in every browse domain the network announces: the seeds are the
    /// search list and this machine's subnets.
    pub(super) async fn resolve_learnt(&self) -> Resolution {
        let addresses: Vec<IpAddr> = crate::discovery::mdns::addresses::InterfaceAddress::current()
            .unwrap_or_default()
            .into_iter()
            .map(|a| a.ip)
            .collect();
        self.resolve_learned(&seeds(&self.search, &addresses)).await
    }

    /// The domains the PTR records at `name` (`b._dns-sd._udp.<seed>`)
    /// name, with their TTLs.
    async fn browse_domains_at(
        &self,
        name: Name,
        why: String,
    ) -> Option<(Name, String, Vec<(Name, u32)>)> {
        match self.inner.reverse_lookup(name.clone()).await {
            Ok(lookup) => Some((name, why, ptr_targets(lookup.answers()))),
            Err(error) => {
                debug!(%name, %error, "no browse domains there");
                None
            }
        }
    }

    /// Learns the browse domains from `seeds`, browses each, and returns
    /// every candidate found, tagged with its domain and how it was learnt.
    /// Never an error: what fails is logged at debug level and asked again
    /// after the records' TTL (or [`RECHECK_WITHOUT_DOMAINS`]).
    pub(crate) async fn resolve_learned(&self, seeds: &[(Name, String)]) -> Resolution {
        let questions: Vec<(Name, String)> = seeds
            .iter()
            .flat_map(|(seed, why)| {
                ["b", "lb"].into_iter().filter_map(move |kind| {
                    let name = Name::from_ascii(format!("{kind}._dns-sd._udp"))
                        .and_then(|prefix| prefix.append_domain(seed))
                        .ok()?;
                    Some((name, why.clone()))
                })
            })
            .collect();
        let answers: Vec<_> = futures::stream::iter(
            questions
                .into_iter()
                .map(|(name, why)| self.browse_domains_at(name, why)),
        )
        .buffered(CONCURRENT_QUERIES)
        .collect()
        .await;
        let mut ttl = MAX_REFRESH;
        let mut domains: Vec<(String, String)> = Vec::new();
        for (asked, why, found) in answers.into_iter().flatten() {
            for (target, record_ttl) in found {
                ttl = ttl.min(Duration::from_secs(u64::from(record_ttl)));
                let domain = target.to_utf8().trim_end_matches('.').to_lowercase();
                if check_name(&domain).is_err() || domains.iter().any(|(d, _)| *d == domain) {
                    continue;
                }
                if domains.len() == MAX_LEARNT_DOMAINS {
                    debug!(%domain, "more browse domains than {MAX_LEARNT_DOMAINS}; left out");
                    continue;
                }
                let learnt = format!("{} ({why})", asked.to_utf8().trim_end_matches('.'));
                domains.push((domain, learnt));
            }
        }
        if domains.is_empty() {
            return Resolution {
                candidates: Vec::new(),
                ttl: RECHECK_WITHOUT_DOMAINS,
                skipped: Vec::new(),
            };
        }
        let mut out = Resolution {
            candidates: Vec::new(),
            ttl,
            skipped: Vec::new(),
        };
        for (domain, learnt) in domains {
            match self
                .browse(&format!("{}.", service_name(self.service(), &domain)))
                .await
            {
                Ok(found) => {
                    out.ttl = out.ttl.min(found.ttl);
                    let browsed = std::sync::Arc::new(DnsSdDomain {
                        domain: domain.clone(),
                        learnt,
                    });
                    out.candidates
                        .extend(found.candidates.into_iter().map(|mut candidate| {
                            candidate.browsed = Some(browsed.clone());
                            candidate
                        }));
                    for skipped in found.skipped {
                        debug!(%domain, "{skipped}");
                    }
                }
                Err(error) => debug!(%domain, %error, "learnt browse domain has no servers"),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn search_domains_then_local_subnets() {
        let search = [
            Name::from_ascii("Lab.Test").unwrap(),
            Name::from_ascii("corp.example.").unwrap(),
        ];
        let found = seeds(
            &search,
            &ips(&[
                "127.0.0.1",
                "10.82.0.7",
                "fe80::1",
                "2001:db8:1:2:aaaa::7",
                "169.254.3.3",
            ]),
        );
        let names: Vec<String> = found.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(
            names,
            [
                "lab.test.",
                "corp.example.",
                "0.0.82.10.in-addr.arpa.",
                "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
            ]
        );
        assert_eq!(found[0].1, "the search list");
        assert_eq!(found[2].1, "the subnet 10.82.0.0/24");
        assert_eq!(found[3].1, "the subnet 2001:db8:1:2::/64");
    }

    #[test]
    fn seeds_are_bounded_and_unique() {
        let search: Vec<Name> = (0..10)
            .map(|i| Name::from_ascii(format!("d{i}.test")).unwrap())
            .collect();
        let addresses: Vec<IpAddr> = (0..10)
            .map(|i| format!("10.0.{i}.1").parse().unwrap())
            .chain(["10.0.0.2".parse().unwrap()])
            .collect();
        let found = seeds(&search, &addresses);
        assert_eq!(found.len(), MAX_SEARCH_DOMAINS + MAX_SUBNETS);
        let unique: HashSet<_> = found.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(unique.len(), found.len());
    }
}
