//! Where a run's sessions come from ([`Target`]): one fixed server, or
//! whatever discovery offers; and the way back to a server that drained the
//! run (`Home`).

use std::time::Duration;

use tokio::time::Instant;

use super::leg::Leg;
use crate::client::find::Finder;
use crate::client::handshake::Resume;
use crate::client::{rebalance, ClientError, ClientSession, Connector};
use crate::discovery::Candidate;

/// Where sessions come from.
pub enum Target {
    /// Always the same server.
    Fixed(Candidate),
    /// Whatever discovery offers.
    Discovered {
        /// The finder, which remembers candidates and failures.
        finder: Finder,
        /// How long to wait for a candidate to appear.
        discover_timeout: Duration,
    },
}

impl Target {
    pub(super) async fn connect(
        &mut self,
        connector: &Connector,
        resume: Resume,
        on_failure: &mut dyn FnMut(&Candidate, &ClientError),
    ) -> Result<(Candidate, ClientSession), ClientError> {
        match self {
            Target::Fixed(candidate) => {
                let session = connector.open_candidate_resuming(candidate, resume).await?;
                Ok((candidate.clone(), session))
            }
            Target::Discovered {
                finder,
                discover_timeout,
            } => {
                finder
                    .connect(connector, *discover_timeout, resume, |c, e| {
                        on_failure(c, e)
                    })
                    .await
            }
        }
    }

    /// A second session beside the one to `current`: to the next-ranked other
    /// server, or (`same_allowed`, when the first one is suspect) a fresh
    /// session to the same one, which helps when it restarted. Candidates that
    /// fail are reported in `failures`.
    pub(crate) async fn standby(
        &mut self,
        connector: &Connector,
        resume: Resume,
        current: &Candidate,
        same_allowed: bool,
        failures: &mut Vec<(Candidate, String)>,
    ) -> Option<Leg> {
        let opened = match self {
            Target::Fixed(candidate) if same_allowed => connector
                .open_candidate_resuming(candidate, resume)
                .await
                .map(|session| (candidate.clone(), session))
                .map_err(|error| failures.push((candidate.clone(), error.to_string()))),
            Target::Fixed(_) => return None,
            Target::Discovered { finder, .. } => finder
                .connect_avoiding(
                    connector,
                    connector.connect_timeout(),
                    resume,
                    Some((&current.key, same_allowed)),
                    |c, e| failures.push((c.clone(), e.to_string())),
                )
                .await
                .map_err(|error| tracing::debug!(%error, "no standby session")),
        };
        let (candidate, session) = opened.ok()?;
        Some(Leg { candidate, session })
    }

    /// A session to a server that joins discovery while the one to `current`
    /// is up (after `settled_at`) and draws this client (see
    /// [`rebalance`](crate::client::rebalance)); pending forever for a fixed server.
    /// `None` when the newcomer could not be reached (it is ejected for a
    /// while).
    pub(crate) async fn newcomer(
        &mut self,
        connector: &Connector,
        resume: Resume,
        current: &Candidate,
        settled_at: Instant,
        home: Option<&mut Home>,
    ) -> Option<Leg> {
        let Target::Discovered { finder, .. } = self else {
            return std::future::pending().await;
        };
        let home = home.filter(|h| h.candidate.key != current.key);
        let home_key = home.as_ref().map(|h| h.candidate.key.clone());
        // Dialled at the addresses discovery lists now; while it lists none
        // (the server left), its return is awaited as a joining server.
        let dial = home.and_then(|h| Some((finder.known(&h.candidate.key)?.clone(), h)));
        let back_home = async {
            match dial {
                Some((candidate, home)) => return_home(connector, resume, candidate, home).await,
                None => std::future::pending().await,
            }
        };
        let candidate = tokio::select! {
            candidate = finder.newcomer(&current.key, settled_at, home_key.as_deref()) => candidate,
            leg = back_home => return Some(leg),
        };
        match connector.open_candidate_resuming(&candidate, resume).await {
            Ok(session) => Some(Leg { candidate, session }),
            Err(error) => {
                tracing::debug!(instance = %candidate.instance, %error, "cannot move to the server that joined");
                finder.eject(&candidate);
                None
            }
        }
    }

    /// Whether a standby may reach a server other than the current one.
    pub(crate) fn has_alternatives(&self) -> bool {
        matches!(self, Target::Discovered { .. })
    }

    /// Stops the discovery sources, if any.
    pub fn shutdown(self) {
        if let Target::Discovered { finder, .. } = self {
            finder.shutdown();
        }
    }

    /// `candidate`'s session was lost or stalled: eject it for a while.
    pub(crate) fn lost(&mut self, candidate: &Candidate) {
        if let Target::Discovered { finder, .. } = self {
            finder.eject(candidate);
        }
    }

    pub(super) fn worked(&mut self, candidate: &Candidate, rtt: Option<Duration>) {
        if let (Target::Discovered { finder, .. }, Some(rtt)) = (self, rtt) {
            finder.healthy(candidate, rtt);
        }
    }
}

/// The server that drained this run, to go back to once it answers again,
/// and where the retry schedule stands ([`HOME_RETRY`](crate::client::rebalance::HOME_RETRY));
/// kept across the ping loop's turns, so that the schedule never restarts.
#[derive(Debug)]
pub(crate) struct Home {
    /// The server that drained the run.
    pub(crate) candidate: Candidate,
    tries: usize,
    next: Instant,
}

impl Home {
    /// `candidate` just drained the run.
    pub(crate) fn new(candidate: Candidate) -> Self {
        Self {
            candidate,
            tries: 0,
            next: Instant::now() + rebalance::HOME_RETRY[0],
        }
    }
}

/// A session to `home`'s server (at `candidate`'s current addresses) once it
/// answers again; pending forever after the schedule's last try.
async fn return_home(
    connector: &Connector,
    resume: Resume,
    candidate: Candidate,
    home: &mut Home,
) -> Leg {
    loop {
        if home.tries >= rebalance::HOME_RETRY.len() {
            return std::future::pending().await;
        }
        tokio::time::sleep_until(home.next).await;
        match connector.open_candidate_resuming(&candidate, resume).await {
            Ok(session) => return Leg { candidate, session },
            Err(error) => {
                tracing::debug!(instance = %candidate.instance, %error, "home server not back yet");
                home.tries += 1;
                if let Some(delay) = rebalance::HOME_RETRY.get(home.tries) {
                    home.next = Instant::now() + *delay;
                }
            }
        }
    }
}
