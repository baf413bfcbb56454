//! Choosing a server to connect to, from discovery: the best usable candidate as
//! soon as one appears (RFC 2782 order for SRV); one that cannot be reached
//! (dead, or not trusted) is reported to its source and skipped; one whose
//! session was lost is ejected for a while. The order is the health ranking of
//! [`rank`](crate::discovery::rank).

use std::collections::HashSet;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;
use tracing::debug;

use super::connect::Resume;
use super::{ClientError, ClientSession, Connector};
use crate::discovery::dns::DnsLookupError;
use crate::discovery::rank::HealthTable;
use crate::discovery::{Candidate, CandidateSet, Discovery, SourceEvent};

/// RFC 8305's recommended delay before racing the next candidate.
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);
/// The delay for a candidate on the local network (loopback, link-local,
/// private): its handshake takes a millisecond or two, so a tenth of a second
/// without one already means trouble.
const LAN_ATTEMPT_DELAY: Duration = Duration::from_millis(100);
/// Connection attempts in flight at once.
const MAX_RACING: usize = 3;

/// How long to give `candidate` before racing the next one.
fn attempt_delay(candidate: &Candidate) -> Duration {
    let local = |ip: std::net::IpAddr| match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unicast_link_local() || v6.is_unique_local()
        }
    };
    if !candidate.addresses.is_empty() && candidate.addresses.iter().all(|a| local(a.ip())) {
        LAN_ATTEMPT_DELAY
    } else {
        ATTEMPT_DELAY
    }
}

/// Finds servers through discovery and connects to them.
pub struct Finder {
    discovery: Discovery,
    known: CandidateSet,
    health: HealthTable,
    problems: Vec<String>,
}

impl Finder {
    /// Uses running discovery sources.
    pub fn new(discovery: Discovery) -> Self {
        Self {
            discovery,
            known: CandidateSet::default(),
            health: HealthTable::default(),
            problems: Vec::new(),
        }
    }

    fn absorb(&mut self, event: SourceEvent) {
        match event {
            SourceEvent::Event(event) => self.known.apply(event),
            SourceEvent::Problem(DnsLookupError::Ignored(_)) => {} // logged by the source
            SourceEvent::Problem(problem) => self.problems.push(problem.to_string()),
        }
    }

    /// Takes a candidate out of rotation after it failed (see
    /// [`rank`](crate::discovery::rank)), and tells its source (mDNS verifies
    /// the record, DNS resolves again).
    pub fn eject(&mut self, candidate: &Candidate) {
        self.health
            .record_failure(&candidate.key, Instant::now().into_std());
        self.discovery.report_failure(candidate);
    }

    /// A round trip to `candidate` took `rtt` (a handshake, or a session's
    /// pings): it is healthy, and its RTT feeds the ranking.
    pub fn healthy(&mut self, candidate: &Candidate, rtt: Duration) {
        self.health.record_rtt(&candidate.key, rtt);
    }

    /// Connects to a usable candidate, waiting up to `timeout` for one to be
    /// discovered. Attempts race Happy-Eyeballs style (RFC 8305): the best
    /// candidate first, the next one if the first has not completed within the
    /// attempt delay, the first session to complete mTLS and Hello/Welcome wins
    /// and the others are cancelled. `on_failure` hears about each candidate
    /// that failed.
    pub async fn connect(
        &mut self,
        connector: &Connector,
        timeout: Duration,
        resume: Resume,
        mut on_failure: impl FnMut(&Candidate, &ClientError),
    ) -> Result<(Candidate, ClientSession), ClientError> {
        let deadline = Instant::now() + timeout;
        let mut tried: HashSet<String> = HashSet::new();
        let mut failures: Vec<String> = Vec::new();
        let mut racing = FuturesUnordered::new();
        let mut next_start = Instant::now();
        self.problems.clear();
        loop {
            while let Some(event) = self.discovery.try_next() {
                self.absorb(event);
            }
            if Instant::now() >= next_start && racing.len() < MAX_RACING {
                if let Some(candidate) = self.choose(connector, &tried) {
                    tried.insert(candidate.key.clone());
                    next_start = Instant::now() + attempt_delay(&candidate);
                    racing.push(async move {
                        let started = Instant::now();
                        let result = connector.open_candidate_resuming(&candidate, resume).await;
                        (
                            candidate,
                            result.map(|session| (session, started.elapsed())),
                        )
                    });
                    continue;
                }
            }
            if racing.is_empty() {
                // DNS alone: a failed lookup is the answer, there is no point waiting.
                if !self.discovery.has_mdns()
                    && self.known.all().is_empty()
                    && !self.problems.is_empty()
                {
                    return Err(ClientError::Discovery(self.problems.join("; ")));
                }
                match tokio::time::timeout_at(deadline, self.discovery.next()).await {
                    Ok(Some(event)) => {
                        self.absorb(event);
                        next_start = Instant::now();
                        continue;
                    }
                    _ if !failures.is_empty() => {
                        return Err(ClientError::NoneReachable { failures })
                    }
                    _ if !self.problems.is_empty() => {
                        return Err(ClientError::Discovery(self.problems.join("; ")))
                    }
                    _ => return Err(ClientError::NothingDiscovered { timeout }),
                }
            }
            tokio::select! {
                Some((candidate, result)) = racing.next() => match result {
                    Ok((session, handshake)) => {
                        self.healthy(&candidate, handshake);
                        return Ok((candidate, session));
                    }
                    Err(error) => {
                        debug!(instance = %candidate.instance, url = %candidate.url(), %error, "discovered server unusable; trying another");
                        on_failure(&candidate, &error);
                        self.eject(&candidate);
                        failures.push(format!("{} ({}): {error}", candidate.instance, candidate.url()));
                        next_start = Instant::now();
                    }
                },
                _ = tokio::time::sleep_until(next_start), if racing.len() < MAX_RACING => {}
                Some(event) = self.discovery.next() => {
                    self.absorb(event);
                }
            }
        }
    }

    /// The candidate to try: the best by [`HealthTable::pick`] among those not
    /// tried in this attempt and with an address of the connector's family.
    fn choose(&self, connector: &Connector, tried: &HashSet<String>) -> Option<Candidate> {
        let family = connector.family();
        let excluded = |c: &Candidate| {
            tried.contains(&c.key)
                || (!c.addresses.is_empty() && c.preferred_address(family).is_none())
        };
        self.health
            .pick(
                self.known.all(),
                excluded,
                std::time::Instant::now(),
                &mut rand::rng(),
            )
            .cloned()
    }

    /// Stops the discovery sources.
    pub fn shutdown(self) {
        self.discovery.shutdown();
    }
}

/// Connects to the first discovered server that completes the mTLS handshake
/// and Hello/Welcome (see [`Finder::connect`]).
pub async fn connect_discovered(
    connector: &Connector,
    discovery: Discovery,
    discover_timeout: Duration,
    on_failure: impl FnMut(&Candidate, &ClientError),
) -> Result<(Candidate, ClientSession, Finder), ClientError> {
    let mut finder = Finder::new(discovery);
    let (candidate, session) = finder
        .connect(
            connector,
            discover_timeout,
            Resume::new_client(),
            on_failure,
        )
        .await?;
    Ok((candidate, session, finder))
}
