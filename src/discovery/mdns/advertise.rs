//! Advertising a service: registration with the addresses the server answers
//! on (see [`addresses`](super::addresses)), kept up to date as the machine's
//! addresses change, TXT updates, conflict renames followed and logged, and the
//! goodbye at shutdown.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mdns_sd::{DaemonEvent, ServiceDaemon, ServiceInfo};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::addresses::{advertised, InterfaceAddress, ADDRESS_POLL_INTERVAL};
use super::{check_service_type, daemon, mdns_error, MAX_INSTANCE_LEN};
use crate::discovery::publisher::Publisher;
use crate::discovery::DiscoveryError;
use futures::future::BoxFuture;

/// How long the goodbye (TTL 0) may take to be sent at shutdown: the daemon
/// sends it at once; a second bounds a daemon that is stuck, so that a stopping
/// server never hangs on it.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(1);

/// The mdns-sd release whose limits [`Advertiser::start`] works around.
const MDNS_SD_VERSION: &str = "0.21.7";

/// What a server publishes.
#[derive(Debug, Clone)]
pub struct Advertisement {
    /// Service type, e.g. [`SERVICE_TYPE`](super::SERVICE_TYPE).
    pub service_type: String,
    /// Instance name (one DNS label, at most 63 bytes); a conflict gets a suffix.
    pub instance: String,
    /// The socket the service listens on: its port is advertised, and its IP
    /// decides which addresses are (`0.0.0.0`: IPv4, `[::]`: both, one IP: that
    /// one).
    pub listen: SocketAddr,
    /// TXT record: `key=value` pairs (pingpong servers use
    /// [`ServerTxt::to_pairs`](crate::discovery::ServerTxt::to_pairs)).
    pub txt: Vec<(String, String)>,
    /// Interfaces to advertise on; empty means all.
    pub interfaces: Vec<String>,
}

/// What is registered now; every change re-registers the whole record set.
/// mdns-sd keeps the names it was given and applies its conflict renames
/// itself, per interface, so registrations always use the original names; the
/// live ones are for logs and display.
struct Published {
    /// Service type, as registered.
    service_type: String,
    /// The instance name as given (mdns-sd escapes `.` and `\` in
    /// `fullname`; registering again takes the name unescaped).
    instance: String,
    /// The full service name as registered (before any rename).
    fullname: String,
    /// The host name as registered (`host.local.`).
    host: String,
    /// The full service name after the latest conflict rename.
    live_fullname: String,
    /// The host name after the latest conflict rename.
    live_host: String,
    port: u16,
    txt: Vec<(String, String)>,
    addresses: Vec<IpAddr>,
    /// The conflict name, registered as a service of its own as well when
    /// mdns-sd would not answer for it (see [`unanswered_after_rename`]).
    alias: Option<String>,
}

impl Published {
    fn service_info(&self) -> Result<ServiceInfo, DiscoveryError> {
        self.service_info_named(&self.instance)
    }

    fn service_info_named(&self, instance: &str) -> Result<ServiceInfo, DiscoveryError> {
        ServiceInfo::new(
            &self.service_type,
            instance,
            &self.host,
            self.addresses.as_slice(),
            self.port,
            self.txt.as_slice(),
        )
        .map_err(mdns_error)
    }

    /// Registers (again) the service, and its alias if it has one.
    fn register(&self, daemon: &ServiceDaemon) -> Result<(), DiscoveryError> {
        daemon.register(self.service_info()?).map_err(mdns_error)?;
        if let Some(alias) = &self.alias {
            daemon
                .register(self.service_info_named(alias)?)
                .map_err(mdns_error)?;
        }
        Ok(())
    }

    /// The full names mdns-sd knows the registrations by (an instance name
    /// has no `.` or `\`, so it needs no escaping there).
    fn registered_names(&self) -> Vec<String> {
        let mut names = vec![self.fullname.clone()];
        names.extend(
            self.alias
                .as_ref()
                .map(|alias| format!("{alias}.{}", self.service_type)),
        );
        names
    }
}

