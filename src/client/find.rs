//! Choosing a server to connect to, from discovery: the best usable candidate as
//! soon as one appears (RFC 2782 order for SRV); one that cannot be reached
//! (dead, or not trusted) is reported to its source and skipped; one whose
//! session was lost is ejected for a while. The order is the health ranking of
//! [`rank`](crate::discovery::rank).

use std::collections::HashSet;
use std::time::Duration;

use tokio::time::Instant;
use tracing::debug;

use super::handshake::Resume;
use super::race::{sleep_until, Outcome, Race};
use super::{rebalance, ClientError, ClientSession, Connector};
use crate::discovery::dns::DnsLookupError;
use crate::discovery::rank::HealthTable;
use crate::discovery::set::is_usable;
use crate::discovery::set::MAX_CANDIDATES;
use crate::discovery::{Candidate, CandidateSet, Discovery, DiscoveryEvent, SourceEvent};

/// Finds servers through discovery and connects to them.
pub struct Finder {
    discovery: Discovery,
    known: CandidateSet,
    health: HealthTable,
    problems: Vec<String>,
    /// Every key discovery has listed in this run (at most
    /// [`MAX_CANDIDATES`]): a server that leaves and comes back is not new.
    seen: HashSet<String>,
}

impl Finder {
    /// Uses running discovery sources.
    pub fn new(discovery: Discovery) -> Self {
        Self {
            discovery,
            known: CandidateSet::default(),
            health: HealthTable::default(),
            problems: Vec::new(),
            seen: HashSet::new(),
        }
    }

