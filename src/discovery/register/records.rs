//! What a server registers in a zone, and the RFC 2136 update messages that
//! write, check and remove it. Pure: messages are built with hickory-proto
//! and tested without a socket.
//!
//! One instance of service `S` (`_pingpong._udp` for a server, any type for
//! `pingpong publish`) owns, in zone `Z`:
//!
//! - `S.Z PTR <instance>.S.Z` (one record of a shared RRset: every instance
//!   adds its own);
//! - `<instance>.S.Z` SRV (priority, weight, port, host) and TXT (for a
//!   server, the same keys as over mDNS);
//! - the host's A/AAAA records.
//!
//! Who owns an instance is decided by [`Owner`]. An update that rewrites or
//! removes an instance carries the TXT it read (RFC 2136 §2.4.2 prerequisite
//! "RRset exists, value dependent"), so it fails (NXRRSET) if anyone changed
//! it meanwhile, and never touches another instance's records.

use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, UpdateMessage};
use hickory_proto::rr::rdata::{A, AAAA, PTR, SRV, TXT};
use hickory_proto::rr::{DNSClass, Label, Name, RData, Record, RecordType};

use crate::discovery::mdns::MAX_INSTANCE_LEN;
use crate::discovery::txt::parse_txt_string;

/// A pingpong server's service labels under a zone (RFC 6763 §7).
pub const PINGPONG_SERVICE: &str = "_pingpong._udp";

/// EDNS payload size offered with updates: BIND's default, and big enough for
/// any registration (about 300 bytes with a TSIG).
const EDNS_PAYLOAD: u16 = 1232;

/// Everything one server registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The zone, e.g. `lab.test.`.
    pub zone: Name,
    /// The service labels, e.g. `_pingpong._udp` (relative).
    pub service: Name,
    /// Instance name (one label, any UTF-8, at most 63 bytes).
    pub instance: String,
    /// The SRV target, a host name in the zone.
    pub host: Name,
    /// The port clients connect to.
    pub port: u16,
    /// SRV priority (RFC 2782: lower is tried first).
    pub priority: u16,
    /// SRV weight (RFC 2782: share among equal priorities).
    pub weight: u16,
    /// TXT `key=value` pairs.
    pub txt: Vec<(String, String)>,
    /// The host's addresses.
    pub addresses: Vec<IpAddr>,
    /// TTL of every record.
    pub ttl: u32,
}

impl Registration {
    /// `SERVICE.ZONE`, where browsers look.
    pub fn browse_name(&self) -> Name {
        browse_name_of(&self.service, &self.zone)
    }

    /// `<instance>.SERVICE.ZONE`; the instance label is kept as raw bytes, so
    /// spaces, dots and UTF-8 are allowed (RFC 6763 §4.3).
    pub fn instance_name(&self) -> Result<Name, String> {
        instance_name_of(&self.service, &self.zone, &self.instance)
    }

    /// Every record this server owns.
    pub fn records(&self) -> Result<Vec<Record>, String> {
        let instance = self.instance_name()?;
        let mut out = vec![
            Record::from_rdata(
                self.browse_name(),
                self.ttl,
                RData::PTR(PTR(instance.clone())),
            ),
            Record::from_rdata(
                instance.clone(),
                self.ttl,
                RData::SRV(SRV::new(
                    self.priority,
                    self.weight,
                    self.port,
                    self.host.clone(),
                )),
            ),
            Record::from_rdata(instance, self.ttl, RData::TXT(self.txt_rdata())),
        ];
        out.extend(self.address_records());
        Ok(out)
    }

    fn txt_rdata(&self) -> TXT {
        TXT::from_bytes(self.txt_strings().iter().map(Vec::as_slice).collect())
    }

    /// The TXT strings, as they read in the zone: one empty string when there
    /// are no pairs (RFC 6763 §6.1: a TXT record is never empty).
    pub fn txt_strings(&self) -> Vec<Vec<u8>> {
        if self.txt.is_empty() {
            return vec![Vec::new()];
        }
        self.txt
            .iter()
            .map(|(k, v)| format!("{k}={v}").into_bytes())
            .collect()
    }

