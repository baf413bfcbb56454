//! Round-trip statistics and the run summary (pure).

use serde::Serialize;
use std::time::Duration;

/// RTT figures of a run, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RttSummary {
    /// Fastest.
    pub min: f64,
    /// Mean.
    pub avg: f64,
    /// Slowest.
    pub max: f64,
    /// Mean deviation as ping(8) reports it: the standard deviation.
    pub mdev: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
}

/// Collected RTT samples.
#[derive(Debug, Default, Clone)]
pub struct RttStats {
    samples_ms: Vec<f64>,
}

impl RttStats {
    /// Records one round trip.
    pub fn record(&mut self, rtt: Duration) {
        self.samples_ms.push(rtt.as_secs_f64() * 1000.0);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples_ms.len()
    }

    /// Whether no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.samples_ms.is_empty()
    }

    /// The figures, or `None` without samples.
    pub fn summary(&self) -> Option<RttSummary> {
        if self.samples_ms.is_empty() {
            return None;
        }
        let mut sorted = self.samples_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len() as f64;
        let avg = sorted.iter().sum::<f64>() / n;
        let mean_sq = sorted.iter().map(|x| x * x).sum::<f64>() / n;
        Some(RttSummary {
            min: sorted[0],
            avg,
            max: sorted[sorted.len() - 1],
            mdev: (mean_sq - avg * avg).max(0.0).sqrt(),
            p50: nearest_rank(&sorted, 50.0),
            p99: nearest_rank(&sorted, 99.0),
        })
    }
}

/// The nearest-rank percentile of sorted samples.
fn nearest_rank(sorted: &[f64], percentile: f64) -> f64 {
    let rank = ((percentile / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The outcome of a ping run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PingSummary {
    /// Pings sent.
    pub transmitted: u64,
    /// Distinct pings answered in time.
    pub received: u64,
    /// Pings never answered in time.
    pub lost: u64,
    /// Extra answers to already-answered pings (dropped).
    pub duplicates: u64,
    /// Answers that came after their ping was counted lost.
    pub late: u64,
    /// Sessions re-established after a loss.
    pub reconnects: u64,
    /// Reconnections that landed on another server.
    pub failovers: u64,
    /// Pings sent on two sessions at once (while the first was suspect).
    pub hedged: u64,
    /// The longest the application waited for a pong while pings were
    /// unanswered, in milliseconds.
    pub longest_outage_ms: f64,
    /// RTT figures, absent when nothing was received.
    pub rtt_ms: Option<RttSummary>,
    /// Wall-clock duration of the run.
    pub elapsed_ms: f64,
}

impl PingSummary {
    /// Lost share of transmitted pings, in percent.
    pub fn loss_percent(&self) -> f64 {
        if self.transmitted == 0 {
            0.0
        } else {
            self.lost as f64 * 100.0 / self.transmitted as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(ms: &[f64]) -> RttStats {
        let mut s = RttStats::default();
        for &m in ms {
            s.record(Duration::from_secs_f64(m / 1000.0));
        }
        s
    }

    #[test]
    fn summary_of_known_samples() {
        let s = stats(&[1.0, 2.0, 3.0, 4.0]).summary().unwrap();
        assert!((s.min - 1.0).abs() < 1e-9);
        assert!((s.max - 4.0).abs() < 1e-9);
        assert!((s.avg - 2.5).abs() < 1e-9);
        // population standard deviation of 1..4 = sqrt(1.25)
        assert!((s.mdev - 1.25f64.sqrt()).abs() < 1e-9);
        assert!((s.p50 - 2.0).abs() < 1e-9);
        assert!((s.p99 - 4.0).abs() < 1e-9);
    }

    #[test]
    fn p99_of_a_hundred_samples_is_the_99th() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = stats(&samples).summary().unwrap();
        assert!((s.p99 - 99.0).abs() < 1e-9);
        assert!((s.p50 - 50.0).abs() < 1e-9);
    }

    #[test]
    fn no_samples_no_summary() {
        assert_eq!(RttStats::default().summary(), None);
    }

    #[test]
    fn loss_percent() {
        let s = PingSummary {
            transmitted: 4,
            received: 3,
            lost: 1,
            duplicates: 0,
            late: 0,
            reconnects: 0,
            failovers: 0,
            hedged: 0,
            longest_outage_ms: 0.0,
            rtt_ms: None,
            elapsed_ms: 0.0,
        };
        assert!((s.loss_percent() - 25.0).abs() < 1e-9);
    }
}
