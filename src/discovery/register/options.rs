//! How a server registers itself: its options, their defaults, and the zone
//! name checked where it is given.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::{RegisterError, TsigKey};

/// Default TTL of the registered records: DNS-SD browsers (`--dns-sd`,
/// `discover --watch`) ask again when it runs out, so a draining or removed
/// server is seen within it, while a zone of 100 servers costs a watching
/// client 10 queries a second at most.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

/// Default time between checks that the records are still there: a restarted
/// DNS server or a record deleted by hand heals within it, at the cost of five
/// small queries per server (no update when nothing changed).
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(30);

/// How a server registers itself.
#[derive(Debug, Clone)]
pub struct RegistrationOptions {
    /// The zone, e.g. `lab.test`.
    pub zone: String,
    /// The server taking updates; `None`: the zone's primary (SOA MNAME).
    pub server: Option<SocketAddr>,
    /// The TSIG key updates are signed with.
    pub key: TsigKey,
    /// SRV target host name (`web1`, relative to the zone, or a full name);
    /// `None`: chosen from the certificate's names (see [`naming`](super::naming)).
    pub host: Option<String>,
    /// Addresses to register instead of the ones the server listens on (NAT).
    pub addresses: Vec<IpAddr>,
    /// SRV priority (lower is tried first).
    pub priority: u16,
    /// SRV weight (share among servers of equal priority).
    pub weight: u16,
    /// TTL of the records.
    pub ttl: Duration,
    /// Time between checks that the records are still there.
    pub refresh: Duration,
}

/// The longest zone, in DNS wire bytes, under which every registered name
/// fits DNS's 255: an instance name is `<instance>._pingpong._udp.ZONE`, whose
/// labels before the zone take up to 64 + 10 + 5 bytes (a length byte each,
/// an instance of at most 63 bytes, `_pingpong`, `_udp`).
pub const MAX_ZONE_WIRE_LEN: usize = 255 - (1 + 63) - (1 + 9) - (1 + 4);

/// `zone` as an absolute DNS name, lowercase, short enough for every name
/// registered under it (see [`MAX_ZONE_WIRE_LEN`]).
pub fn zone_name(zone: &str) -> Result<hickory_proto::rr::Name, RegisterError> {
    let mut name = hickory_proto::rr::Name::from_utf8(zone)
        .map_err(|e| RegisterError::BadName {
            zone: zone.to_string(),
            reason: format!("{zone:?} is not a DNS name: {e}"),
        })?
        .to_lowercase();
    name.set_fqdn(true);
    let wire_len = name.iter().map(|label| label.len() + 1).sum::<usize>() + 1;
    if wire_len > MAX_ZONE_WIRE_LEN {
        return Err(RegisterError::BadName {
            zone: zone.to_string(),
            reason: format!(
                "it takes {wire_len} bytes in DNS, and `<instance>._pingpong._udp.` in front of it would pass DNS's 255-byte limit: use a zone of at most {MAX_ZONE_WIRE_LEN} bytes"
            ),
        });
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::register::records;

    #[test]
    fn zone_names_are_absolute_and_lowercase() {
        use crate::discovery::mdns::MAX_INSTANCE_LEN;
        assert_eq!(zone_name("Lab.Test").unwrap().to_string(), "lab.test.");
        assert!(zone_name("a..b").is_err());
        // The longest zone still fits the longest instance name under it.
        let longest = [&"z".repeat(63), &"y".repeat(63), &"x".repeat(46)]
            .map(|l| l.as_str())
            .join(".");
        let zone = zone_name(&longest).unwrap();
        let name = records::instance_name(&zone, &"i".repeat(MAX_INSTANCE_LEN)).unwrap();
        assert_eq!(name.len() + 1, 255, "{name}");
        let error = zone_name(&format!("w.{longest}")).unwrap_err().to_string();
        assert!(
            error.contains(&format!("use a zone of at most {MAX_ZONE_WIRE_LEN} bytes")),
            "{error}"
        );
    }
}