    fn absorb(&mut self, event: SourceEvent) {
        match event {
            SourceEvent::Event(event) => {
                if let DiscoveryEvent::Added(c) | DiscoveryEvent::Updated(c) = &event {
                    if self.seen.len() < MAX_CANDIDATES {
                        self.seen.insert(c.key.clone());
                    }
                }
                self.known.apply(event);
            }
            SourceEvent::Problem(DnsLookupError::Ignored(_)) => {} // logged by the source
            SourceEvent::Problem(problem) => self.problems.push(problem.to_string()),
            SourceEvent::Settled => {}
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
    /// discovered. Attempts race Happy-Eyeballs style over addresses (see
    /// [`race`](super::race)): the best candidate's best address first, the
    /// next attempt when the one before has not completed within the attempt
    /// delay; addresses and candidates discovered meanwhile join the race; the
    /// first session to complete mTLS and Hello/Welcome wins and the others are
    /// cancelled. `on_failure` hears about each candidate all of whose
    /// addresses failed.
    pub async fn connect(
        &mut self,
        connector: &Connector,
        timeout: Duration,
        resume: Resume,
        on_failure: impl FnMut(&Candidate, &ClientError),
    ) -> Result<(Candidate, ClientSession), ClientError> {
        self.connect_avoiding(connector, timeout, resume, None, on_failure)
            .await
    }

    /// Like [`connect`](Self::connect), for a second session beside the one to
    /// `avoid`: another candidate if there is one; the same one only when
    /// `avoid.1` allows it (a new session to a server that may have restarted).
    pub async fn connect_avoiding(
        &mut self,
        connector: &Connector,
        timeout: Duration,
        resume: Resume,
        avoid: Option<(&str, bool)>,
        mut on_failure: impl FnMut(&Candidate, &ClientError),
    ) -> Result<(Candidate, ClientSession), ClientError> {
        let deadline = Instant::now() + timeout;
        let mut failures: Vec<String> = Vec::new();
        let mut race = Race::new(connector, resume);
        self.problems.clear();
        loop {
            while let Some(event) = self.discovery.try_next() {
                self.absorb(event);
            }
            if race.may_start() {
                if let Some((candidate, address)) = self.choose(&race, avoid) {
                    race.start(candidate, address);
                    continue;
                }
            }
            if race.is_idle() {
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
            // Past start times mean nothing is left to start: wait for news.
            let next_start = race.next_start().filter(|t| *t > Instant::now());
            tokio::select! {
                Some(outcome) = race.next() => match outcome {
                    Outcome::Won { candidate, address, session, took } => {
                        self.healthy(&candidate, took);
                        if let Some(address) = address {
                            self.known.worked(&candidate.key, address);
                        }
                        return Ok((candidate, *session));
                    }
                    Outcome::Failed { candidate, address, error } => {
                        // A spent budget says nothing about the address itself.
                        let budget = matches!(error, ClientError::Timeout { .. });
                        if let (Some(address), false) = (address, budget) {
                            self.known.failed(&candidate.key, address);
                        }
                        let current = self.known.get(&candidate.key).unwrap_or(&candidate).clone();
                        let at = address.map_or_else(|| candidate.host.clone(), |a| a.to_string());
                        if race.exhausted(&current) {
                            debug!(instance = %candidate.instance, url = %candidate.url(), %error, "discovered server unusable; trying another");
                            on_failure(&current, &error);
                            self.eject(&current);
                            failures.push(format!("{} ({}): {error}", candidate.instance, candidate.url()));
                        } else {
                            debug!(instance = %candidate.instance, address = %at, %error, "address failed; trying the server's other addresses");
                        }
                    }
                },
                _ = sleep_until(next_start) => {}
                Some(event) = self.discovery.next() => {
                    self.absorb(event);
                }
            }
        }
    }

    /// The attempt to start: the best candidate by [`HealthTable::pick`] among
    /// those with an address not tried in this race, at that address.
    fn choose(
        &self,
        race: &Race<'_, Connector>,
        avoid: Option<(&str, bool)>,
    ) -> Option<(Candidate, Option<std::net::SocketAddr>)> {
        let pick = |skip: Option<&str>| {
            self.health.pick(
                self.known.all(),
                |c: &Candidate| race.untried(c).is_none() || Some(c.key.as_str()) == skip,
                std::time::Instant::now(),
                &mut rand::rng(),
            )
        };
        let candidate = match avoid {
            None => pick(None)?,
            Some((key, same_allowed)) => match pick(Some(key)) {
                Some(other) => other,
                None if same_allowed => pick(None)?,
                None => return None,
            },
        };
        let address = race.untried(candidate)?;
        Some((candidate.clone(), address))
    }

    /// What discovery lists for `key` now, if anything.
    pub fn known(&self, key: &str) -> Option<&Candidate> {
        self.known.get(key)
    }

    /// Waits for a server to join discovery that this client should move to:
    /// `home` (the server that drained it) when it is listed again, or, after
    /// `settled_at`, a server never listed before in this run that draws the
    /// client with probability 1/N ([`rebalance`]). Other events update what
    /// is known meanwhile. Pending forever once every source has ended.
    pub async fn newcomer(
        &mut self,
        current: &str,
        settled_at: Instant,
        home: Option<&str>,
    ) -> Candidate {
        loop {
            let Some(event) = self.discovery.next().await else {
                return std::future::pending().await;
            };
            let joined = match &event {
                SourceEvent::Event(DiscoveryEvent::Added(c))
                    if self.known.get(&c.key).is_none() =>
                {
                    Some((c.key.clone(), !self.seen.contains(&c.key)))
                }
                _ => None,
            };
            self.absorb(event);
            let Some((key, first_time)) = joined else {
                continue;
            };
            let Some(candidate) = self.known.get(&key).filter(|c| is_usable(c)) else {
                continue;
            };
            if Some(key.as_str()) == home {
                return candidate.clone();
            }
            if key == current || !first_time || Instant::now() < settled_at {
                continue;
            }
            if rebalance::moves_to_newcomer(self.known.all().len(), &mut rand::rng()) {
                debug!(instance = %candidate.instance, "a server joined and drew this client");
                return candidate.clone();
            }
        }
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