/// A running mDNS advertisement; [`shutdown`](Self::shutdown) sends the goodbye.
pub struct Advertiser {
    daemon: ServiceDaemon,
    published: Arc<Mutex<Published>>,
    stop: CancellationToken,
}

impl Advertiser {
    /// Registers the service. Probing and announcing happen in the background;
    /// must be called within a tokio runtime (the address watch runs in it).
    pub fn start(ad: &Advertisement) -> Result<Self, DiscoveryError> {
        check_service_type(&ad.service_type)?;
        if ad.instance.is_empty() || ad.instance.len() > MAX_INSTANCE_LEN {
            return Err(DiscoveryError::Mdns(format!(
                "instance name {:?} must be 1 to {MAX_INSTANCE_LEN} bytes",
                ad.instance
            )));
        }
        if ad.instance.contains(['.', '\\']) {
            return Err(DiscoveryError::Mdns(format!(
                "instance name {:?} has a dot or a backslash, which mdns-sd {MDNS_SD_VERSION} cannot answer queries for: resolvers that missed its announcement would not find it, watchers would drop it at their first refresh, and another host claiming the name would go unnoticed (docs/upstream/mdns-sd-conflict-rename.md); choose a name without '.' or '\\'",
                ad.instance
            )));
        }
        let daemon = daemon(&ad.interfaces)?;
        let host = format!(
            "{}.local.",
            crate::tls::generate::local_host_label().unwrap_or_else(|| "pingpong".into())
        );
        let machine = InterfaceAddress::current().map_err(mdns_error)?;
        let addresses = advertised(ad.listen, &machine, &ad.interfaces);
        let draft = ServiceInfo::new(
            &ad.service_type,
            &ad.instance,
            &host,
            (),
            1,
            ad.txt.as_slice(),
        )
        .map_err(mdns_error)?;
        let published = Published {
            service_type: ad.service_type.clone(),
            instance: ad.instance.clone(),
            fullname: draft.get_fullname().to_string(),
            live_fullname: draft.get_fullname().to_string(),
            live_host: host.clone(),
            host,
            port: ad.listen.port(),
            txt: ad.txt.clone(),
            addresses,
            alias: None,
        };
        let info = published.service_info()?;
        if published.addresses.is_empty() {
            warn!(listen = %ad.listen, interfaces = ?ad.interfaces, "no address to advertise yet: the listening address is on none of the chosen interfaces");
        }
        info!(name = %published.fullname, host = %published.host, port = published.port,
            addresses = ?published.addresses, "advertising over mDNS");
        let published = Arc::new(Mutex::new(published));
        let stop = CancellationToken::new();
        follow_renames(daemon.clone(), published.clone(), stop.clone())?;
        daemon.register(info).map_err(mdns_error)?;
        follow_addresses(
            daemon.clone(),
            published.clone(),
            ad.listen,
            ad.interfaces.clone(),
            stop.clone(),
        );
        Ok(Self {
            daemon,
            published,
            stop,
        })
    }

    /// The full service name as currently registered (after any conflict rename).
    pub fn fullname(&self) -> String {
        self.published
            .lock()
            .expect("published lock")
            .fullname
            .clone()
    }

    /// The host name as currently registered (`host.local.`, or `host-2.local.`
    /// after a conflict).
    pub fn host(&self) -> String {
        self.published.lock().expect("published lock").host.clone()
    }