    fn address_records(&self) -> impl Iterator<Item = Record> + '_ {
        self.addresses.iter().map(|ip| {
            let data = match ip {
                IpAddr::V4(v4) => RData::A(A(*v4)),
                IpAddr::V6(v6) => RData::AAAA(AAAA(*v6)),
            };
            Record::from_rdata(self.host.clone(), self.ttl, data)
        })
    }

    /// The first registration: only if the instance name is not in use at all
    /// (RFC 2136 §2.4.5), then the records, replacing the host's addresses.
    /// YXDOMAIN means the name is taken.
    pub fn claim(&self) -> Result<Message, String> {
        let mut message = update(&self.zone);
        let mut unused = Record::update0(self.instance_name()?, 0, RecordType::ANY);
        unused.dns_class = DNSClass::NONE;
        message.add_pre_requisite(unused);
        self.replace_host_addresses(&mut message);
        message.add_updates(self.records()?);
        Ok(message)
    }

    /// Rewrites this server's records, provided the instance's TXT is still
    /// exactly `owned` (the strings read from the zone): SRV and TXT are
    /// replaced, the host's addresses too, the PTR added if missing.
    /// NXRRSET means someone else changed the instance meanwhile.
    pub fn rewrite(&self, owned: &[Vec<u8>]) -> Result<Message, String> {
        let instance = self.instance_name()?;
        let mut message = update(&self.zone);
        require_txt(&mut message, &instance, owned);
        for kind in [RecordType::SRV, RecordType::TXT] {
            message.add_update(delete_rrset(instance.clone(), kind));
        }
        self.replace_host_addresses(&mut message);
        message.add_updates(self.records()?);
        Ok(message)
    }

    /// Deletes this server's records, provided the instance's TXT is still
    /// exactly `owned`: its PTR (that record only, the RRset is shared), every
    /// record at the instance name, and its addresses (those records only).
    pub fn remove(&self, owned: &[Vec<u8>]) -> Result<Message, String> {
        let instance = self.instance_name()?;
        let mut message = update(&self.zone);
        require_txt(&mut message, &instance, owned);
        message.add_update(delete_record(Record::from_rdata(
            self.browse_name(),
            0,
            RData::PTR(PTR(instance.clone())),
        )));
        message.add_update(delete_rrset(instance, RecordType::ANY));
        for record in self.address_records() {
            message.add_update(delete_record(record));
        }
        Ok(message)
    }

    /// A copy with the next conflict name: `name (2)`, `name (3)`, ... as mDNS
    /// renames (RFC 6763 §9 style), shortened to fit one label.
    pub fn renamed(&self, base: &str, attempt: u32) -> Self {
        let suffix = format!(" ({attempt})");
        let mut stem = base.to_string();
        while stem.len() + suffix.len() > MAX_INSTANCE_LEN {
            stem.pop();
        }
        Self {
            instance: format!("{stem}{suffix}"),
            ..self.clone()
        }
    }

    /// Replaces the host's A and AAAA RRsets (the host name is this server's).
    fn replace_host_addresses(&self, message: &mut Message) {
        for kind in [RecordType::A, RecordType::AAAA] {
            message.add_update(delete_rrset(self.host.clone(), kind));
        }
    }

    /// Whether `found` (records read from the zone) holds every record of
    /// this registration, with these values.
    pub fn is_complete_in(&self, found: &[Record]) -> Result<bool, String> {
        let wanted = self.records()?;
        Ok(wanted.iter().all(|want| {
            found
                .iter()
                .any(|have| have.name == want.name && have.data == want.data)
        }))
    }
}

/// `_pingpong._udp` as a relative name.
pub fn pingpong_service() -> Name {
    Name::from_ascii(PINGPONG_SERVICE).expect("a valid name")
}

