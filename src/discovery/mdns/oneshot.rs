//! A one-shot query at browse start, for a fast first answer whatever the
//! moment (RFC 6762 §5.1, §6.7).
//!
//! A responder may not multicast a record again within a second of the last
//! time (RFC 6762 §6; mdns-sd drops such answers, python-zeroconf queues them
//! for a second), so a client that starts just after another one hears nothing
//! until its browse asks again, a second later. A query sent from an ephemeral
//! port (a "legacy unicast" query) is answered at once by unicast to that port,
//! with the PTR, SRV, TXT and address records (mdns-sd ≥ 0.19.2, avahi,
//! python-zeroconf and mDNSResponder all do). The browse sends one such query
//! per interface and family when it starts, and one more with a new ID against
//! loss; what the replies resolve joins the browse as provisional candidates
//! (see [`RecordBook::found_early`](super::records::RecordBook::found_early)),
//! which the normal multicast browse then confirms and keeps up to date.
//!
//! Messages are built and parsed with hickory-proto; [`Collector`] is pure.
//! Replies are accepted only from port 5353 and with an ID this browse sent;
//! like every mDNS record, what they say is untrusted until the TLS handshake.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::debug;

use super::addresses::{multicast_sockets, InterfaceAddress};
use super::names::name_text;
use super::resolved::Resolved;
use crate::discovery::txt::parse_txt_string;

/// The mDNS port and groups (RFC 6762 §3).
const MDNS_PORT: u16 = 5353;
const MDNS_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
const MDNS_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb);

/// How long replies are collected. Responders answer legacy queries at once;
/// a second and a half leaves room for a loaded machine, and the multicast
/// browse takes over anyway.
pub const ONE_SHOT_WINDOW: Duration = Duration::from_millis(1500);
/// When the query is sent again (with a new ID: python-zeroconf ignores a
/// byte-identical query seen within 800 ms), in case the first was lost.
pub const RESEND_AFTER: Duration = Duration::from_millis(250);
/// Largest reply read: mDNS messages fit an Ethernet jumbo frame (RFC 6762 §17).
const MAX_DATAGRAM: usize = 9000;
/// Most replies processed per socket, and most services and hosts kept: a busy
/// LAN answers with many packets, a hostile one with endless ones.
const MAX_REPLIES: usize = 1024;
const MAX_SERVICES: usize = 1024;

/// A legacy unicast query for the PTR records of `service_type`.
pub fn query(id: u16, service_type: &str) -> Option<Vec<u8>> {
    let name = Name::from_utf8(service_type).ok()?;
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.add_query(Query::query(name, RecordType::PTR));
    message.to_vec().ok()
}

/// What the replies said so far. Names are kept lowercased as keys (DNS names
/// compare case-insensitively) beside the spelling first seen; only records
/// under the service type (PTR, SRV, TXT) or of hosts those name (A/AAAA) are
/// kept, each map bounded.
#[derive(Debug)]
pub struct Collector {
    /// `.<service type>`, lowercased: the suffix of every instance name (of
    /// the main type, for a subtype).
    suffix: String,
    /// The name asked for, lowercased: the owner of the PTR records.
    asked: String,
    service_type: String,
    /// Instance keys (lowercased full names) in the order first seen, and
    /// their spelling.
    instances: Vec<String>,
    spelling: HashMap<String, String>,
    srv: HashMap<String, (String, u16)>,
    txt: HashMap<String, Vec<(String, String)>>,
    /// Addresses per host name (lowercased), port 0.
    hosts: HashMap<String, Vec<SocketAddr>>,
}

impl Collector {
    /// Collects the instances of `service_type`.
    pub fn new(service_type: &str) -> Self {
        Self {
            suffix: format!(".{}", super::main_type(service_type).to_ascii_lowercase()),
            asked: service_type.to_ascii_lowercase(),
            service_type: service_type.to_string(),
            instances: Vec::new(),
            spelling: HashMap::new(),
            srv: HashMap::new(),
            txt: HashMap::new(),
            hosts: HashMap::new(),
        }
    }

