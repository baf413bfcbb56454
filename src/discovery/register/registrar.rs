//! The lifecycle of one wide-area registration, as a task beside the server:
//!
//! 1. find the zone's primary (once it answers, it is kept);
//! 2. read the instance's TXT: nobody's → claim the name; ours (our server
//!    id, or our certificate: a restart) → rewrite what differs; another
//!    server's → take the next name, `NAME (2)`, and log it;
//! 3. every refresh period, check that every record is still there and heal
//!    what is missing (a restarted DNS server, a record deleted by hand);
//! 4. follow TXT changes (draining, a new certificate fingerprint) and the
//!    machine's addresses at once;
//! 5. on failure keep serving, report the reason and retry with back-off;
//! 6. on stop, delete this server's records, and only them.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType, TSigner};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::exchange::{self, Failure};
use super::naming::{choose_host, registered_addresses};
use super::records::{Held, Owner, Registration};
use super::round::{Answer, Identity, Rejection, Round, Step};
use super::{primary, RegisterError, RegistrationOptions};
use crate::backoff::Schedule;
use crate::discovery::mdns::addresses::{InterfaceAddress, ADDRESS_POLL_INTERVAL};
use crate::discovery::publisher::Publisher;
use crate::discovery::DiscoveryError;
use futures::future::BoxFuture;

/// How long a stopping server lets an update under way finish (the draining
/// TXT, written just before): one attempt's timeout.
const STOP_GRACE: Duration = Duration::from_secs(1);
/// Waits after failed attempts: a second first (a DNS server that is
/// starting comes up), doubled per failure, at most a minute (a fixed server
/// is noticed within a minute, and a broken one is asked at most once a
/// minute per server).
const RETRY: Schedule = Schedule {
    first: Duration::from_secs(1),
    factor: 2.0,
    max: Duration::from_secs(60),
};
/// How long the removal at shutdown may take: one exchange's attempts, so a
/// stopping server never hangs on an unreachable DNS server.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(4);

/// Where the registration stands, for logs, `/readyz` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationStatus {
    /// Not registered yet (first attempt under way).
    Registering,
    /// The records are in the zone.
    Registered {
        /// The instance name used (after any conflict rename).
        instance: String,
        /// The zone.
        zone: String,
    },
    /// The last attempt failed; retried with back-off.
    Failing {
        /// The error's one line.
        error: String,
    },
}

/// Called with every change of status.
pub type StatusSink = Box<dyn Fn(&RegistrationStatus) + Send + Sync>;

/// What the server wants registered now.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    txt: Vec<(String, String)>,
}