/// `_pingpong._udp.ZONE`, for a zone made by [`super::zone_name`] (which
/// leaves room for these labels and an instance's).
pub fn browse_name(zone: &Name) -> Name {
    browse_name_of(&pingpong_service(), zone)
}

/// `SERVICE.ZONE`. The zone is bounded by [`super::zone_name`] and a
/// service name by RFC 6763 §7 (two labels of at most 16 bytes), so it fits.
fn browse_name_of(service: &Name, zone: &Name) -> Name {
    service
        .clone()
        .append_domain(zone)
        .expect("zone_name bounds the zone so that the service labels fit")
}

/// `<instance>._pingpong._udp.ZONE`, the instance as one raw label.
pub fn instance_name(zone: &Name, instance: &str) -> Result<Name, String> {
    instance_name_of(&pingpong_service(), zone, instance)
}

/// `<instance>.SERVICE.ZONE`, the instance as one raw label.
fn instance_name_of(service: &Name, zone: &Name, instance: &str) -> Result<Name, String> {
    if instance.is_empty() || instance.len() > MAX_INSTANCE_LEN {
        return Err(format!(
            "instance name {instance:?} must be 1 to {MAX_INSTANCE_LEN} bytes"
        ));
    }
    let label = Label::from_raw_bytes(instance.as_bytes())
        .map_err(|e| format!("instance name {instance:?}: {e}"))?;
    Name::from_labels([label])
        .and_then(|name| name.append_domain(&browse_name_of(service, zone)))
        .map_err(|e| format!("instance name {instance:?} does not fit in the zone: {e}"))
}

/// Who owns an instance in the zone, and so may rewrite or remove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A pingpong server: the instance's TXT carries its server id (this
    /// process wrote it) or its certificate fingerprint (this server,
    /// restarted: it takes its name back). Two servers behind one host name
    /// (cloned machines) stay apart.
    Server {
        /// The server id (TXT `id`), hex.
        server_id: String,
        /// The certificate fingerprint (TXT `fp`), hex; empty: none.
        fingerprint: String,
    },
    /// Any other service (`pingpong publish`), whose TXT is the user's: the
    /// instance's SRV points at this registration's host and port, so the
    /// same machine publishing the same service again (a restart) takes its
    /// name back, and anyone else's instance is left alone.
    Endpoint,
}

/// What the zone holds at an instance name that has a TXT record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The TXT strings.
    pub txt: Vec<Vec<u8>>,
    /// The SRV target and port, when the name has an SRV record.
    pub srv: Option<(Name, u16)>,
}

impl Owner {
    /// Whether `held` belongs to the owner of `registration`.
    pub fn owns(&self, held: &Held, registration: &Registration) -> bool {
        match self {
            Owner::Server {
                server_id,
                fingerprint,
            } => held
                .txt
                .iter()
                .map(|s| parse_txt_string(s))
                .any(|(key, value)| {
                    (key == "id" && value.eq_ignore_ascii_case(server_id))
                        || (key == "fp"
                            && !fingerprint.is_empty()
                            && value.eq_ignore_ascii_case(fingerprint))
                }),
            Owner::Endpoint => held.srv.as_ref().is_some_and(|(host, port)| {
                // DNS names compare without case.
                *port == registration.port && *host == registration.host
            }),
        }
    }
}

/// An empty update of `zone` (the zone section names it with type SOA).
fn update(zone: &Name) -> Message {
    let mut message = Message::new(rand::random(), MessageType::Query, OpCode::Update);
    message.metadata.recursion_desired = false;
    let mut section = Query::query(zone.clone(), RecordType::SOA);
    section.set_query_class(DNSClass::IN);
    message.add_zone(section);
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD).set_version(0);
    message.edns = Some(edns);
    message
}

/// Prerequisite: the TXT RRset at `name` is exactly `strings`
/// (RFC 2136 §2.4.2: the records, class of the zone, TTL 0).
fn require_txt(message: &mut Message, name: &Name, strings: &[Vec<u8>]) {
    let txt = TXT::from_bytes(strings.iter().map(Vec::as_slice).collect());
    message.add_pre_requisite(Record::from_rdata(name.clone(), 0, RData::TXT(txt)));
}