    /// Takes in one reply that arrived on the interface with index `scope`.
    pub fn absorb(&mut self, message: &Message, scope: u32) {
        for record in message.answers.iter().chain(&message.additionals) {
            let Some(owner) = name_text(&record.name) else {
                continue;
            };
            let key = owner.to_ascii_lowercase();
            let ours = key.ends_with(&self.suffix);
            match &record.data {
                RData::PTR(ptr) if self.asked == key => {
                    let Some(instance) = name_text(&ptr.0) else {
                        continue;
                    };
                    let instance_key = instance.to_ascii_lowercase();
                    if instance_key.ends_with(&self.suffix)
                        && !self.spelling.contains_key(&instance_key)
                        && self.instances.len() < MAX_SERVICES
                    {
                        self.spelling.insert(instance_key.clone(), instance);
                        self.instances.push(instance_key);
                    }
                }
                RData::SRV(srv) if ours && self.srv.len() < MAX_SERVICES => {
                    if let Some(target) = name_text(&srv.target) {
                        self.srv.insert(key, (target, srv.port));
                    }
                }
                RData::TXT(txt) if ours && self.txt.len() < MAX_SERVICES => {
                    let pairs = txt
                        .txt_data
                        .iter()
                        .map(|entry| parse_txt_string(entry))
                        .collect();
                    self.txt.insert(key, pairs);
                }
                RData::A(a) => self.add_address(key, IpAddr::V4(a.0), scope),
                RData::AAAA(aaaa) => self.add_address(key, IpAddr::V6(aaaa.0), scope),
                _ => {}
            }
        }
    }

    fn add_address(&mut self, host: String, ip: IpAddr, scope: u32) {
        if self.hosts.len() >= MAX_SERVICES && !self.hosts.contains_key(&host) {
            return;
        }
        let address = match ip {
            IpAddr::V6(v6) if v6.is_unicast_link_local() => {
                SocketAddr::V6(SocketAddrV6::new(v6, 0, 0, scope))
            }
            ip => SocketAddr::new(ip, 0),
        };
        let list = self.hosts.entry(host).or_default();
        if !list.contains(&address) && list.len() < 16 {
            list.push(address);
        }
    }

    /// Every instance with its SRV and at least one address of its host.
    pub fn resolved(&self) -> Vec<Resolved> {
        self.instances
            .iter()
            .filter_map(|key| {
                let (host, port) = self.srv.get(key)?;
                let addresses = self.hosts.get(&host.to_ascii_lowercase())?;
                Some(Resolved {
                    fullname: self.spelling[key].clone(),
                    ty_domain: super::main_type(&self.service_type).to_string(),
                    host: host.clone(),
                    port: *port,
                    txt: self.txt.get(key).cloned().unwrap_or_default(),
                    addresses: addresses.clone(),
                })
            })
            .collect()
    }
}

/// A socket that sends its multicast on one interface.
fn socket_on(address: &InterfaceAddress, index: u32) -> std::io::Result<(UdpSocket, SocketAddr)> {
    let (socket, group) = match address.ip {
        IpAddr::V4(v4) => {
            let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
            socket.set_multicast_if_v4(&v4)?;
            socket.set_multicast_ttl_v4(255)?;
            socket.set_multicast_loop_v4(true)?;
            socket.bind(&SocketAddr::new(IpAddr::V4(v4), 0).into())?;
            (socket, SocketAddr::new(MDNS_V4.into(), MDNS_PORT))
        }
        IpAddr::V6(_) => {
            let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
            socket.set_only_v6(true)?;
            socket.set_multicast_if_v6(index)?;
            socket.set_multicast_hops_v6(255)?;
            socket.set_multicast_loop_v6(true)?;
            socket.bind(&SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0).into())?;
            (
                socket,
                SocketAddr::V6(SocketAddrV6::new(MDNS_V6, MDNS_PORT, 0, index)),
            )
        }
    };
    socket.set_nonblocking(true)?;
    Ok((UdpSocket::from_std(socket.into())?, group))
}

