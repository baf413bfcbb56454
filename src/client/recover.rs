//! Pinging through failures (see docs/recovery.md). A session that turns
//! suspect (see [`suspicion`](super::suspicion)) gets a standby session to the
//! next-ranked server beside it, which is sent the unanswered pings too: the
//! first pong wins (make-before-break). The client switches to the standby only
//! when the first session stalls or fails; if it answers again, nothing was
//! lost and nothing is counted as a failover. Without a standby, a lost session
//! is replaced — immediately after one that worked, then with back-off — by
//! discovery's next best server (or the same one), which gets
//! `Hello { resume_after }` and every unanswered ping again. Duplicate pongs are
//! dropped.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::find::Finder;
use super::handshake::Resume;
use super::lanes::{Lane, Lanes};
use super::suspicion::SessionClock;
use super::{ClientError, ClientSession, Connector, PingEvent, PingRun};
use crate::backoff::Backoff;
use crate::discovery::Candidate;
use crate::framed::FramedReader;
use wtransport::{RecvStream, SendStream};

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
    async fn connect(
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
    /// [`rebalance`](super::rebalance)); pending forever for a fixed server.
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

    fn worked(&mut self, candidate: &Candidate, rtt: Option<Duration>) {
        if let (Target::Discovered { finder, .. }, Some(rtt)) = (self, rtt) {
            finder.healthy(candidate, rtt);
        }
    }
}

/// The server that drained this run, to go back to once it answers again,
/// and where the retry schedule stands ([`HOME_RETRY`](super::rebalance::HOME_RETRY));
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
            next: Instant::now() + super::rebalance::HOME_RETRY[0],
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
        if home.tries >= super::rebalance::HOME_RETRY.len() {
            return std::future::pending().await;
        }
        tokio::time::sleep_until(home.next).await;
        match connector.open_candidate_resuming(&candidate, resume).await {
            Ok(session) => return Leg { candidate, session },
            Err(error) => {
                tracing::debug!(instance = %candidate.instance, %error, "home server not back yet");
                home.tries += 1;
                if let Some(delay) = super::rebalance::HOME_RETRY.get(home.tries) {
                    home.next = Instant::now() + *delay;
                }
            }
        }
    }
}

/// A session and the candidate it was opened to.
pub struct Leg {
    /// Where it goes.
    pub candidate: Candidate,
    /// The session.
    pub session: ClientSession,
}

impl Lane for Leg {
    type Reader = RecvStream;
    type Writer = SendStream;
    fn streams(&mut self) -> (&mut FramedReader<RecvStream>, &mut SendStream) {
        self.session.streams()
    }
    fn clock(&mut self) -> &mut SessionClock {
        self.session.clock()
    }
}

/// What the caller wants to hear about (`Send`, so that a recovering client can
/// run in a spawned task).
pub trait RecoveryObserver: Send {
    /// A session is up (`reconnect` is false for the first one).
    fn connected(&mut self, candidate: &Candidate, session: &ClientSession, reconnect: bool);
    /// A ping was answered, lost, duplicated...
    fn ping_event(&mut self, event: &PingEvent);
    /// The session was lost; the client will reconnect (or switch to its
    /// standby).
    fn session_lost(&mut self, error: &ClientError);
    /// A candidate could not be used.
    fn candidate_failed(&mut self, candidate: &Candidate, error: &ClientError);
    /// The session to `suspect` is suspect: its unanswered pings, and every
    /// new one, go to `standby` too until one of them answers.
    fn hedging(&mut self, suspect: &Candidate, standby: &Leg) {
        tracing::info!(suspect = %suspect.instance, standby = %standby.candidate.instance, "session suspect: hedging");
    }
    /// A server joined and drew this run: it moved from `from` to `to`
    /// (make-before-break; [`connected`](Self::connected) follows).
    fn moved(&mut self, from: &Candidate, to: &Leg) {
        tracing::info!(from = %from.instance, to = %to.candidate.instance, "moved to a server that joined");
    }
    /// A warm standby session is up (`--standby 1`), idle until the primary
    /// turns suspect.
    fn standby_ready(&mut self, standby: &Leg) {
        tracing::info!(instance = %standby.candidate.instance, "warm standby session up");
    }
    /// No standby session could be opened to `candidate`.
    fn standby_failed(&mut self, candidate: &Candidate, reason: &str) {
        tracing::info!(instance = %candidate.instance, %reason, "no standby session");
    }
}

/// How a run recovers.
#[derive(Debug, Clone, Copy)]
pub struct Recovery {
    /// Without a session for this long, the client gives up; zero turns
    /// recovery off.
    pub give_up_after: Duration,
    /// Idle sessions kept open to the next-best server (0 or 1), so that a
    /// failover costs no handshake.
    pub standby: usize,
    /// Whether a discovered server that joins draws the run with probability
    /// 1/N (see [`rebalance`](super::rebalance)).
    pub rebalance: bool,
}

