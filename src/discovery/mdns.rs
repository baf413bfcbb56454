//! mDNS (RFC 6762) / DNS-SD (RFC 6763) over multicast, with `mdns-sd`: a server
//! advertises itself, a client browses.
//!
//! Where it may run: the mdns-sd daemon joins the multicast groups on every
//! interface that is up, so tests run it only inside network namespaces they
//! create.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mdns_sd::{IfKind, ResolvedService, ScopedIp, ServiceDaemon, ServiceEvent, ServiceInfo};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::txt::ServerTxt;
use super::{Candidate, DiscoveryError, DiscoveryEvent, Source};

/// The service type pingpong servers advertise.
pub const SERVICE_TYPE: &str = "_pingpong._udp.local.";

/// Longest instance name accepted (one DNS label, RFC 6763 section 4.1.1).
pub const MAX_INSTANCE_LEN: usize = 63;
/// Longest host name accepted (RFC 1035).
pub const MAX_HOST_LEN: usize = 253;

/// How long a record may stay silent after a failed connection before it is
/// dropped: RFC 6762 section 10.4 queries twice within a second, so a dead
/// server disappears in about a second instead of after its 120 s TTL.
pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(1);

/// How long the goodbye (TTL 0) may take to be sent at shutdown: the daemon
/// sends it at once; a second bounds a daemon that is stuck, so that a stopping
/// server never hangs on it.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(1);

fn mdns_error(e: impl std::fmt::Display) -> DiscoveryError {
    DiscoveryError::Mdns(e.to_string())
}

/// A daemon limited to `interfaces` (all interfaces when empty).
fn daemon(interfaces: &[String]) -> Result<ServiceDaemon, DiscoveryError> {
    let daemon = ServiceDaemon::new().map_err(mdns_error)?;
    if !interfaces.is_empty() {
        daemon.disable_interface(IfKind::All).map_err(mdns_error)?;
        for name in interfaces {
            daemon
                .enable_interface(IfKind::Name(name.clone()))
                .map_err(mdns_error)?;
        }
    }
    Ok(daemon)
}

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

/// What a server publishes.
#[derive(Debug, Clone)]
pub struct Advertisement {
    /// Service type, e.g. [`SERVICE_TYPE`].
    pub service_type: String,
    /// Instance name (one DNS label, at most 63 bytes); a conflict gets a suffix.
    pub instance: String,
    /// UDP port of the service.
    pub port: u16,
    /// TXT record: `key=value` pairs (pingpong servers use
    /// [`ServerTxt::to_pairs`](crate::discovery::ServerTxt::to_pairs)).
    pub txt: Vec<(String, String)>,
    /// Interfaces to advertise on; empty means all.
    pub interfaces: Vec<String>,
}

/// A running mDNS advertisement; [`shutdown`](Self::shutdown) sends the goodbye.
pub struct Advertiser {
    daemon: ServiceDaemon,
    info: Mutex<ServiceInfo>,
    fullname: Arc<Mutex<String>>,
}

impl Advertiser {
    /// Registers the service. Probing and announcing happen in the background.
    pub fn start(ad: &Advertisement) -> Result<Self, DiscoveryError> {
        check_service_type(&ad.service_type)?;
        if ad.instance.is_empty() || ad.instance.len() > MAX_INSTANCE_LEN {
            return Err(DiscoveryError::Mdns(format!(
                "instance name {:?} must be 1 to {MAX_INSTANCE_LEN} bytes",
                ad.instance
            )));
        }
        let daemon = daemon(&ad.interfaces)?;
        let host = format!(
            "{}.local.",
            crate::tls::generate::local_hostname().unwrap_or_else(|| "pingpong".into())
        );
        let info = ServiceInfo::new(
            &ad.service_type,
            &ad.instance,
            &host,
            (),
            ad.port,
            ad.txt.as_slice(),
        )
        .map_err(mdns_error)?
        .enable_addr_auto();
        let fullname = Arc::new(Mutex::new(info.get_fullname().to_string()));
        watch_renames(&daemon, fullname.clone())?;
        daemon.register(info.clone()).map_err(mdns_error)?;
        info!(name = %info.get_fullname(), host = %host, port = ad.port, "advertising over mDNS");
        Ok(Self {
            daemon,
            info: Mutex::new(info),
            fullname,
        })
    }

