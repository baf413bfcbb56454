//! Listening to the link's mDNS traffic beside mdns-sd, for what it does not
//! tell its users: who asks for which record, who answers, with what TTL, and
//! who says goodbye (RFC 6762 §5.2, §7.3, §10.1, §10.5); and asking the link
//! for records to refresh. [`heard`] turns one packet into [`Heard`] facts
//! (pure, parsed with hickory-proto); [`listen`] runs the sockets.
//!
//! The sockets are bound to the mDNS group addresses themselves, not to the
//! wildcard address, so they receive the link's multicast and never a unicast
//! packet meant for mdns-sd's own sockets on port 5353.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::debug;

use super::addresses::{multicast_sockets, InterfaceAddress};
use super::names::name_text;

/// The mDNS port and groups (RFC 6762 §3).
const MDNS_PORT: u16 = 5353;
const MDNS_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
const MDNS_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb);
/// Largest packet read: mDNS messages fit an Ethernet jumbo frame (RFC 6762 §17).
const MAX_DATAGRAM: usize = 9000;

/// One fact heard on the link (owner names as written in the packet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A multicast query for `name`/`rtype`, expecting a multicast answer.
    Asked {
        /// The owner name asked for.
        name: String,
        /// The type asked for (`ANY` included).
        rtype: RecordType,
    },
    /// A multicast answer carrying a record of `name`/`rtype`, alive for `ttl`
    /// seconds more.
    Answered {
        /// The owner name, as text.
        name: String,
        /// The owner name as on the wire (a label may hold dots).
        wire: Name,
        /// The record's type.
        rtype: RecordType,
        /// Its TTL, more than 0.
        ttl: u32,
    },
    /// A service instance's SRV record, or a PTR record naming it, with TTL 0:
    /// it is leaving.
    Goodbye(String),
}

/// What one packet from `from_port` says. Only packets from port 5353 count:
/// a query from another port (a "legacy unicast" one, RFC 6762 §6.7) and one
/// asking for a unicast answer (the QU bit) are answered by unicast, which
/// this host does not hear.
pub fn heard(message: &Message, from_port: u16) -> Vec<Heard> {
    let mut out = Vec::new();
    if from_port != MDNS_PORT {
        return out;
    }
    match message.metadata.message_type {
        MessageType::Query => {
            for query in &message.queries {
                if query.query_class() == DNSClass::IN && !query.mdns_unicast_response() {
                    out.extend(name_text(query.name()).map(|name| Heard::Asked {
                        name,
                        rtype: query.query_type(),
                    }));
                }
            }
        }
        MessageType::Response => {
            for record in message.answers.iter().chain(&message.additionals) {
                let fact = match (&record.data, record.ttl) {
                    (RData::SRV(_), 0) => name_text(&record.name).map(Heard::Goodbye),
                    (RData::PTR(ptr), 0) => name_text(&ptr.0).map(Heard::Goodbye),
                    (_, 0) => None,
                    (data, ttl) => name_text(&record.name).map(|name| Heard::Answered {
                        name,
                        wire: record.name.clone(),
                        rtype: data.record_type(),
                        ttl,
                    }),
                };
                out.extend(fact);
            }
        }
    }
    out
}

/// A socket that receives the mDNS group's packets on one interface, and
/// sends there from port 5353: IPv4 on the interface with the address, or
/// IPv6 on the interface `index`.
fn group_socket(address: &InterfaceAddress, index: u32) -> std::io::Result<UdpSocket> {
    let socket = match address.ip {
        IpAddr::V4(v4) => {
            let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
            share_port(&socket)?;
            socket.bind(&SocketAddr::new(MDNS_V4.into(), MDNS_PORT).into())?;
            socket.join_multicast_v4(&MDNS_V4, &v4)?;
            socket.set_multicast_if_v4(&v4)?;
            socket.set_multicast_ttl_v4(255)?;
            socket.set_multicast_loop_v4(true)?;
            socket
        }
        IpAddr::V6(_) => {
            let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
            socket.set_only_v6(true)?;
            share_port(&socket)?;
            socket.bind(&SocketAddr::V6(SocketAddrV6::new(MDNS_V6, MDNS_PORT, 0, index)).into())?;
            socket.join_multicast_v6(&MDNS_V6, index)?;
            socket.set_multicast_if_v6(index)?;
            socket.set_multicast_hops_v6(255)?;
            socket.set_multicast_loop_v6(true)?;
            socket
        }
    };
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

/// Lets the socket share port 5353 with mdns-sd and other responders.
fn share_port(socket: &Socket) -> std::io::Result<()> {
    socket.set_reuse_address(true)?;
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    socket.set_reuse_port(true)?;
    Ok(())
}

/// Reads `socket` until `facts` is closed, sending what each packet says.
async fn read(socket: Arc<UdpSocket>, facts: mpsc::UnboundedSender<Heard>) {
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buffer) => {
                let Ok((len, from)) = received else { continue };
                let Ok(message) = Message::from_vec(&buffer[..len]) else {
                    continue;
                };
                for fact in heard(&message, from.port()) {
                    if facts.send(fact).is_err() {
                        return;
                    }
                }
            }
            _ = facts.closed() => return,
        }
    }
}

/// The sockets a browse listens on, to ask on the link too.
#[derive(Debug, Default)]
pub struct Link {
    /// One socket per interface to ask on (IPv4 where the interface has an
    /// address of it, else IPv6), with the group it sends to.
    askers: Vec<(Arc<UdpSocket>, SocketAddr)>,
}

