//! Names and TXT as mDNS carries them: service types, instance labels, the
//! limits on what is accepted from the network.

use crate::discovery::DiscoveryError;

#[cfg(test)]
use crate::service::SERVICE_TYPE;

/// Longest instance name accepted (one DNS label, RFC 6763 section 4.1.1).
pub const MAX_INSTANCE_LEN: usize = 63;
/// Longest host name accepted (RFC 1035).
pub const MAX_HOST_LEN: usize = 253;

/// Checks `_name._udp.local.`-style service types.
pub fn check_service_type(service_type: &str) -> Result<(), DiscoveryError> {
    let bad = || DiscoveryError::ServiceType(service_type.to_string());
    let rest = service_type.strip_suffix(".local.").ok_or_else(bad)?;
    let (name, proto) = rest.split_once('.').ok_or_else(bad)?;
    let valid_name = name.len() >= 2
        && name.len() <= 16
        && name.starts_with('_')
        && name[1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if valid_name && (proto == "_udp" || proto == "_tcp") {
        Ok(())
    } else {
        Err(bad())
    }
}

/// The instance label of `fullname` (`label.<type>`): for a name mdns-sd
/// received, the raw label (it does not escape received names).
pub(crate) fn instance_label<'a>(fullname: &'a str, service_type: &str) -> &'a str {
    fullname
        .strip_suffix(service_type)
        .and_then(|s| s.strip_suffix('.'))
        .unwrap_or(fullname)
}

/// TXT pairs as received, bounded: at most [`MAX_TXT_PAIRS`] pairs, keys
/// lowercased and at most 64 bytes, values at most 255 bytes (one TXT string).
pub fn raw_pairs(pairs: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    pairs
        .filter(|(k, v)| !k.is_empty() && k.len() <= 64 && v.len() <= 255)
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .take(MAX_TXT_PAIRS)
        .collect()
}

/// Most TXT pairs kept per record.
pub const MAX_TXT_PAIRS: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_types() {
        check_service_type(SERVICE_TYPE).unwrap();
        check_service_type("_http._tcp.local.").unwrap();
        for bad in [
            "_pingpong._udp",
            "pingpong._udp.local.",
            "_x._sctp.local.",
            "_a b._udp.local.",
        ] {
            assert!(check_service_type(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn instance_labels() {
        assert_eq!(
            instance_label("web1._pingpong._udp.local.", SERVICE_TYPE),
            "web1"
        );
    }
}
