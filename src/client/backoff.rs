//! Reconnection back-off, after gRPC's connection back-off: the first retry
//! after a session that worked is immediate (the server may just have moved),
//! then 1 s, growing ×1.6 per failure with ±20 % jitter, capped at 30 s.

use std::time::Duration;

use rand::Rng;

/// First delay after an immediate retry failed. gRPC uses 1 s: long enough not
/// to hammer a restarting server, short enough to notice it is back.
pub const INITIAL: Duration = Duration::from_secs(1);
/// Growth per failed attempt (gRPC's 1.6).
pub const MULTIPLIER: f64 = 1.6;
/// Randomness, ±20 %, so that many clients do not retry in lock-step.
pub const JITTER: f64 = 0.2;
/// Longest wait. gRPC allows 120 s; a ping tool whose user is watching should
/// not go quiet for more than half a minute.
pub const MAX: Duration = Duration::from_secs(30);

/// The state of one sequence of reconnection attempts.
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
        if failures == 0 {
            return Duration::ZERO;
        }
        let base = INITIAL.as_secs_f64() * MULTIPLIER.powi(failures as i32 - 1);
        let capped = base.min(MAX.as_secs_f64());
        let jittered = capped * (1.0 + rng.random_range(-JITTER..=JITTER));
        Duration::from_secs_f64(jittered.min(MAX.as_secs_f64()))
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
            assert!(b.next_delay(&mut rng) <= MAX);
        }
        b.reset();
        assert_eq!(b.next_delay(&mut rng), Duration::ZERO);
    }
}
