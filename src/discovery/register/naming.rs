//! The SRV target host and the addresses a server registers; pure.
//!
//! Clients check the SRV target name against the server certificate, so the
//! host is taken from the certificate when it can be: `--register-host` if
//! given, else the certificate's first DNS name inside the zone, else
//! `<host name>.ZONE` (with a warning when the certificate does not carry it:
//! clients would refuse the server).
//!
//! The addresses follow the listening socket as over mDNS (one IP: that one;
//! `0.0.0.0`: IPv4; `[::]`: both), without loopback and link-local addresses,
//! which mean nothing on another subnet; `--register-address` replaces them
//! (a server behind NAT).

use std::net::{IpAddr, SocketAddr};

use hickory_proto::rr::Name;

use crate::discovery::mdns::addresses::{advertised, InterfaceAddress};

/// The SRV target for `zone`, and a warning when the certificate's names
/// (`cert_names`, DNS SANs and CN) do not cover it.
pub fn choose_host(
    zone: &Name,
    explicit: Option<&str>,
    cert_names: &[String],
    hostname: &str,
) -> Result<(Name, Option<String>), String> {
    let host = match explicit {
        Some(given) => in_zone(zone, given)?,
        None => match cert_names
            .iter()
            .filter(|n| !n.starts_with('*'))
            .filter_map(|n| Name::from_utf8(n).ok().map(|name| name.to_lowercase()))
            .map(|mut name| {
                name.set_fqdn(true);
                name
            })
            .find(|name| zone.zone_of(name) && name != zone)
        {
            Some(name) => name,
            None => in_zone(zone, &host_label(hostname))?,
        },
    };
    let covered = cert_names.iter().any(|n| covers(n, &host));
    let warning = (!covered).then(|| {
        format!(
            "the server certificate does not carry {}: clients browsing {} will refuse it. Fix: issue it with --san {} (certs issue server), or give --register-host with a name it carries",
            host.to_string().trim_end_matches('.'),
            zone.to_string().trim_end_matches('.'),
            host.to_string().trim_end_matches('.'),
        )
    });
    Ok((host, warning))
}

/// `given` as a name in `zone`: a full name (inside the zone) as is, a
/// relative one under the zone.
fn in_zone(zone: &Name, given: &str) -> Result<Name, String> {
    let mut name = Name::from_utf8(given)
        .map_err(|e| format!("host name {given:?} is not a DNS name: {e}"))?
        .to_lowercase();
    if !given.ends_with('.')
        && !zone.zone_of(&{
            let mut full = name.clone();
            full.set_fqdn(true);
            full
        })
    {
        name = name
            .append_domain(zone)
            .map_err(|e| format!("host name {given:?} does not fit in {zone}: {e}"))?;
    }
    name.set_fqdn(true);
    if !zone.zone_of(&name) {
        return Err(format!("host name {given:?} is not inside the zone {zone}"));
    }
    Ok(name)
}

/// A host name as one DNS label: lowercase letters, digits and `-`.
fn host_label(hostname: &str) -> String {
    let first = hostname.split('.').next().unwrap_or_default();
    let label: String = first
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(63)
        .collect();
    let label = label.trim_matches('-');
    if label.is_empty() {
        "pingpong".into()
    } else {
        label.into()
    }
}

/// Whether certificate name `cert_name` (possibly `*.zone`) matches `host`.
fn covers(cert_name: &str, host: &Name) -> bool {
    let host = host.to_string().trim_end_matches('.').to_ascii_lowercase();
    let cert_name = cert_name.trim_end_matches('.').to_ascii_lowercase();
    match cert_name.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => cert_name == host,
    }
}

/// The addresses to register for a server on `listen`, given the machine's
/// addresses, or `overrides` when any are given.
pub fn registered_addresses(
    listen: SocketAddr,
    machine: &[InterfaceAddress],
    overrides: &[IpAddr],
) -> Vec<IpAddr> {
    if !overrides.is_empty() {
        let mut out = overrides.to_vec();
        out.sort();
        out.dedup();
        return out;
    }
    let chosen = listen.ip().to_canonical();
    advertised(listen, machine, &[])
        .into_iter()
        .filter(|ip| *ip == chosen || is_routable(ip))
        .collect()
}