/// A running registration; [`shutdown`](Self::shutdown) removes the records.
pub struct Registrar {
    /// The zone, as given (for logs).
    zone: String,
    wanted: watch::Sender<Wanted>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Registrar {
    /// Starts registering a server listening on `listen` with TXT `txt`.
    /// Returns at once; problems are logged and retried (the server serves
    /// regardless). Fails only on settings that can never work.
    pub fn start(
        options: RegistrationOptions,
        identity: Identity,
        listen: SocketAddr,
        txt: Vec<(String, String)>,
        on_status: StatusSink,
    ) -> Result<Self, RegisterError> {
        let zone_text = options.zone.clone();
        let bad = |reason: String| RegisterError::BadName {
            zone: options.zone.clone(),
            reason,
        };
        let zone = super::zone_name(&options.zone)?;
        let hostname = crate::tls::generate::local_hostname().unwrap_or_else(|| "pingpong".into());
        let (host, warning) = choose_host(
            &zone,
            options.host.as_deref(),
            &identity.cert_names,
            &hostname,
        )
        .map_err(bad)?;
        // Only a server's clients check the SRV target against a certificate.
        if let (Some(warning), Owner::Server { .. }) = (warning, &identity.owner) {
            warn!("{warning}");
        }
        let service = Name::from_utf8(&identity.service)
            .map_err(|e| bad(format!("service type {:?}: {e}", identity.service)))?;
        let signer = options.key.signer()?;
        let registration = Registration {
            zone,
            service,
            instance: identity.instance.clone(),
            host,
            port: listen.port(),
            priority: options.priority,
            weight: options.weight,
            txt: txt.clone(),
            addresses: current_addresses(listen, &options.addresses),
            ttl: u32::try_from(options.ttl.as_secs()).unwrap_or(u32::MAX),
        };
        registration.instance_name().map_err(bad)?;
        let (wanted, wanted_rx) = watch::channel(Wanted { txt });
        let stop = CancellationToken::new();
        let task = Worker {
            options,
            identity,
            listen,
            signer,
            primary: None,
            registration,
            registered: false,
            on_status,
            status: None,
        };
        let task = tokio::spawn(task.run(wanted_rx, stop.clone()));
        Ok(Self {
            zone: zone_text,
            wanted,
            stop,
            task,
        })
    }

    /// Registers a new TXT record (e.g. `state=draining`, a new `fp`) at once.
    pub fn update_txt(&self, txt: &[(String, String)]) {
        self.wanted.send_replace(Wanted { txt: txt.to_vec() });
    }

    /// Deletes this server's records (bounded in time) and stops.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

impl Publisher for Registrar {
    fn name(&self) -> String {
        format!("DNS zone {}", self.zone)
    }

    fn update_txt(&self, txt: &[(String, String)]) -> Result<(), DiscoveryError> {
        Registrar::update_txt(self, txt);
        Ok(())
    }

    fn withdraw(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(self.shutdown())
    }
}

/// The task's state.
struct Worker {
    options: RegistrationOptions,
    identity: Identity,
    listen: SocketAddr,
    signer: TSigner,
    /// The server taking updates, once found.
    primary: Option<SocketAddr>,
    /// What is (to be) registered, under the name in use.
    registration: Registration,
    /// Whether the records were in the zone at the last round (a later
    /// difference is then logged as a heal).
    registered: bool,
    on_status: StatusSink,
    status: Option<RegistrationStatus>,
}

impl Worker {
    async fn run(mut self, mut wanted: watch::Receiver<Wanted>, stop: CancellationToken) {
        let mut failures = 0u32;
        let mut poll = tokio::time::interval(ADDRESS_POLL_INTERVAL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.registration.txt = wanted.borrow_and_update().txt.clone();
            // A stop lets an update under way (the draining TXT) land, but
            // does not wait long for a DNS server that does not answer.
            let outcome = {
                let sync = self.sync();
                tokio::pin!(sync);
                tokio::select! {
                    outcome = &mut sync => Some(outcome),
                    _ = stop.cancelled() => tokio::time::timeout(STOP_GRACE, &mut sync).await.ok(),
                }
            };
            let Some(outcome) = outcome.filter(|_| !stop.is_cancelled()) else {
                self.remove().await;
                return;
            };
            let wait = match outcome {
                Ok(()) => {
                    failures = 0;
                    self.options.refresh
                }
                Err(error) => {
                    self.report(RegistrationStatus::Failing {
                        error: error.to_string(),
                    });
                    failures = failures.saturating_add(1);
                    RETRY.after(failures)
                }
            };
            let next = tokio::time::Instant::now() + wait;
            loop {
                tokio::select! {
                    // A TXT change first: the draining TXT comes just before
                    // the stop, and is written before the records go.
                    biased;
                    changed = wanted.changed() => {
                        if changed.is_err() {
                            // The server is gone without a shutdown.
                            return;
                        }
                        break;
                    }
                    _ = stop.cancelled() => {
                        self.remove().await;
                        return;
                    }
                    _ = tokio::time::sleep_until(next) => break,
                    _ = poll.tick() => {
                        let now = current_addresses(self.listen, &self.options.addresses);
                        if now != self.registration.addresses {
                            info!(from = ?self.registration.addresses, to = ?now, "addresses changed; registering the new set");
                            self.registration.addresses = now;
                            break;
                        }
                    }
                }
            }
        }
    }

    fn report(&mut self, status: RegistrationStatus) {
        if self.status.as_ref() == Some(&status) {
            return;
        }
        match &status {
            RegistrationStatus::Failing { error } => {
                warn!(zone = %self.options.zone, "not registered in DNS: {error}; retrying")
            }
            RegistrationStatus::Registered { instance, zone } => {
                info!(%instance, %zone, host = %self.registration.host, addresses = ?self.registration.addresses, "registered in DNS")
            }
            RegistrationStatus::Registering => {}
        }
        (self.on_status)(&status);
        self.status = Some(status);
    }

    /// One round: makes the zone hold exactly our records, as the round's
    /// pure core (`round.rs`) decides from what the zone answers.
    async fn sync(&mut self) -> Result<(), RegisterError> {
        let server = self.primary().await?;
        let mut round = Round::new();
        let mut step = Step::ReadTxt;
        loop {
            let answer = match step {
                Step::ReadTxt => {
                    let name = self.instance_name()?;
                    Answer::Txt(self.read_txt(server, &name).await?)
                }
                Step::Compare => Answer::Compared(self.is_current(server).await?),
                Step::Claim => Answer::Sent(self.send(server, self.registration.claim()).await),
                Step::Rewrite { strings, healing } => {
                    if healing {
                        info!(instance = %self.registration.instance, "records in DNS differ from this server's (changed, or deleted by hand); rewriting them");
                    }
                    Answer::Sent(self.send(server, self.registration.rewrite(&strings)).await)
                }
                Step::Registered => return self.registered(),
                Step::Failed(error) => return Err(error),
            };
            step = round.next(
                answer,
                &mut self.registration,
                &self.identity,
                self.registered,
                &self.options.zone,
            );
            if let Some((from, to)) = round.take_renamed() {
                warn!(%from, %to, zone = %self.options.zone, "instance name taken in DNS by another server; renamed");
                self.registered = false;
            }
            if matches!(step, Step::ReadTxt) {
                debug!("reading the records again");
            }
        }
    }

    fn registered(&mut self) -> Result<(), RegisterError> {
        self.registered = true;
        self.report(RegistrationStatus::Registered {
            instance: self.registration.instance.clone(),
            zone: self.options.zone.clone(),
        });
        Ok(())
    }

    fn instance_name(&self) -> Result<Name, RegisterError> {
        self.registration
            .instance_name()
            .map_err(|reason| RegisterError::BadName {
                zone: self.options.zone.clone(),
                reason,
            })
    }

    async fn primary(&mut self) -> Result<SocketAddr, RegisterError> {
        if let Some(server) = self.options.server.or(self.primary) {
            return Ok(server);
        }
        let zone = self.registration.zone.clone();
        let found = primary::find_primary(&zone).await?;
        info!(zone = %self.options.zone, primary = %found, "found the zone's primary DNS server");
        self.primary = Some(found);
        Ok(found)
    }

    /// The TXT strings at `name` and, for an owner known by its SRV, the SRV;
    /// `None` when the name has no TXT.
    async fn read_txt(
        &self,
        server: SocketAddr,
        name: &Name,
    ) -> Result<Option<Held>, RegisterError> {
        let records = exchange::query(server, name, RecordType::TXT)
            .await
            .map_err(|f| self.error(server, f))?;
        let Some(txt) = records.iter().find_map(|record| match &record.data {
            RData::TXT(txt) => Some(txt.txt_data.iter().map(|s| s.to_vec()).collect()),
            _ => None,
        }) else {
            return Ok(None);
        };
        let srv = match self.identity.owner {
            Owner::Server { .. } => None,
            Owner::Endpoint => exchange::query(server, name, RecordType::SRV)
                .await
                .map_err(|f| self.error(server, f))?
                .iter()
                .find_map(|record| match &record.data {
                    RData::SRV(srv) => Some((srv.target.clone(), srv.port)),
                    _ => None,
                }),
        };
        Ok(Some(Held { txt, srv }))
    }

    /// Whether the zone holds exactly what we want (its TXT already read
    /// and found as wanted).
    async fn is_current(&self, server: SocketAddr) -> Result<bool, RegisterError> {
        let name = self.instance_name()?;
        let mut found: Vec<Record> = Vec::new();
        for (owner, kind) in [
            (self.registration.browse_name(), RecordType::PTR),
            (name.clone(), RecordType::SRV),
            (name, RecordType::TXT),
            (self.registration.host.clone(), RecordType::A),
            (self.registration.host.clone(), RecordType::AAAA),
        ] {
            found.extend(
                exchange::query(server, &owner, kind)
                    .await
                    .map_err(|f| self.error(server, f))?,
            );
        }
        let complete =
            self.registration
                .is_complete_in(&found)
                .map_err(|reason| RegisterError::BadName {
                    zone: self.options.zone.clone(),
                    reason,
                })?;
        // Addresses we no longer have must go too.
        let stale = found.iter().any(|r| {
            r.name == self.registration.host
                && match &r.data {
                    RData::A(a) => !self.registration.addresses.contains(&IpAddr::V4(a.0)),
                    RData::AAAA(a) => !self.registration.addresses.contains(&IpAddr::V6(a.0)),
                    _ => false,
                }
        });
        Ok(complete && !stale)
    }

    async fn send(
        &self,
        server: SocketAddr,
        message: Result<hickory_proto::op::Message, String>,
    ) -> Result<(), Rejection> {
        let message = message.map_err(|reason| {
            Rejection::Error(RegisterError::BadName {
                zone: self.options.zone.clone(),
                reason,
            })
        })?;
        match exchange::exchange(server, message, Some(&self.signer)).await {
            Ok(_) => Ok(()),
            Err(Failure::Refused {
                code: ResponseCode::YXDomain,
                tsig: None,
                ..
            }) => Err(Rejection::Conflict),
            Err(Failure::Refused {
                code: ResponseCode::NXRRSet,
                tsig: None,
                ..
            }) => Err(Rejection::Changed),
            Err(failure) => Err(Rejection::Error(self.error(server, failure))),
        }
    }

    /// Deletes our records, if they are still ours.
    async fn remove(&mut self) {
        let Some(server) = self.options.server.or(self.primary) else {
            return;
        };
        let removal = async {
            let name = self.instance_name()?;
            let Some(held) = self.read_txt(server, &name).await? else {
                return Ok(false);
            };
            if !self.identity.owner.owns(&held, &self.registration) {
                return Ok(false);
            }
            match self.send(server, self.registration.remove(&held.txt)).await {
                Ok(()) => Ok(true),
                Err(Rejection::Error(error)) => Err(error),
                Err(_) => Ok(false),
            }
        };
        match tokio::time::timeout(REMOVE_TIMEOUT, removal).await {
            Ok(Ok(true)) => {
                info!(instance = %self.registration.instance, zone = %self.options.zone, "removed from DNS")
            }
            Ok(Ok(false)) => debug!("nothing of ours to remove from DNS"),
            Ok(Err(error)) => warn!("cannot remove the records from DNS: {error}"),
            Err(_) => {
                warn!(zone = %self.options.zone, "cannot remove the records from DNS: no answer in time; they stay until this server returns or `pingpong dns prune` removes them")
            }
        }
    }

    fn error(&self, server: SocketAddr, failure: Failure) -> RegisterError {
        failure.into_error(server, &self.options.zone, &self.options.key.name)
    }
}

/// The machine's addresses for `listen` now (or the overrides).
fn current_addresses(listen: SocketAddr, overrides: &[IpAddr]) -> Vec<IpAddr> {
    let machine = InterfaceAddress::current().unwrap_or_default();
    registered_addresses(listen, &machine, overrides)
}