/// Sends the query on `socket`, again after [`RESEND_AFTER`], and forwards the
/// replies (from port 5353, with one of its IDs) until [`ONE_SHOT_WINDOW`] ends.
async fn ask_on(
    socket: UdpSocket,
    group: SocketAddr,
    scope: u32,
    service_type: String,
    replies: mpsc::UnboundedSender<(Message, u32)>,
) {
    let ids: [u16; 2] = [rand::random::<u16>().max(1), rand::random::<u16>().max(1)];
    let send = |id: u16| {
        let bytes = query(id, &service_type);
        let socket = &socket;
        async move {
            if let Some(bytes) = bytes {
                if let Err(error) = socket.send_to(&bytes, group).await {
                    debug!(%group, %error, "one-shot mDNS query not sent");
                }
            }
        }
    };
    send(ids[0]).await;
    let resend = tokio::time::sleep(RESEND_AFTER);
    let window = tokio::time::sleep(ONE_SHOT_WINDOW);
    tokio::pin!(resend, window);
    let mut resent = false;
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    for _ in 0..MAX_REPLIES {
        tokio::select! {
            received = socket.recv_from(&mut buffer) => {
                let Ok((len, from)) = received else { continue };
                if from.port() != MDNS_PORT {
                    continue;
                }
                match Message::from_vec(&buffer[..len]) {
                    Ok(message) if message.metadata.message_type == MessageType::Response
                        && ids.contains(&message.metadata.id) =>
                    {
                        if replies.send((message, scope)).is_err() {
                            return;
                        }
                    }
                    _ => debug!(%from, "ignoring an unexpected reply to a one-shot mDNS query"),
                }
            }
            _ = &mut resend, if !resent => {
                resent = true;
                send(ids[1]).await;
            }
            _ = &mut window => return,
        }
    }
}