/// Not loopback, link-local or unspecified: meaningful beyond this link.
fn is_routable(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !(v4.is_loopback() || v4.is_link_local() || v4.is_unspecified()),
        IpAddr::V6(v6) => {
            !(v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Name {
        Name::from_ascii("lab.test.").unwrap()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_host_comes_from_the_certificate_when_it_can() {
        let (host, warning) = choose_host(
            &zone(),
            None,
            &names(&["web1", "web1.local", "Web1.Lab.Test"]),
            "box",
        )
        .unwrap();
        assert_eq!(host.to_string(), "web1.lab.test.");
        assert_eq!(warning, None);
    }

    #[test]
    fn otherwise_the_host_name_under_the_zone_with_a_warning() {
        let (host, warning) =
            choose_host(&zone(), None, &names(&["web1.local"]), "My_Box.corp").unwrap();
        assert_eq!(host.to_string(), "my-box.lab.test.");
        let warning = warning.unwrap();
        assert!(warning.contains("--san my-box.lab.test"), "{warning}");
        // A wildcard in the zone covers it.
        let (_, warning) = choose_host(&zone(), None, &names(&["*.lab.test"]), "box").unwrap();
        assert_eq!(warning, None);
    }

    #[test]
    fn an_explicit_host_is_relative_to_the_zone_unless_full() {
        let certs = names(&["*.lab.test"]);
        for (given, want) in [
            ("web2", "web2.lab.test."),
            ("web2.lab.test", "web2.lab.test."),
            ("web2.lab.test.", "web2.lab.test."),
            ("a.b", "a.b.lab.test."),
        ] {
            let (host, _) = choose_host(&zone(), Some(given), &certs, "box").unwrap();
            assert_eq!(host.to_string(), want, "{given}");
        }
        let outside = choose_host(&zone(), Some("web2.other.test."), &certs, "box");
        assert!(outside.unwrap_err().contains("not inside the zone"));
    }

    #[test]
    fn wildcards_cover_one_label() {
        let host = Name::from_ascii("a.b.lab.test.").unwrap();
        assert!(!covers("*.lab.test", &host));
        assert!(covers("*.b.lab.test", &host));
    }

    #[test]
    fn addresses_leave_out_loopback_and_link_local() {
        let machine: Vec<InterfaceAddress> = [
            ("lo", "127.0.0.1"),
            ("lo", "::1"),
            ("eth0", "10.81.0.2"),
            ("eth0", "fe80::1"),
            ("eth0", "2001:db8::2"),
            ("eth0", "169.254.1.1"),
        ]
        .iter()
        .map(|(interface, ip)| InterfaceAddress {
            interface: interface.to_string(),
            ip: ip.parse().unwrap(),
            index: None,
        })
        .collect();
        let ips = |v: &[&str]| {
            v.iter()
                .map(|s| s.parse().unwrap())
                .collect::<Vec<IpAddr>>()
        };
        assert_eq!(
            registered_addresses("[::]:4433".parse().unwrap(), &machine, &[]),
            ips(&["10.81.0.2", "2001:db8::2"])
        );
        assert_eq!(
            registered_addresses("0.0.0.0:4433".parse().unwrap(), &machine, &[]),
            ips(&["10.81.0.2"])
        );
        // Asked for explicitly, even loopback is what it listens on.
        assert_eq!(
            registered_addresses("127.0.0.1:4433".parse().unwrap(), &machine, &[]),
            ips(&["127.0.0.1"])
        );
        assert_eq!(
            registered_addresses("[::]:4433".parse().unwrap(), &machine, &ips(&["192.0.2.7"])),
            ips(&["192.0.2.7"])
        );
    }
}
