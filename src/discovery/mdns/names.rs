//! Names and TXT as mDNS carries them: service types, instance labels, the
//! limits on what is accepted from the network.

use crate::discovery::DiscoveryError;

#[cfg(test)]
use crate::service::SERVICE_TYPE;

/// Longest instance name accepted (one DNS label, RFC 6763 section 4.1.1).
pub const MAX_INSTANCE_LEN: usize = 63;
/// Longest host name accepted (RFC 1035).
pub const MAX_HOST_LEN: usize = 253;

/// Checks a service type as mDNS browses it: `_name._udp.local.` or
/// `_name._tcp.local.` (RFC 6763 §7), a subtype of one
/// (`_printer._sub._http._tcp.local.`, §7.1), or the meta-query name
/// `_services._dns-sd._udp.local.` (§9).
pub fn check_service_type(service_type: &str) -> Result<(), DiscoveryError> {
    let bad = || DiscoveryError::ServiceType(service_type.to_string());
    if service_type == "_services._dns-sd._udp.local." {
        return Ok(());
    }
    let rest = service_type.strip_suffix(".local.").ok_or_else(bad)?;
    let rest = match rest.split_once("._sub.") {
        Some((subtype, main)) => {
            let valid_subtype = !subtype.is_empty()
                && subtype.len() <= MAX_INSTANCE_LEN
                && !subtype.contains('.')
                && !subtype.bytes().any(|b| b.is_ascii_control());
            if !valid_subtype {
                return Err(bad());
            }
            main
        }
        None => rest,
    };
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

/// The service type a subtype belongs to (`_http._tcp.local.` for
/// `_printer._sub._http._tcp.local.`); any other type as it is.
pub fn main_type(service_type: &str) -> &str {
    service_type
        .split_once("._sub.")
        .map_or(service_type, |(_, main)| main)
}

/// A name from a packet as mdns-sd writes it: the labels, as UTF-8, each
/// followed by a dot (a label's own dots and spaces kept as they are); `None`
/// when a label is not UTF-8.
pub(crate) fn name_text(name: &hickory_proto::rr::Name) -> Option<String> {
    let mut text = String::new();
    for label in name.iter() {
        text.push_str(std::str::from_utf8(label).ok()?);
        text.push('.');
    }
    Some(text)
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
/// lowercased and at most 64 bytes, values at most `MAX_SHOWN_VALUE_LEN` (1020) characters as shown.
pub fn raw_pairs(pairs: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    pairs
        .filter(|(k, v)| !k.is_empty() && k.len() <= 64 && v.len() <= MAX_SHOWN_VALUE_LEN)
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .take(MAX_TXT_PAIRS)
        .collect()
}

/// Longest TXT value kept, as shown: one TXT string is at most 255 bytes, and
/// a byte shown as `\xNN` takes four.
pub const MAX_SHOWN_VALUE_LEN: usize = 4 * 255;

/// Most TXT pairs kept per record.
pub const MAX_TXT_PAIRS: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_types() {
        check_service_type(SERVICE_TYPE).unwrap();
        check_service_type("_http._tcp.local.").unwrap();
        check_service_type("_printer._sub._http._tcp.local.").unwrap();
        check_service_type("_services._dns-sd._udp.local.").unwrap();
        assert_eq!(
            main_type("_printer._sub._http._tcp.local."),
            "_http._tcp.local."
        );
        assert_eq!(main_type("_http._tcp.local."), "_http._tcp.local.");
        for bad in [
            "_pingpong._udp",
            "pingpong._udp.local.",
            "_x._sctp.local.",
            "_a b._udp.local.",
            "._sub._http._tcp.local.",
            "_x._sub._sub._http._tcp.local.",
            "_printer._sub.local.",
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
