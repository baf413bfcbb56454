//! Happy Eyeballs over addresses (RFC 8305 §5; docs/discovery.md, "Connecting"): every address of
//! every candidate is one attempt. The caller starts the best attempt, then the
//! next whenever the one before has not finished within the attempt delay (or
//! has failed); the first session to complete mTLS and Hello/Welcome wins and
//! dropping the race cancels the others. A candidate has failed only when all
//! of its addresses have, so an advertised address that does not answer costs
//! one attempt delay, not the connect timeout. The connect timeout is the
//! budget of a candidate's addresses, counted from its first attempt (a
//! server discovered late gets its whole budget).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;

use super::handshake::Resume;
use super::ClientError;
pub use crate::deadline::sleep_until;
use crate::discovery::{AddressFamily, Candidate};

/// RFC 8305's recommended delay before racing the next attempt.
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);
/// The delay for an address on the local network (loopback, link-local,
/// private): its handshake takes a millisecond or two, so a tenth of a second
/// without one already means trouble.
pub const LAN_ATTEMPT_DELAY: Duration = Duration::from_millis(100);
/// Connection attempts in flight at once.
pub const MAX_RACING: usize = 3;

/// How long to give an attempt at `address` before starting the next one.
pub fn attempt_delay(address: Option<SocketAddr>) -> Duration {
    let local = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unicast_link_local() || v6.is_unique_local(),
    };
    match address {
        Some(addr) if local(addr.ip()) => LAN_ATTEMPT_DELAY,
        _ => ATTEMPT_DELAY,
    }
}

/// What a race dials with: in the client, the [`Connector`](super::Connector).
/// A trait, so that racing does not depend on how a session is opened.
pub trait Dial: Sync {
    /// What a won attempt yields.
    type Session: Send;

    /// The IP versions that may be dialled.
    fn family(&self) -> AddressFamily;

    /// The budget of one candidate's addresses, from its first attempt.
    fn connect_timeout(&self) -> Duration;

    /// Opens a session with `candidate` at `address` (`None`: its host name,
    /// resolved).
    fn open_at<'a>(
        &'a self,
        candidate: &'a Candidate,
        address: Option<SocketAddr>,
        resume: Resume,
    ) -> impl std::future::Future<Output = Result<Self::Session, ClientError>> + Send + 'a;
}

/// What one attempt ended with.
pub enum Outcome<S> {
    /// A session is up: the race is won.
    Won {
        /// The candidate it belongs to.
        candidate: Candidate,
        /// The address that answered (`None`: the host name, resolved).
        address: Option<SocketAddr>,
        /// The session (boxed: it is large, failures are common).
        session: Box<S>,
        /// Handshake plus Hello/Welcome.
        took: Duration,
    },
    /// This address failed.
    Failed {
        /// The candidate it belongs to.
        candidate: Candidate,
        /// The address (`None`: the candidate's host name, resolved).
        address: Option<SocketAddr>,
        /// Why.
        error: ClientError,
    },
}

type Running<'c, S> = FuturesUnordered<BoxFuture<'c, Outcome<S>>>;

/// Attempts in flight and those already made.
pub struct Race<'c, D: Dial> {
    connector: &'c D,
    resume: Resume,
    running: Running<'c, D::Session>,
    tried: HashSet<(String, Option<SocketAddr>)>,
    in_flight: HashMap<String, usize>,
    next_start: Instant,
    /// Per candidate, the connect timeout counted from its first attempt: the
    /// budget of its addresses' race.
    deadlines: HashMap<String, Instant>,
}

impl<'c, D: Dial> Race<'c, D> {
    /// A race of `connector`'s attempts, as the client `resume` says.
    pub fn new(connector: &'c D, resume: Resume) -> Self {
        Self {
            connector,
            resume,
            running: FuturesUnordered::new(),
            tried: HashSet::new(),
            in_flight: HashMap::new(),
            next_start: Instant::now(),
            deadlines: HashMap::new(),
        }
    }

    /// The next address of `candidate` not tried yet in this race (`Some(None)`:
    /// its host name, when no address is known), within the connector's family.
    pub fn untried(&self, candidate: &Candidate) -> Option<Option<SocketAddr>> {
        if candidate.addresses.is_empty() {
            let key = (candidate.key.clone(), None);
            return (!self.tried.contains(&key)).then_some(None);
        }
        candidate
            .dial_order(self.connector.family())
            .into_iter()
            .find(|a| !self.tried.contains(&(candidate.key.clone(), Some(*a))))
            .map(Some)
    }