    /// The addresses advertised now.
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.published
            .lock()
            .expect("published lock")
            .addresses
            .clone()
    }

    /// Publishes a new TXT record for the same service (e.g. `state=draining`).
    pub fn update_txt(&self, txt: &[(String, String)]) -> Result<(), DiscoveryError> {
        let mut published = self.published.lock().expect("published lock");
        published.txt = txt.to_vec();
        published.register(&self.daemon)
    }

    /// Unregisters (mDNS goodbye, TTL 0) and stops the daemon.
    pub async fn shutdown(self) {
        self.stop.cancel();
        // mdns-sd knows the service by the name it was registered with.
        let registered = self
            .published
            .lock()
            .expect("published lock")
            .registered_names();
        for name in registered {
            match self.daemon.unregister(&name) {
                Ok(status) => {
                    let _ = tokio::time::timeout(GOODBYE_TIMEOUT, status.recv_async()).await;
                    info!(%name, "mDNS goodbye sent");
                }
                Err(e) => warn!(error = %e, "mDNS unregister failed"),
            }
        }
        if let Ok(done) = self.daemon.shutdown() {
            let _ = tokio::time::timeout(GOODBYE_TIMEOUT, done.recv_async()).await;
        }
    }
}

/// Follows the daemon's conflict renames (RFC 6762 §9) of the instance and of
/// the host, so that updates and the goodbye use the live names, and logs them.
fn follow_renames(
    daemon: ServiceDaemon,
    published: Arc<Mutex<Published>>,
    stop: CancellationToken,
) -> Result<(), DiscoveryError> {
    let events = daemon.monitor().map_err(mdns_error)?;
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                event = events.recv_async() => event,
                _ = stop.cancelled() => return,
            };
            let Ok(DaemonEvent::NameChange(change)) = event else {
                if event.is_err() {
                    return;
                }
                continue;
            };
            let mut published = published.lock().expect("published lock");
            if published.fullname.eq_ignore_ascii_case(&change.original) {
                warn!(from = %change.original, to = %change.new_name, interface = %change.intf_name,
                    "mDNS instance name taken by another server; renamed");
                published.live_fullname = change.new_name.clone();
                if published.alias.is_none() && unanswered_after_rename(&published.fullname) {
                    answer_for_renamed(&daemon, &mut published, &change.new_name);
                }
            } else if published.host.eq_ignore_ascii_case(&change.original) {
                warn!(from = %change.original, to = %change.new_name, interface = %change.intf_name,
                    "mDNS host name taken by another machine; renamed (clients identify this server by its certificate, not this name)");
                published.live_host = change.new_name;
            }
        }
    });
    Ok(())
}

/// Whether mdns-sd leaves direct queries for the renamed instance unanswered.
/// mdns-sd 0.21.7 looks a rename up by the lowercased registered name, while
/// it stored it under the name as given: a name with capitals is then
/// answered under neither name, so a resolver that missed the announcement
/// (or a watcher refreshing its cache) gets no SRV or TXT, and reconfirms the
/// service away (docs/upstream/mdns-sd-conflict-rename.md).
fn unanswered_after_rename(fullname: &str) -> bool {
    fullname != fullname.to_lowercase()
}

/// Registers the service under its conflict name `new_fullname` as well, as
/// a service of its own, which mdns-sd answers direct queries for. The
/// renamed registration stays: it carries the same records under the same
/// name (so its probe sees no conflict), and it still answers browsers.
fn answer_for_renamed(daemon: &ServiceDaemon, published: &mut Published, new_fullname: &str) {
    let suffix = format!(".{}", published.service_type);
    let Some(alias) = new_fullname.strip_suffix(&suffix) else {
        return;
    };
    published.alias = Some(alias.to_string());
    match published.register(daemon) {
        Ok(()) => {
            info!(name = %new_fullname, "registered under the new name too, so that it is answered for")
        }
        Err(error) => {
            warn!(%error, name = %new_fullname, "cannot register under the new name");
            published.alias = None;
        }
    }
}

