//! What the records of a DNS answer mean, pure: usable SRV targets, addresses
//! by name, TXT strings, instance labels, and the bounds on each.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use hickory_resolver::proto::rr::rdata::SRV;
use hickory_resolver::proto::rr::{Name, RData, Record};

use crate::discovery::srv::SrvInfo;
use crate::text::truncate;

use super::{DnsLookupError, MAX_NAME_LEN};

/// The targets of the PTR records among `answers`, with their TTLs, in
/// record order (kept as wire names).
pub(crate) fn ptr_targets(answers: &[Record]) -> Vec<(Name, u32)> {
    answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::PTR(ptr) => Some((ptr.0.clone(), record.ttl)),
            _ => None,
        })
        .collect()
}

/// Checks a name a user gave before it is asked for.
pub(crate) fn check_name(name: &str) -> Result<(), DnsLookupError> {
    let bad = |reason: &str| DnsLookupError::BadName {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() || name.len() > MAX_NAME_LEN + 1 {
        return Err(bad("empty or longer than 253 characters"));
    }
    if name
        .trim_end_matches('.')
        .split('.')
        .any(|l| l.is_empty() || l.len() > 63)
    {
        return Err(bad("empty label or a label longer than 63 characters"));
    }
    Ok(())
}

/// A usable SRV target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SrvTarget {
    /// Target host, lowercase, no trailing dot.
    pub(crate) host: String,
    /// Target port.
    pub(crate) port: u16,
    /// Priority and weight.
    pub(crate) info: SrvInfo,
}

/// The usable targets of SRV records, in record order: not ".", port not 0, a
/// name of legal length, each (host, port) once. What is left out is described
/// in `skipped`.
pub(crate) fn srv_targets(records: &[SRV], skipped: &mut Vec<String>) -> Vec<SrvTarget> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for srv in records.iter().filter(|r| !r.target.is_root()) {
        let host = srv
            .target
            .to_ascii()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if host.is_empty()
            || host.len() > MAX_NAME_LEN
            || srv.port == 0
            || !seen.insert((host.clone(), srv.port))
        {
            skipped.push(format!(
                "{}:{}: unusable SRV record",
                truncate(&host),
                srv.port
            ));
            continue;
        }
        out.push(SrvTarget {
            host,
            port: srv.port,
            info: SrvInfo {
                priority: srv.priority,
                weight: srv.weight,
            },
        });
    }
    out
}

/// A and AAAA records by owner name (lowercase, no trailing dot).
pub(crate) fn addresses_by_name(records: &[Record]) -> HashMap<String, Vec<IpAddr>> {
    let mut map: HashMap<String, Vec<IpAddr>> = HashMap::new();
    for record in records {
        let ip = match &record.data {
            RData::A(a) => IpAddr::V4(a.0),
            RData::AAAA(aaaa) => IpAddr::V6(aaaa.0),
            _ => continue,
        };
        let name = record
            .name
            .to_ascii()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        map.entry(name).or_default().push(ip);
    }
    map
}

