//! Why a registration failed, each cause with its fix.

use std::net::SocketAddr;
use std::path::PathBuf;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::tsig::TsigError;

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
}