/// Re-registers with the addresses the server answers on whenever they change
/// (a DHCP lease, a link going up or down, an address added or removed). The
/// new A/AAAA records carry the cache-flush bit, so listeners drop the old ones
/// (RFC 6762 §10.2).
fn follow_addresses(
    daemon: ServiceDaemon,
    published: Arc<Mutex<Published>>,
    listen: SocketAddr,
    interfaces: Vec<String>,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        let mut poll = tokio::time::interval(ADDRESS_POLL_INTERVAL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = poll.tick() => {}
                _ = stop.cancelled() => return,
            }
            let machine = match InterfaceAddress::current() {
                Ok(machine) => machine,
                Err(error) => {
                    warn!(%error, "cannot read the machine's addresses");
                    continue;
                }
            };
            let now = advertised(listen, &machine, &interfaces);
            let mut published = published.lock().expect("published lock");
            if now == published.addresses {
                continue;
            }
            info!(from = ?published.addresses, to = ?now, "addresses changed; advertising the new set");
            if now.is_empty() {
                warn!(%listen, "no address to advertise: the listening address is on none of the chosen interfaces");
            }
            let before = std::mem::replace(&mut published.addresses, now);
            let registered = published.register(&daemon);
            if let Err(error) = registered {
                // Tried again at the next poll.
                warn!(%error, "cannot advertise the new addresses");
                published.addresses = before;
            }
        }
    });
}

impl Publisher for Advertiser {
    fn name(&self) -> String {
        format!("mDNS ({})", self.fullname())
    }

    fn update_txt(&self, txt: &[(String, String)]) -> Result<(), DiscoveryError> {
        Advertiser::update_txt(self, txt)
    }

    fn withdraw(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(self.shutdown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every re-registration (TXT update, new addresses) must publish the
    /// same name: mdns-sd escapes `.` and `\` in its full names, so the
    /// instance is kept as given, never read back from the full name.
    #[test]
    fn re_registration_keeps_names_with_dots_and_backslashes() {
        for instance in ["v1.2_beta", r"a\b", "Living Room"] {
            let first = ServiceInfo::new(
                SERVICE,
                instance,
                "web1.local.",
                (),
                4433,
                None::<std::collections::HashMap<String, String>>,
            )
            .unwrap();
            let published = Published {
                service_type: SERVICE.into(),
                instance: instance.into(),
                fullname: first.get_fullname().into(),
                host: "web1.local.".into(),
                live_fullname: first.get_fullname().into(),
                live_host: "web1.local.".into(),
                port: 4433,
                txt: vec![("state".into(), "draining".into())],
                addresses: vec!["10.0.0.1".parse().unwrap()],
                alias: None,
            };
            let again = published.service_info().unwrap();
            assert_eq!(again.get_fullname(), first.get_fullname(), "{instance}");
        }
    }

    const SERVICE: &str = "_pingpong._udp.local.";

    /// The refusal of dotted names names the mdns-sd release it was checked
    /// against: an upgrade must check again whether the limit is gone.
    #[test]
    fn the_dotted_name_limit_names_the_mdns_sd_in_use() {
        let lock = include_str!("../../../Cargo.lock");
        let entry = format!("name = \"mdns-sd\"\nversion = \"{MDNS_SD_VERSION}\"");
        assert!(lock.contains(&entry), "Cargo.lock's mdns-sd is not {MDNS_SD_VERSION}: check whether it now answers for instance names with a dot (docs/upstream/mdns-sd-conflict-rename.md), then update MDNS_SD_VERSION");
    }

    #[tokio::test]
    async fn instance_names_with_a_dot_are_refused_with_the_reason() {
        for instance in ["My Web. v2", r"a\b"] {
            let ad = Advertisement {
                service_type: SERVICE.into(),
                instance: instance.into(),
                listen: "127.0.0.1:4433".parse().unwrap(),
                txt: Vec::new(),
                interfaces: Vec::new(),
            };
            let Err(error) = Advertiser::start(&ad) else {
                panic!("{instance:?} was advertised");
            };
            let error = error.to_string();
            assert!(error.contains("cannot answer queries for"), "{error}");
        }
    }
}
