//! Wide-area registration: a server publishes its DNS-SD records (RFC 6763)
//! in a zone of an ordinary authoritative DNS server by dynamic update (RFC
//! 2136) signed with TSIG (RFC 8945), so that clients on other subnets and
//! sites find it with `--dns-sd ZONE`.
//!
//! - [`key`]: TSIG keys read from BIND's key file format.
//! - [`records`]: what one server registers and the update messages that
//!   claim, rewrite and remove it, with the ownership rule; pure.
//! - [`naming`]: the SRV target host and the addresses to register; pure.
//! - [`prune`]: listing a zone's instances and deleting dead ones.
//! - `exchange`: one message to the primary and its answer, codes kept.
//! - `primary`: which server takes the zone's updates.
//! - [`registrar`]: the lifecycle — register, rename on conflict, heal,
//!   follow TXT and address changes, back off on failure, remove on stop.

pub mod key;
pub mod naming;
pub mod prune;
pub mod records;
pub mod registrar;

mod exchange;
mod primary;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::tsig::TsigError;

pub use key::TsigKey;
pub use primary::find_primary;
pub use registrar::{Registrar, RegistrationStatus};

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
    /// `None`: chosen from the certificate's names (see [`naming`]).
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

/// Why a registration failed; each message names the cause and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The key file cannot be used.
    #[error("cannot use the TSIG key {}: {reason}", path.display())]
    KeyFile {
        /// The file (or key name).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The zone's primary could not be found.
    #[error("cannot find the DNS zone {zone}: {reason}. Fix: check the zone name, or give --register-server IP")]
    ZoneNotFound {
        /// The zone.
        zone: String,
        /// Why.
        reason: String,
    },
    /// Nothing answered.
    #[error("no answer from the DNS server {server} for zone {zone}: is it running, and is UDP port {} reachable? (--register-server)", server.port())]
    Unreachable {
        /// The server asked.
        server: SocketAddr,
        /// The zone.
        zone: String,
    },
    /// The socket could not be used.
    #[error("cannot reach the DNS server {server}: {reason}")]
    Network {
        /// The server.
        server: SocketAddr,
        /// The system's complaint.
        reason: String,
    },
    /// The server answered an error.
    #[error("{}", rejection_text(.server, .zone, .key, *.code, .tsig.as_ref(), *.skew))]
    Rejected {
        /// The server.
        server: SocketAddr,
        /// The zone.
        zone: String,
        /// The key's name.
        key: String,
        /// The response code.
        code: ResponseCode,
        /// The TSIG error, if any.
        tsig: Option<TsigError>,
        /// BADTIME: the server's clock minus ours, in seconds.
        skew: Option<i64>,
    },
    /// The answer was not signed with our key.
    #[error("the answer from {server} is not signed with key {key} ({reason}): is something between us and the DNS server answering for it?")]
    NotAuthentic {
        /// The server.
        server: SocketAddr,
        /// The key's name.
        key: String,
        /// What failed.
        reason: String,
    },
    /// A name to register is not valid.
    #[error("cannot register in {zone}: {reason}")]
    BadName {
        /// The zone.
        zone: String,
        /// What is wrong.
        reason: String,
    },
    /// The records keep changing under this server.
    #[error("the records of {instance:?} in {zone} keep changing while this server writes them: is another server running with the same certificate and instance name?")]
    Contended {
        /// The instance name.
        instance: String,
        /// The zone.
        zone: String,
    },
    /// A message could not be built or an answer not read.
    #[error("cannot talk DNS with {server}: {reason}")]
    Malformed {
        /// The server.
        server: SocketAddr,
        /// What failed.
        reason: String,
    },
    /// Every conflict name is taken.
    #[error("the instance names {instance:?} to \"{instance} ({last})\" are all taken in {zone} by other servers: choose another --instance")]
    NamesExhausted {
        /// The base instance name.
        instance: String,
        /// The last suffix tried.
        last: u32,
        /// The zone.
        zone: String,
    },
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

/// The one line for an error answer, by code.
fn rejection_text(
    server: &SocketAddr,
    zone: &str,
    key: &str,
    code: ResponseCode,
    tsig: Option<&TsigError>,
    skew: Option<i64>,
) -> String {
    match (tsig, code) {
        (Some(TsigError::BadSig), _) => format!(
            "the DNS server {server} says the update is signed with the wrong secret (BADSIG): the key file must hold the same secret as the server's key {key:?}"
        ),
        (Some(TsigError::BadKey), _) => format!(
            "the DNS server {server} does not know the key {key:?} (BADKEY): add it to its configuration, or use the key file it was given"
        ),
        (Some(TsigError::BadTime), _) => match skew {
            Some(skew) => format!(
                "the DNS server {server}'s clock differs from this machine's by {skew} s, more than the 300 s TSIG allows (BADTIME): synchronise the clocks (NTP)"
            ),
            None => format!(
                "the DNS server {server}'s clock differs from this machine's by more than 300 s (BADTIME): synchronise the clocks (NTP)"
            ),
        },
        (_, ResponseCode::Refused) => format!(
            "the DNS server {server} refused the update of {zone} (REFUSED): it does not hold that zone, or the zone does not allow updates signed with key {key:?}; check --register-server (the zone's primary) and allow the key (BIND: update-policy {{ grant {key} zonesub ANY; }};)"
        ),
        (_, ResponseCode::NotAuth) => format!(
            "the DNS server {server} is not authoritative for {zone}, or does not accept key {key:?} (NOTAUTH): check the zone name, --register-server (the zone's primary) and the key"
        ),
        (_, ResponseCode::NotZone) => format!(
            "a record is outside the zone {zone} (NOTZONE): check --register-host"
        ),
        (_, code) => format!(
            "the DNS server {server} answered {code} (rcode {}) to the update of {zone}: see its log",
            u16::from(code)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(code: ResponseCode, tsig: Option<TsigError>, skew: Option<i64>) -> String {
        RegisterError::Rejected {
            server: "192.0.2.53:53".parse().unwrap(),
            zone: "lab.test".into(),
            key: "pingpong-update".into(),
            code,
            tsig,
            skew,
        }
        .to_string()
    }

    #[test]
    fn each_code_names_its_cause_and_fix() {
        for (code, tsig, skew, says) in [
            (
                ResponseCode::Refused,
                None,
                None,
                "update-policy { grant pingpong-update zonesub ANY; }",
            ),
            (
                ResponseCode::NotAuth,
                None,
                None,
                "not authoritative for lab.test",
            ),
            (
                ResponseCode::NotAuth,
                Some(TsigError::BadSig),
                None,
                "wrong secret (BADSIG)",
            ),
            (
                ResponseCode::NotAuth,
                Some(TsigError::BadKey),
                None,
                "does not know the key \"pingpong-update\" (BADKEY)",
            ),
            (
                ResponseCode::NotAuth,
                Some(TsigError::BadTime),
                Some(-600),
                "differs from this machine's by -600 s",
            ),
            (
                ResponseCode::NotZone,
                None,
                None,
                "outside the zone lab.test",
            ),
            (
                ResponseCode::ServFail,
                None,
                None,
                "answered Server Failure (rcode 2)",
            ),
        ] {
            let line = rejected(code, tsig, skew);
            assert!(line.contains(says), "{code:?} {tsig:?}: {line}");
            assert!(!line.contains('\n'), "{line}");
        }
    }

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
