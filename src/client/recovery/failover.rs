//! Make-before-break over a run's sessions (see docs/recovery.md):
//!
//! - the primary turns **suspect** → a standby session is opened to the
//!   next-ranked server (or a warm one is already there) and is sent the
//!   unanswered pings and every new one; the first pong wins;
//! - the primary **answers again** → the standby stops getting pings and is
//!   closed (or kept idle with `--standby 1`); nothing counts as a failover;
//! - the primary **stalls or fails** → the standby becomes the primary (a
//!   reconnection, and a failover when it is another server); without a
//!   standby, the outer loop (`reconnect.rs`) reconnects.
//!
//! - nothing else is being opened and the server that drained the run answers
//!   again, or a new server joins and draws the run with probability 1/N
//!   ([`rebalance`](crate::client::rebalance)) → a session to it becomes the primary,
//!   is sent the unanswered pings, and the old one is closed.
//!
//! The decisions come from `plan.rs` (what to open, what to keep; pure) and
//! [`suspicion`](crate::client::suspicion) (when a session is suspect), the
//! pinging from [`pinger`](crate::client::pinger).

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::leg::Leg;
use super::observer::RecoveryObserver;
use super::plan::{Open, Opened, Plan};
use super::policy::{count_session, recoverable, Recovery};
use super::target::{Home, Target};
use crate::client::lanes::{Lane, Lanes, Opening, Turn};
use crate::client::pinger::{run_lanes, switch as switch_lanes};
use crate::client::{ClientError, Connector, PingRun};
use crate::framed::FramedError;

/// Pings over `lanes` until the run is finished (`Ok`) or the primary is lost
/// with no standby to take over (`Err`, for the caller to reconnect).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn drive(
    connector: &Connector,
    target: &mut Target,
    lanes: &mut Lanes<Leg>,
    run: &mut PingRun,
    stop: &CancellationToken,
    recovery: Recovery,
    observer: &mut dyn RecoveryObserver,
    last_server: &mut Option<[u8; 16]>,
    home: &mut Option<Home>,
) -> Result<(), ClientError> {
    let mut plan = Plan::new(recovery, Instant::now());
    loop {
        // Back on the server that drained the run (it reconnected there).
        if home
            .as_ref()
            .is_some_and(|h| h.candidate.key == lanes.primary.candidate.key)
        {
            *home = None;
        }
        let turn = match plan.open(target.has_alternatives(), lanes.standby.is_some()) {
            Open::Standby { urgent, delay } => {
                let mut failures = Vec::new();
                let current = lanes.primary.candidate.clone();
                let resume = run.resume();
                let turn = {
                    let attempt = async {
                        tokio::time::sleep(delay).await;
                        target
                            .standby(connector, resume, &current, urgent, &mut failures)
                            .await
                    };
                    tokio::pin!(attempt);
                    loop {
                        let opening = Some(Opening::Standby(attempt.as_mut()));
                        let turn =
                            run_lanes(lanes, run, stop, opening, |e| observer.ping_event(e)).await;
                        match turn {
                            // Already being opened.
                            Ok(Turn::WantStandby) if urgent => continue,
                            turn => break turn,
                        }
                    }
                };
                for (candidate, reason) in failures {
                    observer.standby_failed(&candidate, &reason);
                }
                turn
            }
            Open::Newcomer { settled_at } => {
                // Nothing else to open: watch for a server joining, and move
                // to it with probability 1/N.
                let resume = run.resume();
                let current = lanes.primary.candidate.clone();
                let moving =
                    target.newcomer(connector, resume, &current, settled_at, home.as_mut());
                tokio::pin!(moving);
                let opening = Some(Opening::Move(moving.as_mut()));
                run_lanes(lanes, run, stop, opening, |e| observer.ping_event(e)).await
            }
            Open::Nothing => run_lanes(lanes, run, stop, None, |e| observer.ping_event(e)).await,
        };
        match turn {
            Ok(Turn::Finished) => return Ok(()),
            Ok(Turn::WantStandby) => plan.suspect(),
            Ok(Turn::StandbyOpened(Some(leg))) => {
                let same_server =
                    leg.session.welcome().server_id == lanes.primary.session.welcome().server_id;
                match plan.standby_opened(same_server, &mut rand::rng()) {
                    // The same server under another name: no use as a warm standby.
                    Opened::Close => leg.session.close().await,
                    Opened::Keep { ready } => {
                        if ready {
                            observer.standby_ready(&leg);
                        }
                        lanes.standby = Some(leg);
                    }
                }
            }
            Ok(Turn::StandbyOpened(None)) => plan.standby_not_opened(&mut rand::rng()),
            Ok(Turn::Hedging) => {
                if let Some(standby) = &lanes.standby {
                    observer.hedging(&lanes.primary.candidate, standby);
                }
            }
            Ok(Turn::Recovered) => {
                if plan.recovered() {
                    if let Some(standby) = lanes.take_standby() {
                        standby.session.close().await;
                    }
                }
            }
            Ok(Turn::MoveReady(Some(leg))) => {
                if move_to(leg, lanes, run, observer, last_server).await? {
                    plan.moved(Instant::now());
                    *home = None;
                }
            }
            Ok(Turn::MoveReady(None)) => {}
            Ok(Turn::StandbyLost(leg, error)) => {
                observer.standby_failed(&leg.candidate, &error.to_string());
                target.lost(&leg.candidate);
                leg.session.close().await;
                plan.standby_lost(&mut rand::rng());
            }
            Err(error) => {
                if lanes.standby.is_none() || !recoverable(&error) {
                    return Err(error);
                }
                if matches!(error, ClientError::Draining { .. }) {
                    // Drained with a standby at hand: go back later all the same.
                    *home = Some(Home::new(lanes.primary.candidate.clone()));
                }
                let error = match lanes.primary.session.explain(Err::<(), _>(error)) {
                    Err(error) => error,
                    Ok(()) => unreachable!("explain keeps an error an error"),
                };
                switch(target, lanes, run, observer, last_server, &error).await?;
                plan.switched();
            }
        }
    }
}

