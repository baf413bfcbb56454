//! One server's monitor: keeps an mTLS session to it (exactly as `pingpong
//! client` connects), pings once a second, reports every outcome, and
//! reconnects with back-off when the session ends. Runs until cancelled (the
//! server left discovery, or the agent stops).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::model::MonitorEvent;
use crate::backoff::Backoff;
use crate::client::run::Liveness;
use crate::client::{ClientError, Connector, PingEvent, PingOptions, PingRun};
use crate::discovery::Candidate;

/// One ping a second: a live RTT without load on the server.
pub const PING_INTERVAL: Duration = Duration::from_secs(1);
/// A ping unanswered for two seconds is lost (the QUIC idle timeout is two
/// seconds too, so a dead server is noticed as fast either way).
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// A report from the monitor of the server with this discovery key.
pub type Report = (String, MonitorEvent);

/// Monitors `candidate` until `stop` is cancelled.
pub async fn monitor(
    connector: Arc<Connector>,
    candidate: Candidate,
    reports: mpsc::UnboundedSender<Report>,
    stop: CancellationToken,
) {
    let key = candidate.key.clone();
    let report = |event| {
        let _ = reports.send((key.clone(), event));
    };
    let mut backoff = Backoff::new();
    while !stop.is_cancelled() {
        let opened = tokio::select! {
            _ = stop.cancelled() => return,
            opened = connector.open_candidate(&candidate) => opened,
        };
        match opened {
            Ok(mut session) => {
                backoff.reset();
                let welcome = session.welcome().clone();
                report(MonitorEvent::Connected {
                    address: session.remote_address().to_string(),
                    version: welcome.version,
                    fingerprint: session.server_identity().map(|id| id.fingerprint.clone()),
                    state: welcome.state,
                });
                let options = PingOptions {
                    count: None,
                    interval: PING_INTERVAL,
                    timeout: PING_TIMEOUT,
                    in_flight: 4,
                    liveness: Liveness::After(PING_TIMEOUT),
                    ..PingOptions::default()
                };
                let mut run = PingRun::new(&options);
                let mut on_event = |event: &PingEvent| match event {
                    PingEvent::Pong { rtt, .. } => {
                        report(MonitorEvent::Sent);
                        report(MonitorEvent::Pong {
                            rtt_ms: rtt.as_secs_f64() * 1000.0,
                        });
                    }
                    PingEvent::Lost { .. } => {
                        report(MonitorEvent::Sent);
                        report(MonitorEvent::Lost);
                    }
                    PingEvent::Sent { .. }
                    | PingEvent::Duplicate { .. }
                    | PingEvent::Late { .. } => {}
                };
                let result = session.ping(&mut run, &stop, &mut on_event).await;
                match result {
                    Ok(()) => {
                        session.close().await;
                        return;
                    }
                    Err(error) => {
                        // Pings the lost session never answered count as lost:
                        // each session starts a fresh run.
                        run.abandon(&mut on_event);
                        report(failure(&error));
                    }
                }
            }
            Err(error) => report(failure(&error)),
        }
        let wait = backoff.next_delay(&mut rand::rng());
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// How an ended session is reported: a drain is a state, the rest a failure.
fn failure(error: &ClientError) -> MonitorEvent {
    match error {
        ClientError::Draining { .. } => MonitorEvent::Draining,
        other => MonitorEvent::Failed {
            reason: other.to_string(),
        },
    }
}