    /// Whether `candidate` has failed: nothing of it in flight, nothing untried.
    pub fn exhausted(&self, candidate: &Candidate) -> bool {
        self.in_flight.get(&candidate.key).copied().unwrap_or(0) == 0
            && self.untried(candidate).is_none()
    }

    /// Whether another attempt may start now.
    pub fn may_start(&self) -> bool {
        self.running.len() < MAX_RACING && Instant::now() >= self.next_start
    }

    /// When the next attempt may start (if fewer than [`MAX_RACING`] run).
    pub fn next_start(&self) -> Option<Instant> {
        (self.running.len() < MAX_RACING).then_some(self.next_start)
    }

    /// Whether nothing is in flight.
    pub fn is_idle(&self) -> bool {
        self.running.is_empty()
    }

    /// Starts an attempt at `candidate`'s `address`.
    pub fn start(&mut self, candidate: Candidate, address: Option<SocketAddr>) {
        self.tried.insert((candidate.key.clone(), address));
        *self.in_flight.entry(candidate.key.clone()).or_default() += 1;
        let now = Instant::now();
        self.next_start = now + attempt_delay(address);
        let deadline = *self
            .deadlines
            .entry(candidate.key.clone())
            .or_insert(now + self.connector.connect_timeout());
        let connector = self.connector;
        let resume = self.resume;
        self.running.push(Box::pin(async move {
            let started = Instant::now();
            let attempt = connector.open_at(&candidate, address, resume);
            let result = tokio::time::timeout_at(deadline, attempt)
                .await
                .unwrap_or_else(|_| {
                    Err(ClientError::Timeout {
                        target: candidate.url(),
                        timeout: started.elapsed(),
                    })
                });
            match result {
                Ok(session) => Outcome::Won {
                    candidate,
                    address,
                    session: Box::new(session),
                    took: started.elapsed(),
                },
                Err(error) => Outcome::Failed {
                    candidate,
                    address,
                    error,
                },
            }
        }));
    }

    /// The next attempt to finish; `None` when none runs. A failure lets the
    /// next attempt start at once.
    pub async fn next(&mut self) -> Option<Outcome<D::Session>> {
        let outcome = self.running.next().await?;
        if let Outcome::Failed { candidate, .. } = &outcome {
            if let Some(n) = self.in_flight.get_mut(&candidate.key) {
                *n = n.saturating_sub(1);
            }
            self.next_start = Instant::now();
        }
        Some(outcome)
    }
}

/// Connects to one candidate, racing its addresses; the error of its last
/// address when all fail.
pub async fn race_candidate<D: Dial>(
    connector: &D,
    candidate: &Candidate,
    resume: Resume,
) -> Result<D::Session, ClientError> {
    let mut race = Race::new(connector, resume);
    if race.untried(candidate).is_none() {
        let family: AddressFamily = connector.family();
        return Err(ClientError::Connection {
            target: candidate.url(),
            reason: format!("it advertises no address of family {family:?}"),
        });
    }
    // The most telling failure: a refused certificate says more than the
    // budget running out on another address.
    let mut telling: Option<ClientError> = None;
    loop {
        while race.may_start() {
            match race.untried(candidate) {
                Some(address) => race.start(candidate.clone(), address),
                None => break,
            }
        }
        let next_start = race
            .next_start()
            .filter(|_| race.untried(candidate).is_some());
        let idle = race.is_idle();
        tokio::select! {
            outcome = race.next(), if !idle => match outcome {
                Some(Outcome::Won { session, .. }) => return Ok(*session),
                Some(Outcome::Failed { error, .. }) => {
                    if telling.as_ref().is_none_or(|t| matches!(t, ClientError::Timeout { .. })) {
                        telling = Some(error);
                    }
                    if race.exhausted(candidate) {
                        return Err(telling.expect("a failure was just kept"));
                    }
                }
                None => {}
            },
            _ = sleep_until(next_start) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lan_addresses_get_the_short_delay() {
        for lan in ["127.0.0.1:1", "10.0.0.1:1", "[fe80::1%2]:1", "[fd00::1]:1"] {
            assert_eq!(attempt_delay(Some(lan.parse().unwrap())), LAN_ATTEMPT_DELAY);
        }
        assert_eq!(
            attempt_delay(Some("192.0.2.1:1".parse().unwrap())),
            ATTEMPT_DELAY
        );
        assert_eq!(attempt_delay(None), ATTEMPT_DELAY);
    }
}