    /// The full service name as currently registered (after any conflict rename).
    pub fn fullname(&self) -> String {
        self.fullname.lock().expect("fullname lock").clone()
    }

    /// Publishes a new TXT record for the same service (e.g. `state=draining`).
    pub fn update_txt(&self, txt: &[(String, String)]) -> Result<(), DiscoveryError> {
        let mut info = self.info.lock().expect("info lock");
        let updated = ServiceInfo::new(
            info.get_type(),
            instance_label(&self.fullname(), info.get_type()),
            info.get_hostname(),
            (),
            info.get_port(),
            txt,
        )
        .map_err(mdns_error)?
        .enable_addr_auto();
        self.daemon.register(updated.clone()).map_err(mdns_error)?;
        *info = updated;
        Ok(())
    }

    /// Unregisters (mDNS goodbye, TTL 0) and stops the daemon.
    pub async fn shutdown(self) {
        let fullname = self.fullname();
        match self.daemon.unregister(&fullname) {
            Ok(status) => {
                let _ = tokio::time::timeout(GOODBYE_TIMEOUT, status.recv_async()).await;
                info!(name = %fullname, "mDNS goodbye sent");
            }
            Err(e) => warn!(error = %e, "mDNS unregister failed"),
        }
        if let Ok(done) = self.daemon.shutdown() {
            let _ = tokio::time::timeout(GOODBYE_TIMEOUT, done.recv_async()).await;
        }
    }
}

/// The instance label of `fullname` (`label.<type>`), unescaped as mdns-sd wants it.
fn instance_label<'a>(fullname: &'a str, service_type: &str) -> &'a str {
    fullname
        .strip_suffix(service_type)
        .and_then(|s| s.strip_suffix('.'))
        .unwrap_or(fullname)
}

/// Follows the daemon's conflict renames so that unregister uses the live name.
fn watch_renames(
    daemon: &ServiceDaemon,
    fullname: Arc<Mutex<String>>,
) -> Result<(), DiscoveryError> {
    let events = daemon.monitor().map_err(mdns_error)?;
    tokio::spawn(async move {
        while let Ok(event) = events.recv_async().await {
            if let mdns_sd::DaemonEvent::NameChange(change) = event {
                let mut name = fullname.lock().expect("fullname lock");
                if *name == change.original {
                    warn!(from = %change.original, to = %change.new_name, "mDNS name conflict; renamed");
                    *name = change.new_name;
                }
            }
        }
    });
    Ok(())
}

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
            let mut known: HashMap<String, Candidate> = HashMap::new();
            while let Ok(event) = events.recv_async().await {
                let out = match event {
                    ServiceEvent::ServiceResolved(service) => {
                        match candidate_from(&service, strict) {
                            Ok(candidate) => {
                                match known.insert(candidate.key.clone(), candidate.clone()) {
                                    None => Some(DiscoveryEvent::Added(candidate)),
                                    Some(old) if old != candidate => {
                                        Some(DiscoveryEvent::Updated(candidate))
                                    }
                                    Some(_) => None,
                                }
                            }
                            Err(reason) => {
                                warn!(name = %truncate(&service.fullname), %reason, "ignoring malformed mDNS record");
                                None
                            }
                        }
                    }
                    ServiceEvent::ServiceRemoved(_, fullname) => {
                        known.remove(&fullname).map(DiscoveryEvent::Removed)
                    }
                    other => {
                        debug!(?other, "mDNS browse event");
                        None
                    }
                };
                if let Some(out) = out {
                    if tx.send(out).is_err() {
                        break;
                    }
                }
            }
        });
        Ok(Self { daemon })
    }

    /// Asks the network whether `candidate` is still there (after a failed
    /// connection): if nothing answers within [`VERIFY_TIMEOUT`], it is removed.
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

fn socket_addr(ip: &ScopedIp, port: u16) -> SocketAddr {
    match (ip.to_ip_addr(), ip) {
        (IpAddr::V6(v6), ScopedIp::V6(scoped)) if v6.is_unicast_link_local() => {
            SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scoped.scope_id().index))
        }
        (addr, _) => SocketAddr::new(addr, port),
    }
}

/// Undoes DNS-SD escaping of an instance label (`\.` and `\\`), for display.
fn unescape(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut chars = label.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

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
        assert_eq!(unescape(r"my\.server"), "my.server");
    }
}