/// The instance of a DNS-SD instance name (`<instance>._pingpong._udp.<domain>`):
/// its first label, as the UTF-8 it is (RFC 6763 §4.1.1), unescaped.
pub(crate) fn instance_of(instance_name: &Name) -> String {
    instance_name
        .iter()
        .next()
        .map(|label| String::from_utf8_lossy(label).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    //! SRV and DNS-SD record handling against arbitrary and mutated DNS
    //! responses (the fuzz targets of this module, as stable-toolchain property
    //! tests): never a panic, and what is accepted stays within bounds.

    use super::*;
    use crate::discovery::dns::{browse_name, srv_name};
    use hickory_resolver::proto::op::{Message, MessageType, OpCode};
    use hickory_resolver::proto::rr::rdata::{A, PTR};
    use hickory_resolver::proto::rr::Name;
    use proptest::prelude::*;
    use proptest::sample::Index;

    fn srv(priority: u16, weight: u16, port: u16, target: &str) -> SRV {
        SRV::new(priority, weight, port, Name::from_ascii(target).unwrap())
    }

    #[test]
    fn usable_targets_are_kept_once_and_the_rest_explained() {
        let records = [
            srv(0, 10, 4433, "Pod-0.Pingpong.Example."),
            srv(0, 10, 4433, "pod-0.pingpong.example."),
            srv(0, 10, 0, "pod-1.pingpong.example."),
            srv(0, 10, 4433, "."),
            srv(10, 0, 4434, "pod-0.pingpong.example."),
        ];
        let mut skipped = Vec::new();
        let targets = srv_targets(&records, &mut skipped);
        assert_eq!(
            targets,
            vec![
                SrvTarget {
                    host: "pod-0.pingpong.example".into(),
                    port: 4433,
                    info: SrvInfo {
                        priority: 0,
                        weight: 10
                    },
                },
                SrvTarget {
                    host: "pod-0.pingpong.example".into(),
                    port: 4434,
                    info: SrvInfo {
                        priority: 10,
                        weight: 0
                    },
                },
            ]
        );
        assert_eq!(skipped.len(), 2, "{skipped:?}");
    }

    #[test]
    fn instances_are_their_first_label_as_utf8() {
        // Built from labels, as a PTR answer carries them: a space, a dot
        // and UTF-8 are all allowed in an instance (RFC 6763 §4.1.1).
        for instance in ["My Server", "café", "Drucker Flur 3", "a.b", "bar_wide"] {
            let name = Name::from_labels([instance.as_bytes(), b"_pingpong", b"_udp", b"example"])
                .unwrap();
            assert_eq!(instance_of(&name), instance);
        }
        assert_eq!(instance_of(&Name::root()), "");
    }

    /// The SRV records among a response's answers.
    fn srv_answers(message: &Message) -> Vec<SRV> {
        message
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(srv) => Some(srv.clone()),
                _ => None,
            })
            .collect()
    }

    /// A response like a DNS server's: SRV answers and A records for them.
    fn response(records: &[(u16, u16, u16, String)]) -> Vec<u8> {
        let mut message = Message::new(7, MessageType::Response, OpCode::Query);
        let owner = Name::from_ascii("_pingpong._udp.example.").unwrap();
        for (i, (priority, weight, port, target)) in records.iter().enumerate() {
            let Ok(name) = Name::from_ascii(target) else {
                continue;
            };
            message.add_answer(Record::from_rdata(
                owner.clone(),
                5,
                RData::SRV(SRV::new(*priority, *weight, *port, name.clone())),
            ));
            message.add_answer(Record::from_rdata(
                owner.clone(),
                5,
                RData::PTR(PTR(name.clone())),
            ));
            message.add_additional(Record::from_rdata(
                name,
                5,
                RData::A(A::new(127, 0, 0, i as u8)),
            ));
        }
        message.to_vec().unwrap_or_default()
    }

    #[test]
    fn a_built_response_parses_back_to_its_targets() {
        let bytes = response(&[
            (0, 5, 4433, "a.example.".into()),
            (1, 5, 4434, "b.example.".into()),
        ]);
        let message = Message::from_vec(&bytes).unwrap();
        let records = srv_answers(&message);
        let targets = srv_targets(&records, &mut Vec::new());
        assert_eq!(targets.len(), 2);
        assert_eq!(addresses_by_name(&message.additionals).len(), 2);
    }

    /// Everything the resolver does with a response, checked.
    fn handle(message: &Message) -> Result<(), TestCaseError> {
        let records = srv_answers(message);
        let mut skipped = Vec::new();
        let targets = srv_targets(&records, &mut skipped);
        let usable = records.iter().filter(|r| !r.target.is_root()).count();
        prop_assert_eq!(targets.len() + skipped.len(), usable);
        let mut seen = HashSet::new();
        for target in &targets {
            prop_assert!(target.port != 0);
            prop_assert!(!target.host.is_empty() && target.host.len() <= MAX_NAME_LEN);
            prop_assert!(!target.host.ends_with('.'));
            prop_assert_eq!(&target.host, &target.host.to_ascii_lowercase());
            prop_assert!(seen.insert((target.host.clone(), target.port)));
        }
        for reason in &skipped {
            prop_assert!(reason.len() < 200, "{}", reason);
        }
        for ips in addresses_by_name(&message.additionals).values() {
            prop_assert!(!ips.is_empty());
        }
        for record in &message.answers {
            match &record.data {
                RData::PTR(ptr) => {
                    let label = instance_of(&ptr.0);
                    prop_assert!(label.len() <= 63 * 3, "{}", label.len());
                }
                RData::TXT(txt) => {
                    for string in txt.txt_data.iter() {
                        crate::discovery::txt::parse_txt_string(string);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn mutated_responses_are_handled(
            records in proptest::collection::vec(
                (any::<u16>(), any::<u16>(), any::<u16>(), "[a-zA-Z0-9-]{1,20}(\\.[a-zA-Z0-9-]{1,20}){0,3}\\.?|\\."),
                0..8,
            ),
            flips in proptest::collection::vec((any::<Index>(), any::<u8>()), 0..6),
            cut in proptest::option::of(any::<Index>()),
        ) {
            let mut bytes = response(&records);
            if !bytes.is_empty() {
                for (at, value) in flips {
                    let i = at.index(bytes.len());
                    bytes[i] = value;
                }
                if let Some(cut) = cut {
                    let len = cut.index(bytes.len());
                    bytes.truncate(len);
                }
            }
            if let Ok(message) = Message::from_vec(&bytes) {
                handle(&message)?;
            }
        }

        #[test]
        fn user_given_names_never_panic(input in ".{0,300}") {
            let _ = srv_name(&input);
            let _ = browse_name(&input);
            let _ = check_name(&input);
            if let Ok(name) = Name::from_utf8(&input) {
                // One label of at most 63 bytes, each invalid byte shown as a
                // 3-byte replacement character at worst.
                let label = instance_of(&name);
                prop_assert!(label.len() <= 63 * 3, "{}", label.len());
            }
        }
    }
}
