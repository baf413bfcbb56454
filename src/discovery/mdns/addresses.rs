//! Which addresses a server advertises: only those it can be reached at.
//!
//! The listening socket decides (docs/discovery.md, "mDNS records"): `0.0.0.0` → the IPv4 addresses
//! of the chosen interfaces, `[::]` (dual-stack) → their IPv4 and IPv6
//! addresses, one IP → that IP alone, always limited to `--mdns-interface`.
//! [`advertised`] is the pure rule; [`InterfaceAddress::current`] reads the
//! machine's addresses, which the advertiser polls so that a new DHCP lease or
//! a link coming up is advertised and a removed address withdrawn.
//!
//! mdns-sd then sends each A/AAAA record only on the interface whose subnet
//! holds it (RFC 6762 §6.2), so `127.0.0.1` never leaves loopback.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How often the advertiser reads the machine's addresses: a DHCP renewal or a
/// link coming up is advertised within this (plus the announcement itself).
/// One `getifaddrs` call a second costs microseconds.
pub const ADDRESS_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// One address of one network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// Interface name (`eth0`).
    pub interface: String,
    /// The address.
    pub ip: IpAddr,
    /// The interface's index, where the system gives one (IPv6 scopes,
    /// multicast interface choice).
    pub index: Option<u32>,
}

impl InterfaceAddress {
    /// The machine's addresses now (interfaces that are up).
    pub fn current() -> std::io::Result<Vec<Self>> {
        Ok(if_addrs::get_if_addrs()?
            .into_iter()
            .map(|i| Self {
                ip: i.ip(),
                index: i.index,
                interface: i.name,
            })
            .collect())
    }
}

/// Where to open one multicast socket each, of the machine's `addresses` on
/// `interfaces` (all when empty), with the interface index: every IPv4
/// address, and one IPv6 address per interface (an IPv6 socket serves the
/// whole interface); IPv4 first. Addresses without an index are left out.
pub fn multicast_sockets<'a>(
    addresses: &'a [InterfaceAddress],
    interfaces: &[String],
) -> Vec<(&'a InterfaceAddress, u32)> {
    let mut chosen: Vec<&InterfaceAddress> = addresses
        .iter()
        .filter(|a| interfaces.is_empty() || interfaces.contains(&a.interface))
        .collect();
    chosen.sort_by_key(|a| a.ip.is_ipv6());
    let mut v6_done: Vec<u32> = Vec::new();
    let mut out = Vec::new();
    for address in chosen {
        let Some(index) = address.index else {
            continue;
        };
        if address.ip.is_ipv6() {
            if v6_done.contains(&index) {
                continue;
            }
            v6_done.push(index);
        }
        out.push((address, index));
    }
    out
}

/// The addresses to advertise for a server listening on `listen`, given the
/// machine's `addresses`, limited to `interfaces` (all when empty). Sorted and
/// without duplicates, so that two calls can be compared.
pub fn advertised(
    listen: SocketAddr,
    addresses: &[InterfaceAddress],
    interfaces: &[String],
) -> Vec<IpAddr> {
    let chosen = |a: &&InterfaceAddress| interfaces.is_empty() || interfaces.contains(&a.interface);
    let listen_ip = listen.ip().to_canonical();
    let mut out: Vec<IpAddr> = addresses
        .iter()
        .filter(chosen)
        .map(|a| a.ip)
        .filter(|ip| match listen_ip {
            // `0.0.0.0`: IPv4 only.
            IpAddr::V4(v4) if v4.is_unspecified() => ip.is_ipv4(),
            // `[::]`: the server binds it dual-stack (it falls back to
            // `0.0.0.0`, and then `listen` says so).
            IpAddr::V6(v6) if v6.is_unspecified() => true,
            one => *ip == one,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Vec<InterfaceAddress> {
        [
            ("lo", "127.0.0.1"),
            ("lo", "::1"),
            ("eth0", "10.77.0.1"),
            ("eth0", "fe80::1"),
            ("eth1", "192.0.2.9"),
            ("eth1", "2001:db8::9"),
        ]
        .into_iter()
        .map(|(i, ip)| InterfaceAddress {
            interface: i.into(),
            ip: ip.parse().unwrap(),
            index: None,
        })
        .collect()
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = list.iter().map(|s| s.parse().unwrap()).collect();
        v.sort();
        v
    }

    fn listen(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_socket_per_ipv4_address_and_per_ipv6_interface_ipv4_first() {
        let mut machine = machine();
        for address in &mut machine {
            address.index = Some(match address.interface.as_str() {
                "lo" => 1,
                "eth0" => 2,
                _ => 3,
            });
        }
        machine.push(InterfaceAddress {
            interface: "eth0".into(),
            ip: "fe80::2".parse().unwrap(),
            index: Some(2),
        });
        machine.push(InterfaceAddress {
            interface: "eth0".into(),
            ip: "10.77.0.2".parse().unwrap(),
            index: None,
        });
        let chosen: Vec<(String, u32)> = multicast_sockets(&machine, &["eth0".into()])
            .into_iter()
            .map(|(a, index)| (a.ip.to_string(), index))
            .collect();
        assert_eq!(
            chosen,
            [("10.77.0.1".to_string(), 2), ("fe80::1".to_string(), 2)]
        );
        assert_eq!(multicast_sockets(&machine, &[]).len(), 6);
    }

    #[test]
    fn ipv4_wildcard_advertises_ipv4_only() {
        assert_eq!(
            advertised(listen("0.0.0.0:4433"), &machine(), &[]),
            ips(&["127.0.0.1", "10.77.0.1", "192.0.2.9"])
        );
    }

    #[test]
    fn ipv6_wildcard_advertises_both_families() {
        assert_eq!(
            advertised(listen("[::]:4433"), &machine(), &[]),
            ips(&[
                "127.0.0.1",
                "::1",
                "10.77.0.1",
                "fe80::1",
                "192.0.2.9",
                "2001:db8::9"
            ])
        );
    }

    #[test]
    fn one_ip_advertises_that_ip_alone() {
        assert_eq!(
            advertised(listen("127.0.0.1:4433"), &machine(), &[]),
            ips(&["127.0.0.1"])
        );
        assert_eq!(
            advertised(listen("[2001:db8::9]:4433"), &machine(), &[]),
            ips(&["2001:db8::9"])
        );
        // An IPv4-mapped listen address is its IPv4 address.
        assert_eq!(
            advertised(listen("[::ffff:10.77.0.1]:4433"), &machine(), &[]),
            ips(&["10.77.0.1"])
        );
        // An address the machine does not have (any more) is not advertised.
        assert!(advertised(listen("198.51.100.1:4433"), &machine(), &[]).is_empty());
    }

    #[test]
    fn interfaces_limit_every_rule() {
        let eth0 = ["eth0".to_string()];
        assert_eq!(
            advertised(listen("[::]:4433"), &machine(), &eth0),
            ips(&["10.77.0.1", "fe80::1"])
        );
        assert_eq!(
            advertised(listen("0.0.0.0:4433"), &machine(), &eth0),
            ips(&["10.77.0.1"])
        );
        assert!(advertised(listen("192.0.2.9:4433"), &machine(), &eth0).is_empty());
    }

    #[test]
    fn the_same_address_twice_is_listed_once() {
        let mut twice = machine();
        twice.push(InterfaceAddress {
            interface: "eth2".into(),
            ip: "10.77.0.1".parse().unwrap(),
            index: None,
        });
        assert_eq!(
            advertised(listen("10.77.0.1:1"), &twice, &[]),
            ips(&["10.77.0.1"])
        );
    }
}
