//! Browsing one service type: mdns-sd's resolved services, validated and
//! bounded, become [`Candidate`]s; the [`RecordBook`] turns mdns-sd's events
//! into per-record [`DiscoveryEvent`]s.

use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::time::Instant;

use mdns_sd::{ResolvedService, ScopedIp, ServiceDaemon, ServiceEvent};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::records::RecordBook;
use super::{
    check_service_type, daemon, instance_label, mdns_error, raw_pairs, unescape, MAX_HOST_LEN,
    MAX_INSTANCE_LEN, SERVICE_TYPE, VERIFY_TIMEOUT,
};
use crate::discovery::txt::ServerTxt;
use crate::discovery::{Candidate, DiscoveryError, DiscoveryEvent, Source};

/// A running browse of one service type.
pub struct Browser {
    daemon: ServiceDaemon,
}

impl Browser {
    /// Starts browsing `service_type`; events arrive on the returned channel as
    /// services resolve, change and leave.
    pub fn start(
        service_type: &str,
        interfaces: &[String],
    ) -> Result<(Self, mpsc::UnboundedReceiver<DiscoveryEvent>), DiscoveryError> {
        let (tx, rx) = mpsc::unbounded_channel();
        Ok((Self::start_with(service_type, interfaces, tx)?, rx))
    }

    /// Like [`start`](Self::start), sending events to an existing channel (to
    /// merge them with other sources).
    pub fn start_with(
        service_type: &str,
        interfaces: &[String],
        tx: mpsc::UnboundedSender<DiscoveryEvent>,
    ) -> Result<Self, DiscoveryError> {
        check_service_type(service_type)?;
        let daemon = daemon(interfaces)?;
        let events = daemon.browse(service_type).map_err(mdns_error)?;
        // pingpong's own records must carry a valid pingpong TXT; other service
        // types keep whatever TXT they have.
        let strict = service_type == SERVICE_TYPE;
        tokio::spawn(async move {
            let mut book = RecordBook::default();
            loop {
                let deadline = book.next_deadline().map(tokio::time::Instant::from_std);
                let event = tokio::select! {
                    event = events.recv_async() => match event {
                        Ok(event) => Some(event),
                        Err(_) => break,
                    },
                    _ = sleep_until(deadline) => None,
                };
                let now = Instant::now();
                let mut out = Vec::new();
                match event {
                    Some(ServiceEvent::ServiceResolved(service)) => {
                        match candidate_from(&service, strict) {
                            Ok(candidate) => out.extend(book.resolved(candidate, now)),
                            Err(reason) => {
                                warn!(name = %truncate(&service.fullname), %reason, "ignoring malformed mDNS record");
                            }
                        }
                    }
                    Some(ServiceEvent::ServiceRemoved(_, fullname)) => book.removed(&fullname, now),
                    Some(other) => debug!(?other, "mDNS browse event"),
                    None => {}
                }
                out.extend(book.expire(now));
                if out.into_iter().any(|event| tx.send(event).is_err()) {
                    break;
                }
            }
        });
        Ok(Self { daemon })
    }

    /// Asks the network whether `candidate` is still there (after a failed
    /// connection): if nothing answers within [`VERIFY_TIMEOUT`], it is removed
    /// (after the [`REMOVAL_GRACE`](super::records::REMOVAL_GRACE); other
    /// services on the same host stay).
    pub fn verify(&self, candidate: &Candidate) {
        if candidate.source == Source::Mdns {
            if let Err(e) = self.daemon.verify(candidate.key.clone(), VERIFY_TIMEOUT) {
                debug!(error = %e, "mDNS verify failed");
            }
        }
    }

    /// Stops browsing.
    pub fn shutdown(self) {
        let _ = self.daemon.shutdown();
    }
}

fn socket_addr(ip: &ScopedIp, port: u16) -> SocketAddr {
    match (ip.to_ip_addr(), ip) {
        (IpAddr::V6(v6), ScopedIp::V6(scoped)) if v6.is_unicast_link_local() => {
            SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scoped.scope_id().index))
        }
        (addr, _) => SocketAddr::new(addr, port),
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Validates a resolved service and turns it into a candidate.
fn candidate_from(service: &ResolvedService, strict: bool) -> Result<Candidate, String> {
    let fullname = &service.fullname;
    if fullname.len() > 255 {
        return Err(format!("full name is {} bytes", fullname.len()));
    }
    let instance = instance_label(fullname, &service.ty_domain);
    if instance.is_empty() || instance.len() > MAX_INSTANCE_LEN * 4 {
        return Err("instance name empty or too long".into());
    }
    let host = service.host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty()
        || host.len() > MAX_HOST_LEN
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(format!("host name {:?} is not a DNS name", truncate(&host)));
    }
    if service.port == 0 {
        return Err("port 0".into());
    }
    let parsed = ServerTxt::parse(|key| service.txt_properties.get_property_val_str(key));
    let txt = match parsed {
        Ok(txt) => Some(txt),
        Err(e) if strict => return Err(e.to_string()),
        Err(_) => None,
    };
    let txt_pairs = raw_pairs(
        service
            .txt_properties
            .iter()
            .map(|p| (p.key().to_string(), p.val_str().to_string())),
    );
    let mut addresses: Vec<SocketAddr> = service
        .addresses
        .iter()
        .map(|ip| socket_addr(ip, service.port))
        .collect();
    addresses.sort();
    if addresses.is_empty() {
        return Err("no address".into());
    }
    Ok(Candidate {
        key: fullname.clone(),
        instance: unescape(instance),
        host,
        addresses,
        port: service.port,
        path: txt
            .as_ref()
            .map_or_else(|| "/".to_string(), |t| t.path.clone()),
        source: Source::Mdns,
        txt,
        srv: None,
        txt_pairs,
    })
}
