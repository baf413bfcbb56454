//! Choosing a server to connect to, from discovery: the best usable candidate as
//! soon as one appears (RFC 2782 order for SRV); one that cannot be reached
//! (dead, or not trusted) is reported to its source and skipped; one whose
//! session was lost is ejected for a while, longer at each repeated failure
//! (outlier ejection, as Envoy and gRPC do), but never every candidate at once.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;
use tracing::debug;

use super::connect::Resume;
use super::{ClientError, ClientSession, Connector};
use crate::discovery::dns::DnsLookupError;
use crate::discovery::{Candidate, CandidateSet, Discovery, SourceEvent};

/// Ejection after the first failure; doubles with each consecutive one. A
/// second is about what a server restart or a Kubernetes rollout step takes.
const BASE_EJECTION: Duration = Duration::from_secs(1);
/// Longest ejection.
const MAX_EJECTION: Duration = Duration::from_secs(30);

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

#[derive(Debug, Clone, Copy)]
struct Ejection {
    until: Instant,
    failures: u32,
}

/// Finds servers through discovery and connects to them.
pub struct Finder {
    discovery: Discovery,
    known: CandidateSet,
    ejected: HashMap<String, Ejection>,
    problems: Vec<String>,
}

impl Finder {
    /// Uses running discovery sources.
    pub fn new(discovery: Discovery) -> Self {
        Self {
            discovery,
            known: CandidateSet::default(),
            ejected: HashMap::new(),
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

    /// Takes a candidate out of rotation after its session failed, and tells its
    /// source (mDNS verifies the record, DNS resolves again).
    pub fn eject(&mut self, candidate: &Candidate) {
        let failures = self.ejected.get(&candidate.key).map_or(0, |e| e.failures) + 1;
        let time = BASE_EJECTION
            .saturating_mul(1 << (failures - 1).min(5))
            .min(MAX_EJECTION);
        self.ejected.insert(
            candidate.key.clone(),
            Ejection {
                until: Instant::now() + time,
                failures,
            },
        );
        self.discovery.report_failure(candidate);
    }

    /// A session with `candidate` went well: forget its past failures.
    pub fn healthy(&mut self, candidate: &Candidate) {
        self.ejected.remove(&candidate.key);
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
                        let result = connector.open_candidate_resuming(&candidate, resume).await;
                        (candidate, result)
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
                    Ok(session) => return Ok((candidate, session)),
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

    /// The candidate to try: usable, not failed in this attempt, not ejected —
    /// unless every remaining one is ejected, then the one whose ejection ends first.
    fn choose(&self, connector: &Connector, failed: &HashSet<String>) -> Option<Candidate> {
        let family = connector.family();
        let now = Instant::now();
        let reachable = |c: &Candidate| {
            failed.contains(&c.key)
                || (!c.addresses.is_empty() && c.preferred_address(family).is_none())
        };
        let ejected = |c: &Candidate| self.ejected.get(&c.key).is_some_and(|e| e.until > now);
        let rng = &mut rand::rng();
        if let Some(c) = self.known.pick_usable(|c| reachable(c) || ejected(c), rng) {
            return Some(c.clone());
        }
        self.known
            .all()
            .iter()
            .filter(|c| crate::discovery::set::is_usable(c) && !reachable(c))
            .min_by_key(|c| self.ejected.get(&c.key).map(|e| e.until))
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
