//! Listening to the link's mDNS traffic beside mdns-sd, for what it does not
//! tell its users: who asks for a service's SRV record, who answers, and who
//! says goodbye (RFC 6762 §10.1, §10.5). [`heard`] turns one packet into
//! [`Heard`] facts (pure, parsed with hickory-proto); [`listen`] runs the
//! sockets.
//!
//! The sockets are bound to the mDNS group addresses themselves, not to the
//! wildcard address, so they receive the link's multicast and never a unicast
//! packet meant for mdns-sd's own sockets on port 5353.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::debug;

use super::addresses::InterfaceAddress;

/// The mDNS port and groups (RFC 6762 §3).
const MDNS_PORT: u16 = 5353;
const MDNS_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
const MDNS_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb);
/// Largest packet read: mDNS messages fit an Ethernet jumbo frame (RFC 6762 §17).
const MAX_DATAGRAM: usize = 9000;

/// One fact heard on the link about a service instance (its full name, as
/// written in the packet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A multicast query for its SRV record, expecting a multicast answer.
    Asked(String),
    /// A multicast answer carrying its SRV record.
    Answered(String),
    /// Its SRV or PTR record with TTL 0: it is leaving.
    Goodbye(String),
}

/// A name as mdns-sd writes it: the labels, as UTF-8, each followed by a dot.
fn name_text(name: &Name) -> Option<String> {
    let mut text = String::new();
    for label in name.iter() {
        text.push_str(std::str::from_utf8(label).ok()?);
        text.push('.');
    }
    Some(text)
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
                let srv = matches!(query.query_type(), RecordType::SRV | RecordType::ANY);
                if srv && query.query_class() == DNSClass::IN && !query.mdns_unicast_response() {
                    out.extend(name_text(query.name()).map(Heard::Asked));
                }
            }
        }
        MessageType::Response => {
            for record in message.answers.iter().chain(&message.additionals) {
                let fact = match (&record.data, record.ttl) {
                    (RData::SRV(_), 0) => name_text(&record.name).map(Heard::Goodbye),
                    (RData::SRV(_), _) => name_text(&record.name).map(Heard::Answered),
                    (RData::PTR(ptr), 0) => name_text(&ptr.0).map(Heard::Goodbye),
                    _ => None,
                };
                out.extend(fact);
            }
        }
    }
    out
}

/// A socket that receives the mDNS group's packets on one interface: IPv4 on
/// the interface with address `v4`, or IPv6 on the interface `index`.
fn group_socket(address: &InterfaceAddress, index: u32) -> std::io::Result<UdpSocket> {
    let socket = match address.ip {
        IpAddr::V4(v4) => {
            let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
            share_port(&socket)?;
            socket.bind(&SocketAddr::new(MDNS_V4.into(), MDNS_PORT).into())?;
            socket.join_multicast_v4(&MDNS_V4, &v4)?;
            socket
        }
        IpAddr::V6(_) => {
            let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
            socket.set_only_v6(true)?;
            share_port(&socket)?;
            socket.bind(&SocketAddr::V6(SocketAddrV6::new(MDNS_V6, MDNS_PORT, 0, index)).into())?;
            socket.join_multicast_v6(&MDNS_V6, index)?;
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
async fn read(socket: UdpSocket, facts: mpsc::UnboundedSender<Heard>) {
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

/// Listens on every interface (all, or `interfaces`) and sends what is heard
/// to `facts`, until it is closed. An interface it cannot listen on is logged
/// and skipped: the browse still works, with removals at the TTL there.
pub fn listen(interfaces: &[String], facts: mpsc::UnboundedSender<Heard>) {
    let machine = match InterfaceAddress::current() {
        Ok(machine) => machine,
        Err(error) => {
            debug!(%error, "not observing mDNS traffic: cannot read the interfaces");
            return;
        }
    };
    let mut v6_done: Vec<u32> = Vec::new();
    for address in machine
        .iter()
        .filter(|a| interfaces.is_empty() || interfaces.contains(&a.interface))
    {
        let Some(index) = address.index else {
            continue;
        };
        if address.ip.is_loopback() {
            continue;
        }
        if address.ip.is_ipv6() {
            if v6_done.contains(&index) {
                continue;
            }
            v6_done.push(index);
        }
        match group_socket(address, index) {
            Ok(socket) => {
                tokio::spawn(read(socket, facts.clone()));
            }
            Err(error) => {
                debug!(interface = %address.interface, ip = %address.ip, %error, "not observing mDNS traffic on this interface")
            }
        }
    }
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
        assert_eq!(heard(&asked, 5353), vec![Heard::Asked(A.into())]);
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
            vec![Heard::Answered(A.into())]
        );
        assert_eq!(
            heard(&response(vec![ptr(0), srv(A, 0)]), 5353),
            vec![Heard::Goodbye(A.into()), Heard::Goodbye(A.into())]
        );
    }
}