/// Update: delete the RRset `name`/`kind` (`ANY`: every RRset at the name),
/// RFC 2136 §2.5.2-2.5.3.
fn delete_rrset(name: Name, kind: RecordType) -> Record {
    let mut record = Record::update0(name, 0, kind);
    record.dns_class = DNSClass::ANY;
    record
}

/// Update: delete one record (class NONE, TTL 0), RFC 2136 §2.5.4.
fn delete_record(mut record: Record) -> Record {
    record.dns_class = DNSClass::NONE;
    record.ttl = 0;
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration() -> Registration {
        Registration {
            zone: Name::from_ascii("lab.test.").unwrap(),
            service: pingpong_service(),
            instance: "Bar Wide café".into(),
            host: Name::from_ascii("web1.lab.test.").unwrap(),
            port: 4433,
            priority: 0,
            weight: 95,
            txt: vec![("v".into(), "1".into()), ("id".into(), "ab".repeat(16))],
            addresses: vec!["10.81.0.2".parse().unwrap(), "fd00::2".parse().unwrap()],
            ttl: 10,
        }
    }

    /// Encodes and decodes, as a DNS server would read it.
    fn wire(message: &Message) -> Message {
        Message::from_vec(&message.to_vec().unwrap()).unwrap()
    }

    #[test]
    fn the_instance_label_keeps_its_bytes() {
        let name = registration().instance_name().unwrap();
        assert_eq!(name.num_labels(), 5);
        assert_eq!(name.iter().next().unwrap(), "Bar Wide café".as_bytes());
        assert!(name.is_fqdn());
        let long = instance_name(&registration().zone, &"x".repeat(64));
        assert!(long.unwrap_err().contains("1 to 63 bytes"));
    }

    #[test]
    fn claim_requires_an_unused_name_and_adds_everything() {
        let message = wire(&registration().claim().unwrap());
        assert_eq!(message.op_code, OpCode::Update);
        assert_eq!(message.zones()[0].name().to_string(), "lab.test.");
        assert_eq!(message.zones()[0].query_type(), RecordType::SOA);
        let prereq = &message.prerequisites()[0];
        assert_eq!(prereq.dns_class, DNSClass::NONE);
        assert_eq!(prereq.record_type(), RecordType::ANY);
        let adds: Vec<_> = message
            .updates()
            .iter()
            .filter(|r| r.dns_class == DNSClass::IN)
            .map(|r| r.record_type())
            .collect();
        assert_eq!(
            adds,
            [
                RecordType::PTR,
                RecordType::SRV,
                RecordType::TXT,
                RecordType::A,
                RecordType::AAAA
            ]
        );
        let srv = message
            .updates()
            .iter()
            .find_map(|r| match &r.data {
                RData::SRV(srv) => Some(srv.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!((srv.priority, srv.weight, srv.port), (0, 95, 4433));
        assert_eq!(srv.target.to_string(), "web1.lab.test.");
    }

    #[test]
    fn rewrite_and_remove_require_the_txt_that_was_read() {
        let read = vec![b"v=1".to_vec(), b"id=old".to_vec()];
        for message in [
            registration().rewrite(&read).unwrap(),
            registration().remove(&read).unwrap(),
        ] {
            let message = wire(&message);
            let prereq = &message.prerequisites()[0];
            assert_eq!(prereq.dns_class, DNSClass::IN);
            assert_eq!(prereq.ttl, 0);
            let RData::TXT(txt) = &prereq.data else {
                panic!("{prereq:?}")
            };
            let strings: Vec<Vec<u8>> = txt.txt_data.iter().map(|s| s.to_vec()).collect();
            assert_eq!(strings, read);
        }
    }

    #[test]
    fn remove_deletes_only_this_servers_records() {
        let message = wire(&registration().remove(&[b"v=1".to_vec()]).unwrap());
        let instance = registration().instance_name().unwrap();
        for update in message.updates() {
            match update.dns_class {
                // One record: our PTR, our addresses.
                DNSClass::NONE => assert!(
                    matches!(
                        &update.data,
                        RData::PTR(ptr) if ptr.0 == instance
                    ) || update.name.to_string() == "web1.lab.test."
                ),
                // Whole RRsets: only at our instance name.
                DNSClass::ANY => assert_eq!(update.name, instance),
                other => panic!("remove adds nothing: {other:?} {update:?}"),
            }
        }
        assert_eq!(message.updates().len(), 4);
    }

    #[test]
    fn conflicts_get_numbered_names_that_fit_a_label() {
        let r = registration();
        assert_eq!(r.renamed("web1", 2).instance, "web1 (2)");
        let long = r.renamed(&"é".repeat(31), 12);
        assert!(long.instance.len() <= MAX_INSTANCE_LEN);
        assert!(long.instance.ends_with(" (12)"));
        assert!(long.instance_name().is_ok());
    }

    fn server(id: &str, fp: &str) -> Owner {
        Owner::Server {
            server_id: id.into(),
            fingerprint: fp.into(),
        }
    }

    #[test]
    fn a_servers_instance_is_its_by_id_or_certificate() {
        let r = registration();
        let held = |txt: Vec<Vec<u8>>| Held {
            txt,
            srv: Some((r.host.clone(), r.port)),
        };
        let txt = vec![b"v=1".to_vec(), b"id=AA11".to_vec(), b"fp=beef".to_vec()];
        assert!(server("aa11", "other").owns(&held(txt.clone()), &r));
        assert!(server("bb22", "BEEF").owns(&held(txt.clone()), &r));
        assert!(!server("bb22", "cafe").owns(&held(txt), &r));
        // Same host and port, but another server (a cloned machine).
        assert!(!server("bb22", "").owns(&held(vec![b"v=1".to_vec()]), &r));
    }

    #[test]
    fn another_services_instance_is_ours_by_host_and_port() {
        let r = registration();
        let held = |host: &str, port| Held {
            txt: vec![b"path=/".to_vec()],
            srv: Some((Name::from_ascii(host).unwrap(), port)),
        };
        assert!(Owner::Endpoint.owns(&held("WEB1.lab.test.", 4433), &r));
        assert!(!Owner::Endpoint.owns(&held("web2.lab.test.", 4433), &r));
        assert!(!Owner::Endpoint.owns(&held("web1.lab.test.", 80), &r));
        let no_srv = Held {
            txt: vec![b"path=/".to_vec()],
            srv: None,
        };
        assert!(!Owner::Endpoint.owns(&no_srv, &r));
    }

    #[test]
    fn any_service_type_and_an_empty_txt() {
        let mut r = registration();
        r.service = Name::from_ascii("_http._tcp").unwrap();
        r.txt.clear();
        let name = r.instance_name().unwrap();
        assert_eq!(name.iter().next().unwrap(), "Bar Wide café".as_bytes());
        assert!(
            name.to_string().ends_with("._http._tcp.lab.test."),
            "{name}"
        );
        assert_eq!(r.browse_name().to_string(), "_http._tcp.lab.test.");
        assert_eq!(r.txt_strings(), [Vec::<u8>::new()]);
        let records = r.records().unwrap();
        let txt = records
            .iter()
            .find_map(|record| match &record.data {
                RData::TXT(txt) => Some(txt.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(txt.txt_data.len(), 1);
        assert!(txt.txt_data[0].is_empty());
    }

    #[test]
    fn completeness_notices_any_missing_record() {
        let r = registration();
        let all = r.records().unwrap();
        assert!(r.is_complete_in(&all).unwrap());
        for i in 0..all.len() {
            let mut some = all.clone();
            some.remove(i);
            assert!(!r.is_complete_in(&some).unwrap(), "without record {i}");
        }
        let mut moved = r.clone();
        moved.port = 4434;
        assert!(!moved.is_complete_in(&all).unwrap());
    }
}
