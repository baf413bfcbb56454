//! The outer loop of a recovering run: connect, ping (through
//! `failover.rs`), and when the session is lost with no
//! standby, reconnect — immediately after a session that worked, then with
//! back-off — until the run is finished or the give-up budget is spent.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::failover;
use super::leg::Leg;
use super::observer::RecoveryObserver;
use super::policy::{count_session, recoverable, Recovery};
use super::target::{Home, Target};
use crate::backoff::Backoff;
use crate::client::lanes::Lanes;
use crate::client::{ClientError, Connector, PingRun};
use crate::discovery::Candidate;

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
                failover::drive(
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
        if let Some(standby) = lanes.take_standby() {
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