/// Asks every interface (all, or `interfaces`) once for `service_type` and
/// sends each service the replies resolve, as soon as they resolve it (again
/// when a later reply adds addresses), to `found`.
pub async fn ask(
    service_type: String,
    interfaces: Vec<String>,
    found: mpsc::UnboundedSender<Resolved>,
) {
    let machine = match InterfaceAddress::current() {
        Ok(machine) => machine,
        Err(error) => {
            debug!(%error, "no one-shot mDNS query: cannot read the interfaces");
            return;
        }
    };
    let (reply_tx, mut replies) = mpsc::unbounded_channel();
    for (address, index) in multicast_sockets(&machine, &interfaces) {
        match socket_on(address, index) {
            Ok((socket, group)) => {
                tokio::spawn(ask_on(
                    socket,
                    group,
                    index,
                    service_type.clone(),
                    reply_tx.clone(),
                ));
            }
            Err(error) => {
                debug!(interface = %address.interface, ip = %address.ip, %error, "no one-shot mDNS query on this interface")
            }
        }
    }
    drop(reply_tx);
    let mut collector = Collector::new(&service_type);
    let mut sent: HashMap<String, Resolved> = HashMap::new();
    while let Some((message, scope)) = replies.recv().await {
        collector.absorb(&message, scope);
        for resolved in collector.resolved() {
            if sent.get(&resolved.fullname) != Some(&resolved) {
                sent.insert(resolved.fullname.clone(), resolved.clone());
                if found.send(resolved).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::rdata::{A, AAAA, PTR, SRV, TXT};
    use hickory_resolver::proto::rr::Record;

    const TYPE: &str = "_pingpong._udp.local.";

    fn name(text: &str) -> Name {
        Name::from_utf8(text).unwrap()
    }

    fn reply(records: Vec<Record>, additionals: Vec<Record>) -> Message {
        let mut message = Message::new(9, MessageType::Response, OpCode::Query);
        message.answers = records;
        message.additionals = additionals;
        // Through the wire format, as a reply arrives.
        Message::from_vec(&message.to_vec().unwrap()).unwrap()
    }

    fn ptr(instance: &str) -> Record {
        Record::from_rdata(name(TYPE), 10, RData::PTR(PTR(name(instance))))
    }

    fn srv(instance: &str, host: &str, port: u16) -> Record {
        Record::from_rdata(
            name(instance),
            10,
            RData::SRV(SRV::new(0, 0, port, name(host))),
        )
    }

    #[test]
    fn the_query_asks_for_the_service_type_pointer() {
        let message = Message::from_vec(&query(77, TYPE).unwrap()).unwrap();
        assert_eq!(message.metadata.id, 77);
        assert_eq!(message.metadata.message_type, MessageType::Query);
        assert_eq!(message.queries.len(), 1);
        assert_eq!(message.queries[0].query_type(), RecordType::PTR);
        assert_eq!(name_text(message.queries[0].name()).unwrap(), TYPE);
    }

    #[test]
    fn a_reply_with_its_additionals_resolves_a_service() {
        let mut collector = Collector::new(TYPE);
        let instance = "web1._pingpong._udp.local.";
        collector.absorb(
            &reply(
                vec![ptr(instance)],
                vec![
                    srv(instance, "web1.local.", 4433),
                    Record::from_rdata(
                        name(instance),
                        10,
                        RData::TXT(TXT::new(vec!["v=1".into(), "path=/pingpong".into()])),
                    ),
                    Record::from_rdata(name("web1.local."), 10, RData::A(A::new(10, 0, 0, 1))),
                ],
            ),
            3,
        );
        let resolved = collector.resolved();
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].fullname, instance);
        assert_eq!(resolved[0].host, "web1.local.");
        assert_eq!(resolved[0].port, 4433);
        assert_eq!(resolved[0].txt[0], ("v".to_string(), "1".to_string()));
        assert_eq!(resolved[0].addresses, ["10.0.0.1:0".parse().unwrap()]);
        // An IPv6 reply on another socket adds the link-local address, scoped.
        collector.absorb(
            &reply(
                vec![ptr(instance)],
                vec![
                    srv(instance, "web1.local.", 4433),
                    Record::from_rdata(
                        name("WEB1.local."),
                        10,
                        RData::AAAA(AAAA::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
                    ),
                ],
            ),
            3,
        );
        let addresses = &collector.resolved()[0].addresses;
        assert_eq!(
            addresses,
            &[
                "10.0.0.1:0".parse::<SocketAddr>().unwrap(),
                "[fe80::1%3]:0".parse().unwrap()
            ]
        );
    }

    #[test]
    fn instance_labels_keep_spaces_and_dots_as_mdns_sd_does() {
        let mut collector = Collector::new(TYPE);
        let label = Name::from_labels(vec![
            "Drucker Flur 3.b".as_bytes(),
            b"_pingpong",
            b"_udp",
            b"local",
        ])
        .unwrap();
        let host = name("printer.local.");
        collector.absorb(
            &reply(
                vec![Record::from_rdata(
                    name(TYPE),
                    10,
                    RData::PTR(PTR(label.clone())),
                )],
                vec![
                    Record::from_rdata(label, 10, RData::SRV(SRV::new(0, 0, 1, host.clone()))),
                    Record::from_rdata(host, 10, RData::A(A::new(10, 0, 0, 9))),
                ],
            ),
            1,
        );
        assert_eq!(
            collector.resolved()[0].fullname,
            "Drucker Flur 3.b._pingpong._udp.local."
        );
    }

    #[test]
    fn incomplete_or_foreign_records_resolve_nothing() {
        let mut collector = Collector::new(TYPE);
        let instance = "a._pingpong._udp.local.";
        // A PTR without SRV, an SRV without address, a PTR of another type.
        collector.absorb(&reply(vec![ptr(instance)], vec![]), 1);
        collector.absorb(&reply(vec![srv(instance, "a.local.", 1)], vec![]), 1);
        collector.absorb(
            &reply(
                vec![Record::from_rdata(
                    name("_other._udp.local."),
                    10,
                    RData::PTR(PTR(name("x._other._udp.local."))),
                )],
                vec![],
            ),
            1,
        );
        assert!(collector.resolved().is_empty());
    }
}
