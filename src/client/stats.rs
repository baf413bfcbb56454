//! Round-trip statistics and the run summary (pure).

use hdrhistogram::Histogram;
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
    /// Median (nearest rank, within 0.1 %).
    pub p50: f64,
    /// 99th percentile (nearest rank, within 0.1 %).
    pub p99: f64,
}

/// Significant digits the percentiles keep: within 0.1 % of the exact value.
const SIGNIFICANT_DIGITS: u8 = 3;

/// RTT samples summarised in memory that does not grow with their number (a
/// `client -c 0` or a dashboard runs for weeks): min, max, mean and deviation
/// exactly (Welford's running mean and variance), the percentiles from an HDR
/// histogram of nanoseconds (its size follows the largest RTT seen, not the
/// number of samples: 100–200 KiB for round trips up to a second).
#[derive(Debug, Clone)]
pub struct RttStats {
    count: u64,
    mean_ms: f64,
    m2: f64,
    min_ms: f64,
    max_ms: f64,
    histogram: Histogram<u64>,
}

impl Default for RttStats {
    fn default() -> Self {
        let mut histogram =
            Histogram::new(SIGNIFICANT_DIGITS).expect("3 significant digits are supported");
        histogram.auto(true);
        Self {
            count: 0,
            mean_ms: 0.0,
            m2: 0.0,
            min_ms: f64::INFINITY,
            max_ms: 0.0,
            histogram,
        }
    }
}

impl RttStats {
    /// Records one round trip.
    pub fn record(&mut self, rtt: Duration) {
        let ms = rtt.as_secs_f64() * 1000.0;
        self.count += 1;
        let delta = ms - self.mean_ms;
        self.mean_ms += delta / self.count as f64;
        self.m2 += delta * (ms - self.mean_ms);
        self.min_ms = self.min_ms.min(ms);
        self.max_ms = self.max_ms.max(ms);
        let nanos = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX).max(1);
        // Auto-resizing: only a value beyond u64 could fail, and that is clamped.
        let _ = self.histogram.record(nanos);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        usize::try_from(self.count).unwrap_or(usize::MAX)
    }

    /// Whether no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The figures, or `None` without samples.
    pub fn summary(&self) -> Option<RttSummary> {
        if self.count == 0 {
            return None;
        }
        let percentile = |q: f64| self.histogram.value_at_quantile(q) as f64 / 1e6;
        Some(RttSummary {
            min: self.min_ms,
            avg: self.mean_ms,
            max: self.max_ms,
            mdev: (self.m2 / self.count as f64).max(0.0).sqrt(),
            // The histogram's bucket bound: clamped to the exact extremes.
            p50: percentile(0.5).clamp(self.min_ms, self.max_ms),
            p99: percentile(0.99).clamp(self.min_ms, self.max_ms),
        })
    }
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

    /// Within 0.1 % of `want`.
    fn close(got: f64, want: f64) -> bool {
        (got - want).abs() <= want.abs() * 1e-3
    }

    #[test]
    fn summary_of_known_samples() {
        let s = stats(&[1.0, 2.0, 3.0, 4.0]).summary().unwrap();
        assert!((s.min - 1.0).abs() < 1e-9);
        assert!((s.max - 4.0).abs() < 1e-9);
        assert!((s.avg - 2.5).abs() < 1e-9);
        // population standard deviation of 1..4 = sqrt(1.25)
        assert!((s.mdev - 1.25f64.sqrt()).abs() < 1e-9);
        assert!(close(s.p50, 2.0), "{}", s.p50);
        assert!(close(s.p99, 4.0), "{}", s.p99);
    }

    #[test]
    fn p99_of_a_hundred_samples_is_the_99th() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = stats(&samples).summary().unwrap();
        assert!(close(s.p99, 99.0), "{}", s.p99);
        assert!(close(s.p50, 50.0), "{}", s.p50);
    }

    #[test]
    fn a_million_samples_agree_with_the_exact_figures_in_constant_memory() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(22);
        let mut stats = RttStats::default();
        let mut exact = Vec::with_capacity(1_000_000);
        let size_after_warmup = |stats: &RttStats| stats.histogram.distinct_values();
        let mut sizes = Vec::new();
        for i in 0..1_000_000u32 {
            // LAN-like: tens of microseconds, with a tail to tens of ms.
            let ms = if rng.random_bool(0.01) {
                rng.random_range(1.0..50.0)
            } else {
                rng.random_range(0.03..0.5)
            };
            let rtt = Duration::from_nanos((ms * 1e6) as u64);
            stats.record(rtt);
            exact.push(rtt.as_secs_f64() * 1000.0);
            if i == 10_000 || i == 999_999 {
                sizes.push(size_after_warmup(&stats));
            }
        }
        // The histogram does not grow with the number of samples.
        assert_eq!(sizes[0], sizes[1]);
        exact.sort_by(f64::total_cmp);
        let n = exact.len() as f64;
        let mean = exact.iter().sum::<f64>() / n;
        let var = exact.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        let s = stats.summary().unwrap();
        assert_eq!(s.min, exact[0]);
        assert_eq!(s.max, exact[exact.len() - 1]);
        assert!((s.avg - mean).abs() < 1e-9 * mean, "{} vs {mean}", s.avg);
        assert!(
            (s.mdev - var.sqrt()).abs() < 1e-6 * var.sqrt(),
            "{} vs {}",
            s.mdev,
            var.sqrt()
        );
        assert!(
            close(s.p50, nearest_rank(&exact, 50.0)),
            "{} vs {}",
            s.p50,
            nearest_rank(&exact, 50.0)
        );
        assert!(
            close(s.p99, nearest_rank(&exact, 99.0)),
            "{} vs {}",
            s.p99,
            nearest_rank(&exact, 99.0)
        );
    }

    /// The nearest-rank percentile of sorted samples (the exact reference).
    fn nearest_rank(sorted: &[f64], percentile: f64) -> f64 {
        let rank = ((percentile / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
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
