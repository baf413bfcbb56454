//! Round-trip figures shared by the benchmarks that time pingpong sessions.

use std::time::Duration;

use pingpong::client::{Connector, PingEvent, PingOptions, PingRun};
use tokio_util::sync::CancellationToken;

/// The median of `v`.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The `p`th percentile (nearest rank) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// RTTs in µs of `count` sequential pings (one in flight) on one new session
/// to `url`; every ping must be answered.
pub async fn sequential_rtts_us(connector: &Connector, url: &str, count: u64) -> Vec<f64> {
    let mut session = connector.open(url).await.expect("pingpong session setup");
    let options = PingOptions {
        count: Some(count),
        interval: Duration::ZERO,
        in_flight: 1,
        ..PingOptions::default()
    };
    let mut out = Vec::with_capacity(count as usize);
    let mut run = PingRun::new(&options);
    let result = session
        .ping(&mut run, &CancellationToken::new(), |event| {
            if let PingEvent::Pong { rtt, .. } = event {
                out.push(rtt.as_secs_f64() * 1e6);
            }
        })
        .await;
    assert!(result.is_ok() && run.summary().lost == 0, "{result:?}");
    session.close().await;
    out
}