impl Link {
    /// Asks the link for `questions` in one multicast query from port 5353
    /// (so the answers are multicast too, and every cache hears them), on
    /// every interface.
    pub async fn ask(&self, questions: &[(Name, RecordType)]) {
        if questions.is_empty() {
            return;
        }
        let mut message = Message::new(0, MessageType::Query, OpCode::Query);
        for (name, rtype) in questions {
            message.add_query(Query::query(name.clone(), *rtype));
        }
        let Ok(bytes) = message.to_vec() else {
            return;
        };
        for (socket, group) in &self.askers {
            if let Err(error) = socket.send_to(&bytes, group).await {
                debug!(%group, %error, "mDNS refresh query not sent");
            }
        }
    }
}

/// Listens on every interface (all, or `interfaces`) and sends what is heard
/// to `facts`, until it is closed. An interface it cannot listen on is logged
/// and skipped: the browse still works there, with mdns-sd's own refreshes
/// and removals at the TTL.
pub fn listen(interfaces: &[String], facts: mpsc::UnboundedSender<Heard>) -> Link {
    let mut link = Link::default();
    let machine = match InterfaceAddress::current() {
        Ok(machine) => machine,
        Err(error) => {
            debug!(%error, "not observing mDNS traffic: cannot read the interfaces");
            return link;
        }
    };
    let mut asking_on: Vec<u32> = Vec::new();
    // IPv4 first, so an interface with both asks over IPv4 once.
    for (address, index) in multicast_sockets(&machine, interfaces) {
        if address.ip.is_loopback() {
            continue;
        }
        match group_socket(address, index) {
            Ok(socket) => {
                let socket = Arc::new(socket);
                if !asking_on.contains(&index) {
                    asking_on.push(index);
                    let group = match address.ip {
                        IpAddr::V4(_) => SocketAddr::new(MDNS_V4.into(), MDNS_PORT),
                        IpAddr::V6(_) => {
                            SocketAddr::V6(SocketAddrV6::new(MDNS_V6, MDNS_PORT, 0, index))
                        }
                    };
                    link.askers.push((socket.clone(), group));
                }
                tokio::spawn(read(socket, facts.clone()));
            }
            Err(error) => {
                debug!(interface = %address.interface, ip = %address.ip, %error, "not observing mDNS traffic on this interface")
            }
        }
    }
    link
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{OpCode, Query};
    use hickory_proto::rr::rdata::{PTR, SRV};
    use hickory_proto::rr::Record;

    fn name(text: &str) -> Name {
        if text == A {
            // One label with a space and a dot, as instance names may have.
            return Name::from_labels(["a b.c", "_pingpong", "_udp", "local"].map(str::as_bytes))
                .unwrap();
        }
        Name::from_utf8(text).unwrap()
    }

    fn srv(instance: &str, ttl: u32) -> Record {
        Record::from_rdata(
            name(instance),
            ttl,
            RData::SRV(SRV::new(0, 0, 4433, name("h.local."))),
        )
    }

    fn query(questions: Vec<Query>) -> Message {
        let mut message = Message::new(0, MessageType::Query, OpCode::Query);
        for q in questions {
            message.add_query(q);
        }
        Message::from_vec(&message.to_vec().unwrap()).unwrap()
    }

    fn response(records: Vec<Record>) -> Message {
        let mut message = Message::new(0, MessageType::Response, OpCode::Query);
        message.add_answers(records);
        Message::from_vec(&message.to_vec().unwrap()).unwrap()
    }

    const A: &str = "a b.c._pingpong._udp.local.";

    #[test]
    fn multicast_srv_queries_are_heard_as_asking_for_the_instance() {
        let asked = query(vec![
            Query::query(name(A), RecordType::SRV),
            Query::query(name("h.local."), RecordType::A),
        ]);
        assert_eq!(
            heard(&asked, 5353),
            vec![
                Heard::Asked {
                    name: A.into(),
                    rtype: RecordType::SRV
                },
                Heard::Asked {
                    name: "h.local.".into(),
                    rtype: RecordType::A
                },
            ]
        );
        // From another port, the answer goes back by unicast: nothing to wait for.
        assert!(heard(&asked, 40000).is_empty());
        let mut unicast = Query::query(name(A), RecordType::SRV);
        unicast.set_mdns_unicast_response(true);
        assert!(heard(&query(vec![unicast]), 5353).is_empty());
    }

    #[test]
    fn answers_and_goodbyes_are_told_apart_by_their_ttl() {
        let ptr =
            |ttl| Record::from_rdata(name("_pingpong._udp.local."), ttl, RData::PTR(PTR(name(A))));
        assert_eq!(
            heard(&response(vec![srv(A, 120), ptr(4500)]), 5353),
            vec![
                Heard::Answered {
                    name: A.into(),
                    wire: name(A),
                    rtype: RecordType::SRV,
                    ttl: 120
                },
                Heard::Answered {
                    name: "_pingpong._udp.local.".into(),
                    wire: name("_pingpong._udp.local."),
                    rtype: RecordType::PTR,
                    ttl: 4500
                },
            ]
        );
        assert_eq!(
            heard(&response(vec![ptr(0), srv(A, 0)]), 5353),
            vec![Heard::Goodbye(A.into()), Heard::Goodbye(A.into())]
        );
    }
}
