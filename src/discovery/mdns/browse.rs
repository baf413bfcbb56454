//! Browsing one service type: mdns-sd's resolved services, and at the start
//! those a one-shot query resolves (see [`oneshot`]), validated and bounded,
//! become [`Candidate`]s; the [`RecordBook`] turns them into per-record
//! [`DiscoveryEvent`]s. What the [`observer`] hears on the link, and the
//! failures this process reports, go to [`Liveness`], which says what to
//! reconfirm and why a service left, and to the [`Refresher`], which says
//! when this browse asks the link to refresh the listed records.

use std::time::Instant;

use hickory_proto::rr::{Name, RecordType};
use mdns_sd::{ServiceDaemon, ServiceEvent};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::liveness::{Liveness, Verify, RECONFIRM_WINDOW};
use super::names::name_text;
use super::observer::{self, Heard};
use super::oneshot;
use super::records::RecordBook;
use super::refresh::{self, Refresher};
use super::resolved::Resolved;
use super::{check_service_type, daemon, mdns_error, SERVICE_TYPE};
use crate::deadline::sleep_until;
use crate::discovery::{Candidate, DiscoveryError, DiscoveryEvent, Source};
use crate::text::truncate;

/// A running browse of one service type.
pub struct Browser {
    daemon: ServiceDaemon,
    /// The services this process failed to reach, to the browse task.
    failures: mpsc::UnboundedSender<String>,
}

impl Browser {
    /// Starts browsing `service_type`; events arrive on the returned channel as
    /// services resolve, change and leave.
    pub fn start(
        service_type: &str,
        interfaces: &[String],
    ) -> Result<(Self, mpsc::UnboundedReceiver<DiscoveryEvent>), DiscoveryError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let browser = Self::start_with(service_type, interfaces, move |event| {
            tx.send(event).is_ok()
        })?;
        Ok((browser, rx))
    }

    /// Like [`start`](Self::start), handing each event to `sink` (to merge
    /// them with other sources), which says whether it still wants them.
    pub fn start_with(
        service_type: &str,
        interfaces: &[String],
        sink: impl Fn(DiscoveryEvent) -> bool + Send + 'static,
    ) -> Result<Self, DiscoveryError> {
        check_service_type(service_type)?;
        // The meta-query lists types, not services: see `TypeBrowser`.
        if service_type == super::types::SERVICE_TYPES {
            return Err(DiscoveryError::ServiceType(service_type.to_string()));
        }
        let daemon = daemon(interfaces)?;
        let events = daemon.browse(service_type).map_err(mdns_error)?;
        // pingpong's own records must carry a valid pingpong TXT; other service
        // types keep whatever TXT they have.
        let strict = service_type == SERVICE_TYPE;
        let (early_tx, mut early) = mpsc::unbounded_channel();
        tokio::spawn(oneshot::ask(
            service_type.to_string(),
            interfaces.to_vec(),
            early_tx,
        ));
        let (heard_tx, mut heard) = mpsc::unbounded_channel();
        let link = observer::listen(interfaces, heard_tx);
        let (failures, mut failed) = mpsc::unbounded_channel::<String>();
        let verifier = daemon.clone();
        let service_type = service_type.to_string();
        tokio::spawn(async move {
            let service_type = service_type.as_str();
            let mut book = RecordBook::default();
            let mut liveness = Liveness::default();
            let mut refresher = Refresher::default();
            let mut warned_full = false;
            loop {
                let deadline = [
                    book.next_deadline(),
                    liveness.next_deadline(),
                    refresher.next_deadline(),
                ]
                .into_iter()
                .flatten()
                .min()
                .map(tokio::time::Instant::from_std);
                let input = tokio::select! {
                    event = events.recv_async() => match event {
                        Ok(event) => Input::Browse(event),
                        Err(_) => break,
                    },
                    Some(resolved) = early.recv() => Input::Early(resolved),
                    Some(fact) = heard.recv() => Input::Heard(fact),
                    Some(key) = failed.recv() => Input::Failed(key),
                    _ = sleep_until(deadline) => Input::Tick,
                };
                let now = Instant::now();
                let mut out = Vec::new();
                let mut verify = Vec::new();
                match input {
                    Input::Browse(ServiceEvent::ServiceResolved(service)) => {
                        match Resolved::from_mdns_sd(&service).candidate(strict) {
                            Ok(candidate) => out.extend(book.resolved(candidate, now)),
                            Err(reason) => {
                                warn!(name = %truncate(&service.fullname), %reason, "ignoring malformed mDNS record");
                            }
                        }
                    }
                    Input::Browse(ServiceEvent::ServiceRemoved(_, fullname)) => {
                        let known = liveness.why_gone(&fullname, now);
                        out.extend(book.removed(&fullname, now, known))
                    }
                    Input::Browse(other) => debug!(?other, "mDNS browse event"),
                    Input::Early(resolved) => match resolved.candidate(strict) {
                        Ok(candidate) => out.extend(book.found_early(candidate, now)),
                        Err(reason) => {
                            debug!(name = %truncate(&resolved.fullname), %reason, "ignoring a one-shot mDNS answer");
                        }
                    },
                    Input::Heard(fact) => note(&book, &mut liveness, &mut refresher, fact, now),
                    // Browser::verify sent the first verification itself,
                    // which mdns-sd sends only for what its cache holds: a
                    // service only the one-shot query found is asked for
                    // here, so that the other browses on the link hear it
                    // go unanswered and reconfirm it.
                    Input::Failed(key) => {
                        let _ = liveness.failed(&key, now);
                        if let Some(name) = book
                            .provisional(&key)
                            .and_then(|i| srv_name(i, service_type))
                        {
                            link.ask(&[(name, RecordType::SRV)]).await;
                        }
                    }
                    Input::Tick => {}
                }
                verify.extend(liveness.poll(now));
                for Verify { key, timeout } in verify {
                    debug!(name = %truncate(&key), ?timeout, "reconfirming an mDNS service");
                    if let Err(e) = verifier.verify(key, timeout) {
                        debug!(error = %e, "mDNS verify failed");
                    }
                }
                let ask: Vec<_> = refresher
                    .poll(now)
                    .into_iter()
                    .filter(|(name, rtype)| {
                        name_text(name).is_some_and(|name| wanted(&book, &name, *rtype))
                    })
                    .collect();
                link.ask(&ask).await;
                out.extend(book.expire(now));
                for event in &out {
                    if let DiscoveryEvent::Removed(gone, _) = event {
                        liveness.forget(&gone.key);
                        refresher.forget(&owner(&gone.key));
                    }
                }
                if book.take_refused() && !warned_full {
                    warned_full = true;
                    warn!(
                        limit = super::records::MAX_RECORDS,
                        "too many mDNS services on the link; new ones are ignored"
                    );
                }
                if out.into_iter().any(|event| !sink(event)) {
                    break;
                }
            }
        });
        Ok(Self { daemon, failures })
    }

    /// Asks the network whether `candidate` is still there (after a failed
    /// connection): if nothing answers within the
    /// [`RECONFIRM_WINDOW`], it is removed,
    /// here and in every pingpong browse on the link (other services on the
    /// same host stay).
    ///
    /// The first query goes out before this returns (mdns-sd's commands run in
    /// order), so it is heard even if the browse stops right after, as
    /// `discover --probe` does.
    pub fn verify(&self, candidate: &Candidate) {
        if candidate.source == Source::Mdns {
            if let Err(e) = self.daemon.verify(candidate.key.clone(), RECONFIRM_WINDOW) {
                debug!(error = %e, "mDNS verify failed");
            }
            let _ = self.failures.send(candidate.key.clone());
        }
    }

    /// Stops browsing.
    pub fn shutdown(self) {
        let _ = self.daemon.shutdown();
    }
}

