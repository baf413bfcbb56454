//! Browsing one service type: mdns-sd's resolved services, and at the start
//! those a one-shot query resolves (see [`oneshot`]), validated and bounded,
//! become [`Candidate`]s; the [`RecordBook`] turns them into per-record
//! [`DiscoveryEvent`]s.

use std::time::Instant;

use mdns_sd::{ServiceDaemon, ServiceEvent};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::oneshot;
use super::records::RecordBook;
use super::resolved::Resolved;
use super::{check_service_type, daemon, mdns_error, SERVICE_TYPE, VERIFY_TIMEOUT};
use crate::deadline::sleep_until;
use crate::discovery::{Candidate, DiscoveryError, DiscoveryEvent, Source};
use crate::text::truncate;

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
        tokio::spawn(async move {
            let mut book = RecordBook::default();
            let mut warned_full = false;
            loop {
                let deadline = book.next_deadline().map(tokio::time::Instant::from_std);
                let input = tokio::select! {
                    event = events.recv_async() => match event {
                        Ok(event) => Input::Browse(event),
                        Err(_) => break,
                    },
                    Some(resolved) = early.recv() => Input::Early(resolved),
                    _ = sleep_until(deadline) => Input::Tick,
                };
                let now = Instant::now();
                let mut out = Vec::new();
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
                        out.extend(book.removed(&fullname, now))
                    }
                    Input::Browse(other) => debug!(?other, "mDNS browse event"),
                    Input::Early(resolved) => match resolved.candidate(strict) {
                        Ok(candidate) => out.extend(book.found_early(candidate, now)),
                        Err(reason) => {
                            debug!(name = %truncate(&resolved.fullname), %reason, "ignoring a one-shot mDNS answer");
                        }
                    },
                    Input::Tick => {}
                }
                out.extend(book.expire(now));
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

/// What the browse task reacts to.
enum Input {
    /// An event of mdns-sd's browse.
    Browse(ServiceEvent),
    /// A service the one-shot query resolved.
    Early(Resolved),
    /// A deadline of the book passed.
    Tick,
}