/// Whether a failure is worth reconnecting for.
pub(crate) fn recoverable(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::SessionLost(_)
            | ClientError::Draining { .. }
            | ClientError::Timeout { .. }
            | ClientError::Connection { .. }
            | ClientError::NoneReachable { .. }
            | ClientError::NothingDiscovered { .. }
    )
}

/// Pings until `run` is finished or `stop` is cancelled, through suspect,
/// stalled and lost sessions. The first connection's failure is returned as is;
/// after that, the client gives up when no session could be had for
/// `recovery.give_up_after`, counting every unanswered ping lost.
pub async fn ping_with_recovery(
    connector: &Connector,
    target: &mut Target,
    run: &mut PingRun,
    stop: &CancellationToken,
    recovery: Recovery,
    observer: &mut dyn RecoveryObserver,
) -> Result<(), ClientError> {
    let give_up_after = recovery.give_up_after;
    let mut backoff = Backoff::new();
    let mut last_server: Option<[u8; 16]> = None;
    let mut lost_since: Option<Instant> = None;
    // The server that drained this run, to go back to (rebalancing).
    let mut home: Option<Home> = None;
    loop {
        // While reconnecting, no attempt may outlast the give-up budget.
        let budget = lost_since.map_or(Duration::MAX, |since| {
            give_up_after.saturating_sub(since.elapsed())
        });
        let attempt = {
            let mut on_failure = |c: &Candidate, e: &ClientError| observer.candidate_failed(c, e);
            let connect = target.connect(connector, run.resume(), &mut on_failure);
            tokio::select! {
                attempt = tokio::time::timeout(budget, connect) => Some(attempt.unwrap_or_else(|_| {
                    Err(ClientError::SessionLost(format!(
                        "no server answered within the {:.1} s left of --reconnect-timeout",
                        budget.as_secs_f64()
                    )))
                })),
                _ = stop.cancelled() => None,
            }
        };
        let (candidate, session) = match attempt {
            None => {
                run.abandon(&mut |e| observer.ping_event(e));
                return Ok(());
            }
            Some(Ok(connected)) => connected,
            Some(Err(error)) => {
                let Some(since) = lost_since else {
                    return Err(error);
                };
                if !recoverable(&error) || since.elapsed() >= give_up_after {
                    run.abandon(&mut |e| observer.ping_event(e));
                    return Err(ClientError::GaveUp {
                        waited: since.elapsed(),
                        last: Box::new(error),
                    });
                }
                let delay = backoff.next_delay(&mut rand::rng());
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.cancelled() => {}
                }
                continue;
            }
        };
        let reconnect = last_server.is_some();
        count_session(run, &mut last_server, session.welcome().server_id);
        observer.connected(&candidate, &session, reconnect);
        let mut lanes = Lanes::new(Leg { candidate, session });
        let result = match lanes.primary.session.resend(run).await {
            Ok(()) => {
                super::failover::drive(
                    connector,
                    target,
                    &mut lanes,
                    run,
                    stop,
                    recovery,
                    observer,
                    &mut last_server,
                    &mut home,
                )
                .await
            }
            Err(error) => Err(error),
        };
        let result = lanes.primary.session.explain(result);
        if let Some(standby) = lanes.take_standby(run) {
            standby.session.close().await;
        }
        let Leg { candidate, session } = lanes.primary;
        match result {
            Ok(()) => {
                let rtt = run
                    .summary()
                    .rtt_ms
                    .map(|r| Duration::from_secs_f64(r.p50 / 1000.0));
                target.worked(&candidate, rtt);
                session.close().await;
                return Ok(());
            }
            Err(error) if recoverable(&error) => {
                if matches!(error, ClientError::Draining { .. }) {
                    home = Some(Home::new(candidate.clone()));
                }
                observer.session_lost(&error);
                target.lost(&candidate);
                session.close().await;
                // The reconnection that follows is the immediate retry; if it
                // fails, the back-off schedule starts at its first real delay.
                backoff.reset();
                let _ = backoff.next_delay(&mut rand::rng());
                lost_since = Some(Instant::now());
            }
            Err(error) => {
                session.close().await;
                run.abandon(&mut |e| observer.ping_event(e));
                return Err(error);
            }
        }
    }
}

/// Counts a new session: after the first, a reconnection, and a failover when
/// it is another server.
pub(crate) fn count_session(
    run: &mut PingRun,
    last_server: &mut Option<[u8; 16]>,
    server_id: [u8; 16],
) {
    if let Some(last) = *last_server {
        run.reconnects += 1;
        if last != server_id {
            run.failovers += 1;
        }
    }
    *last_server = Some(server_id);
}
