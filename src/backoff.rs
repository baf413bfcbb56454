//! Exponential back-off, for every retry loop in the crate: reconnecting a
//! client or the dashboard's monitor ([`Backoff`], gRPC's schedule), ejecting
//! a failing server from the ranking, retrying a DNS registration, pausing
//! after failed accepts (each a [`Schedule`] constant beside its loop). Pure:
//! the caller counts failures and brings the randomness.

use std::time::Duration;

use rand::Rng;

/// How long to wait after failures in a row: `first` after one, growing by
/// `factor` per further failure, never more than `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// The wait after the first failure.
    pub first: Duration,
    /// Growth per further failure.
    pub factor: f64,
    /// The longest wait.
    pub max: Duration,
}

impl Schedule {
    /// The wait after `failures` failures in a row (none after none).
    pub fn after(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        // The exponent is bounded so that the product stays finite; the cap
        // is reached long before.
        let growth = self.factor.powi((failures - 1).min(1000) as i32);
        Duration::from_secs_f64((self.first.as_secs_f64() * growth).min(self.max.as_secs_f64()))
    }

    /// [`after`](Self::after), spread by up to ±`jitter` of itself (a
    /// fraction), and still no more than `max`.
    pub fn jittered(&self, failures: u32, jitter: f64, rng: &mut impl Rng) -> Duration {
        let wait = self.after(failures).as_secs_f64() * (1.0 + rng.random_range(-jitter..=jitter));
        Duration::from_secs_f64(wait.min(self.max.as_secs_f64()))
    }
}

/// Reconnection after gRPC's connection back-off: 1 s after the first failed
/// retry (long enough not to hammer a restarting server, short enough to see
/// it back), ×1.6 per failure (gRPC's), at most 30 s (gRPC allows 120 s; a
/// ping tool whose user is watching should not go quiet for longer).
pub const RECONNECT: Schedule = Schedule {
    first: Duration::from_secs(1),
    factor: 1.6,
    max: Duration::from_secs(30),
};

/// Randomness of a reconnection wait, ±20 %, so that many clients that lost
/// the same server do not retry in lock-step.
pub const RECONNECT_JITTER: f64 = 0.2;

/// One sequence of reconnection attempts: the first retry after a session
/// that worked is immediate (the server may just have moved), then
/// [`RECONNECT`] with [`RECONNECT_JITTER`].
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// A fresh sequence: the next attempt is immediate.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long to wait before the next attempt.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let failures = self.failures;
        self.failures = self.failures.saturating_add(1);
        RECONNECT.jittered(failures, RECONNECT_JITTER, rng)
    }

    /// A session worked: the next loss starts over with an immediate retry.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn a_schedule_grows_by_its_factor_up_to_its_cap() {
        let doubling = Schedule {
            first: Duration::from_millis(10),
            factor: 2.0,
            max: Duration::from_secs(1),
        };
        let waits: Vec<Duration> = (0..10).map(|n| doubling.after(n)).collect();
        assert_eq!(
            waits[..5],
            [0, 10, 20, 40, 80].map(Duration::from_millis),
            "{waits:?}"
        );
        assert_eq!(waits[9], Duration::from_secs(1));
        assert_eq!(doubling.after(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn immediate_then_grpc_schedule_within_jitter() {
        let mut rng = StdRng::seed_from_u64(9);
        let mut b = Backoff::new();
        assert_eq!(b.next_delay(&mut rng), Duration::ZERO);
        for expected in [1.0, 1.6, 2.56, 4.096] {
            let d = b.next_delay(&mut rng).as_secs_f64();
            assert!(
                (expected * 0.8..=expected * 1.2).contains(&d),
                "{d} vs {expected}"
            );
        }
    }

    #[test]
    fn capped_and_reset() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut b = Backoff::new();
        for _ in 0..50 {
            assert!(b.next_delay(&mut rng) <= RECONNECT.max);
        }
        b.reset();
        assert_eq!(b.next_delay(&mut rng), Duration::ZERO);
    }
}