/// The SRV owner name of `instance` of `service_type`, the instance as one
/// raw label (spaces, dots and UTF-8 as they are).
fn srv_name(instance: &str, service_type: &str) -> Option<Name> {
    let labels = std::iter::once(instance)
        .chain(
            super::main_type(service_type)
                .split('.')
                .filter(|l| !l.is_empty()),
        )
        .map(str::as_bytes);
    Name::from_labels(labels).ok()
}

/// A record owner name as the refresher keys it: lowercased, one final dot.
fn owner(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.').to_ascii_lowercase())
}

/// Whether the record `name`/`rtype` belongs to a service the book lists: its
/// SRV or TXT record, or its host's addresses.
fn wanted(book: &RecordBook, name: &str, rtype: RecordType) -> bool {
    match rtype {
        RecordType::SRV | RecordType::TXT => book.key_for(name).is_some(),
        RecordType::A | RecordType::AAAA => book.lists_host(name.trim_end_matches('.')),
        _ => false,
    }
}

/// Takes in one fact heard on the link about the services the book lists:
/// SRV queries and answers feed the liveness, every answer for their records
/// plans their refresh, and a query for one postpones it.
fn note(
    book: &RecordBook,
    liveness: &mut Liveness,
    refresher: &mut Refresher,
    fact: Heard,
    now: Instant,
) {
    match fact {
        Heard::Asked { name, rtype } => {
            if matches!(rtype, RecordType::SRV | RecordType::ANY) {
                if let Some(key) = book.key_for(&name) {
                    liveness.asked(key, now);
                }
            }
            refresher.asked(&owner(&name), rtype, now);
        }
        Heard::Answered {
            name,
            wire,
            rtype,
            ttl,
        } => {
            if !wanted(book, &name, rtype) {
                return;
            }
            if rtype == RecordType::SRV {
                if let Some(key) = book.key_for(&name) {
                    liveness.answered(key, now);
                }
            }
            let share = rand::random_range(refresh::EARLIEST..refresh::LATEST);
            refresher.answered(&owner(&name), &wire, rtype, ttl, now, share);
        }
        Heard::Goodbye(name) => {
            if let Some(key) = book.key_for(&name) {
                liveness.goodbye(key, now);
            }
        }
    }
}

/// What the browse task reacts to.
enum Input {
    /// An event of mdns-sd's browse.
    Browse(ServiceEvent),
    /// A service the one-shot query resolved.
    Early(Resolved),
    /// Something heard on the link.
    Heard(Heard),
    /// This process failed to reach the service with this key.
    Failed(String),
    /// A deadline of the book passed.
    Tick,
}