/// A server joined (or the run's home came back) and drew this run: `leg` (a
/// session to it) becomes the primary, is sent the unanswered pings, and the
/// old primary is closed. False when nothing moved.
async fn move_to(
    leg: Leg,
    lanes: &mut Lanes<Leg>,
    run: &mut PingRun,
    observer: &mut dyn RecoveryObserver,
    last_server: &mut Option<[u8; 16]>,
) -> Result<bool, ClientError> {
    if leg.session.welcome().server_id == lanes.primary.session.welcome().server_id {
        // The same server under another name: nothing to balance.
        leg.session.close().await;
        return Ok(false);
    }
    if let Some(standby) = lanes.take_standby() {
        standby.session.close().await;
    }
    lanes.standby = Some(leg);
    let mut out = Vec::new();
    let Some(old) = switch_lanes(lanes, run, &mut out)? else {
        return Ok(false);
    };
    observer.moved(&old.candidate, &lanes.primary);
    old.session.close().await;
    *last_server = Some(lanes.primary.session.welcome().server_id);
    took_over(lanes, observer, &out).await?;
    Ok(true)
}

/// The primary is lost (`error`): the standby takes over.
async fn switch(
    target: &mut Target,
    lanes: &mut Lanes<Leg>,
    run: &mut PingRun,
    observer: &mut dyn RecoveryObserver,
    last_server: &mut Option<[u8; 16]>,
    error: &ClientError,
) -> Result<(), ClientError> {
    let mut out = Vec::new();
    let Some(old) = switch_lanes(lanes, run, &mut out)? else {
        return Ok(());
    };
    observer.session_lost(error);
    target.lost(&old.candidate);
    old.session.close().await;
    count_session(run, last_server, lanes.primary.session.welcome().server_id);
    took_over(lanes, observer, &out).await
}

/// The new primary is announced and sent `out`, the unanswered pings it was
/// not sent yet.
async fn took_over(
    lanes: &mut Lanes<Leg>,
    observer: &mut dyn RecoveryObserver,
    out: &[u8],
) -> Result<(), ClientError> {
    observer.connected(&lanes.primary.candidate, &lanes.primary.session, true);
    if !out.is_empty() {
        AsyncWriteExt::write_all(lanes.primary.streams().1, out)
            .await
            .map_err(FramedError::from)?;
    }
    Ok(())
}
