//! Pinging through failures: when a session is lost (error, `Drain`, idle
//! timeout, pings overdue) the client reconnects — immediately after a session
//! that worked, then with back-off — to the same server or, through discovery,
//! to another; says `Hello { resume_after }`, resends every unanswered ping, and
//! drops duplicate pongs. See docs/recovery.md.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::find::Finder;
use super::handshake::Resume;
use super::{ClientError, ClientSession, Connector, PingEvent, PingRun};
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

    /// Stops the discovery sources, if any.
    pub fn shutdown(self) {
        if let Target::Discovered { finder, .. } = self {
            finder.shutdown();
        }
    }

    fn lost(&mut self, candidate: &Candidate) {
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

/// What the caller wants to hear about (`Send`, so that a recovering client can
/// run in a spawned task).
pub trait RecoveryObserver: Send {
    /// A session is up (`reconnect` is false for the first one).
    fn connected(&mut self, candidate: &Candidate, session: &ClientSession, reconnect: bool);
    /// A ping was answered, lost, duplicated...
    fn ping_event(&mut self, event: &PingEvent);
    /// The session was lost; the client will reconnect.
    fn session_lost(&mut self, error: &ClientError);
    /// A candidate could not be used.
    fn candidate_failed(&mut self, candidate: &Candidate, error: &ClientError);
}

/// Whether a failure is worth reconnecting for.
fn recoverable(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::SessionLost(_)
            | ClientError::Timeout { .. }
            | ClientError::Connection { .. }
            | ClientError::NoneReachable { .. }
            | ClientError::NothingDiscovered { .. }
    )
}

/// Pings until `run` is finished or `stop` is cancelled, reconnecting through
/// losses. The first connection's failure is returned as is; after that, the
/// client gives up when no session could be had for `give_up_after`, counting
/// every unanswered ping lost.
pub async fn ping_with_recovery(
    connector: &Connector,
    target: &mut Target,
    run: &mut PingRun,
    stop: &CancellationToken,
    give_up_after: Duration,
    observer: &mut dyn RecoveryObserver,
) -> Result<(), ClientError> {
    let mut backoff = Backoff::new();
    let mut last_server: Option<[u8; 16]> = None;
    let mut lost_since: Option<Instant> = None;
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
        let (candidate, mut session) = match attempt {
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
        let server_id = session.welcome().server_id;
        let reconnect = last_server.is_some();
        if reconnect {
            run.reconnects += 1;
            if last_server != Some(server_id) {
                run.failovers += 1;
            }
        }
        last_server = Some(server_id);
        observer.connected(&candidate, &session, reconnect);
        match session.ping(run, stop, |e| observer.ping_event(e)).await {
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
