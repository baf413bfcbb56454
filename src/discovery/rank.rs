//! Health ranking, pure and deterministic given its random source.
//!
//! Order of preference (docs/recovery.md): serving (not draining) → not ejected
//! → lowest SRV priority → healthier (fewer recent failures, then a clearly
//! lower RTT) → lower advertised load → RFC 2782 weighted random.
//!
//! Ejection follows Envoy's and gRPC's outlier detection: a candidate whose
//! connection or session failed is skipped for a while, longer at each
//! consecutive failure, and never every candidate at once (the one whose
//! ejection ends first stays available).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng;

use super::set::is_usable;
use super::srv::{self, SrvInfo};
use super::Candidate;
use crate::backoff::Schedule;

/// How long a failing server is ejected: a second after the first failure
/// (about what a server restart or one step of a rollout takes), doubled with
/// each consecutive one, at most 30 s (a server that keeps failing is retried
/// twice a minute, matching the reconnection back-off's cap).
pub const EJECTION: Schedule = Schedule {
    first: Duration::from_secs(1),
    factor: 2.0,
    max: Duration::from_secs(30),
};
/// Weight of a new RTT sample in the moving average (the rest is history).
/// 0.2 follows a change within a handful of samples without jumping at one
/// outlier.
pub const EWMA_ALPHA: f64 = 0.2;
/// RTTs closer than this are "the same": only a clearly faster server is
/// preferred (iroh switches paths only for at least 5 ms).
pub const RTT_BUCKET: Duration = Duration::from_millis(5);
/// Loads (per mille) closer than this are the same.
pub const LOAD_BUCKET: u16 = 100;

/// What the client has seen of one candidate.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// Moving average of handshake and ping round trips.
    pub rtt_ewma: Option<Duration>,
    /// Consecutive failures (reset by a success).
    pub failures: u32,
    /// Skipped until then.
    pub ejected_until: Option<Instant>,
}

/// Most candidates whose health is kept: as many as a client keeps candidates
/// ([`MAX_CANDIDATES`](crate::discovery::set::MAX_CANDIDATES)). Past it, a new
/// one replaces an entry that is not ejected (a flood of advertisers cannot grow
/// the table, nor wipe what is known of failing servers).
pub const MAX_TRACKED: usize = 4096;

/// Health of every candidate seen, by key.
#[derive(Debug, Default)]
pub struct HealthTable {
    by_key: HashMap<String, Health>,
}

impl HealthTable {
    /// The entry of `key`, made room for if the table is full.
    fn entry(&mut self, key: &str, now: Instant) -> &mut Health {
        if self.by_key.len() >= MAX_TRACKED && !self.by_key.contains_key(key) {
            let spare = self
                .by_key
                .iter()
                .find(|(_, h)| h.ejected_until.is_none_or(|until| until <= now))
                .or_else(|| self.by_key.iter().min_by_key(|(_, h)| h.ejected_until))
                .map(|(k, _)| k.clone());
            if let Some(spare) = spare {
                self.by_key.remove(&spare);
            }
        }
        self.by_key.entry(key.to_string()).or_default()
    }

    /// Records a round trip (handshake or ping) to `key`; a success clears
    /// failures and ejection.
    pub fn record_rtt(&mut self, key: &str, rtt: Duration) {
        let health = self.entry(key, Instant::now());
        health.rtt_ewma = Some(match health.rtt_ewma {
            None => rtt,
            Some(old) => old.mul_f64(1.0 - EWMA_ALPHA) + rtt.mul_f64(EWMA_ALPHA),
        });
        health.failures = 0;
        health.ejected_until = None;
    }

    /// Records a failure of `key` at `now`; returns how long it is ejected.
    pub fn record_failure(&mut self, key: &str, now: Instant) -> Duration {
        let health = self.entry(key, now);
        health.failures = health.failures.saturating_add(1);
        let time = EJECTION.after(health.failures);
        health.ejected_until = Some(now + time);
        time
    }

    /// What is known of `key`.
    pub fn get(&self, key: &str) -> Option<&Health> {
        self.by_key.get(key)
    }

    fn ejected(&self, key: &str, now: Instant) -> bool {
        self.by_key
            .get(key)
            .and_then(|h| h.ejected_until)
            .is_some_and(|until| until > now)
    }

    /// Picks the best usable candidate not `excluded`, or `None`.
    pub fn pick<'a>(
        &self,
        candidates: &'a [Candidate],
        excluded: impl Fn(&Candidate) -> bool,
        now: Instant,
        rng: &mut impl Rng,
    ) -> Option<&'a Candidate> {
        let usable: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| is_usable(c) && !excluded(c))
            .collect();
        let healthy: Vec<&Candidate> = usable
            .iter()
            .copied()
            .filter(|c| !self.ejected(&c.key, now))
            .collect();
        if healthy.is_empty() {
            // Never eject everything: the one whose ejection ends first.
            return usable
                .into_iter()
                .min_by_key(|c| self.by_key.get(&c.key).and_then(|h| h.ejected_until));
        }
        // Lowest SRV priority, then the best health and load tier within it.
        let info = |c: &&Candidate| {
            c.srv.unwrap_or(SrvInfo {
                priority: 0,
                weight: 1,
            })
        };
        let best_priority = healthy.iter().map(|c| info(c).priority).min()?;
        let tier_of = |c: &&Candidate| {
            let health = self.by_key.get(&c.key);
            let failures = health.map_or(0, |h| h.failures);
            // Unknown RTT counts as the best bucket: new servers get a chance.
            let rtt = health
                .and_then(|h| h.rtt_ewma)
                .map_or(0, |r| r.as_micros() / RTT_BUCKET.as_micros());
            let load = c.txt.as_ref().and_then(|t| t.load).unwrap_or(0) / LOAD_BUCKET;
            (failures, rtt, load)
        };
        let same_priority: Vec<&Candidate> = healthy
            .into_iter()
            .filter(|c| info(c).priority == best_priority)
            .collect();
        let best_tier = same_priority.iter().map(tier_of).min()?;
        let tier: Vec<&Candidate> = same_priority
            .into_iter()
            .filter(|c| tier_of(c) == best_tier)
            .collect();
        srv::pick(&tier, info, rng).map(|i| tier[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::{ServerTxt, Source};
    use crate::proto::ServerState;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn candidate(key: &str, priority: u16, load: Option<u16>) -> Candidate {
        Candidate {
            source: Source::Dns,
            txt: Some(ServerTxt {
                load,
                ..ServerTxt::for_test(ServerState::Serving)
            }),
            srv: Some(SrvInfo {
                priority,
                weight: 10,
            }),
            ..Candidate::for_test(key)
        }
    }

    fn picks(table: &HealthTable, cands: &[Candidate], now: Instant) -> Vec<String> {
        let mut rng = StdRng::seed_from_u64(4);
        (0..50)
            .map(|_| {
                table
                    .pick(cands, |_| false, now, &mut rng)
                    .unwrap()
                    .key
                    .clone()
            })
            .collect()
    }

    #[test]
    fn ejection_grows_and_is_skipped_but_never_empties_the_list() {
        let now = Instant::now();
        let mut t = HealthTable::default();
        assert_eq!(t.record_failure("a", now), Duration::from_secs(1));
        assert_eq!(t.record_failure("a", now), Duration::from_secs(2));
        assert_eq!(t.record_failure("a", now), Duration::from_secs(4));
        for _ in 0..10 {
            t.record_failure("a", now);
        }
        assert_eq!(t.get("a").unwrap().ejected_until, Some(now + EJECTION.max));
        let cands = [candidate("a", 0, None), candidate("b", 0, None)];
        assert!(picks(&t, &cands, now).iter().all(|k| k == "b"));
        // Both ejected: the one that comes back first is still offered.
        t.record_failure("b", now);
        assert!(picks(&t, &cands, now).iter().all(|k| k == "b"));
        // After the ejection, a success clears the record.
        t.record_rtt("a", Duration::from_millis(1));
        assert_eq!(t.get("a").unwrap().failures, 0);
    }

    #[test]
    fn priority_beats_health_and_health_beats_load() {
        let now = Instant::now();
        let mut t = HealthTable::default();
        let cands = [
            candidate("slow-primary", 0, Some(900)),
            candidate("fast-backup", 10, Some(0)),
        ];
        t.record_rtt("slow-primary", Duration::from_millis(80));
        t.record_rtt("fast-backup", Duration::from_millis(1));
        assert!(picks(&t, &cands, now).iter().all(|k| k == "slow-primary"));

        let cands = [
            candidate("busy-fast", 0, Some(900)),
            candidate("idle-slow", 0, Some(0)),
        ];
        t.record_rtt("busy-fast", Duration::from_millis(2));
        t.record_rtt("idle-slow", Duration::from_millis(40));
        assert!(picks(&t, &cands, now).iter().all(|k| k == "busy-fast"));
    }

    #[test]
    fn a_clearly_lower_rtt_wins_but_small_differences_do_not() {
        let now = Instant::now();
        let mut t = HealthTable::default();
        let cands = [candidate("a", 0, None), candidate("b", 0, None)];
        t.record_rtt("a", Duration::from_micros(1_000));
        t.record_rtt("b", Duration::from_micros(3_000));
        // Same 5 ms bucket: both chosen, by weight.
        let p = picks(&t, &cands, now);
        assert!(
            p.iter().any(|k| k == "a") && p.iter().any(|k| k == "b"),
            "{p:?}"
        );
        t.record_rtt("b", Duration::from_millis(60));
        t.record_rtt("b", Duration::from_millis(60));
        assert!(picks(&t, &cands, now).iter().all(|k| k == "a"));
    }

    #[test]
    fn lower_load_wins_when_health_is_equal() {
        let now = Instant::now();
        let t = HealthTable::default();
        let cands = [
            candidate("busy", 0, Some(800)),
            candidate("idle", 0, Some(100)),
        ];
        assert!(picks(&t, &cands, now).iter().all(|k| k == "idle"));
    }

    #[test]
    fn ewma_moves_a_fifth_of_the_way() {
        let mut t = HealthTable::default();
        t.record_rtt("a", Duration::from_millis(10));
        t.record_rtt("a", Duration::from_millis(20));
        let ewma = t.get("a").unwrap().rtt_ewma.unwrap();
        assert!((ewma.as_secs_f64() - 0.012).abs() < 1e-6, "{ewma:?}");
    }

    #[test]
    fn a_flood_of_keys_keeps_the_table_bounded_and_the_ejected() {
        let now = Instant::now();
        let mut table = HealthTable::default();
        table.record_failure("failing", now);
        for i in 0..MAX_TRACKED + 100 {
            table.record_rtt(&format!("flood-{i}"), Duration::from_millis(1));
        }
        assert_eq!(table.by_key.len(), MAX_TRACKED);
        assert!(table.ejected("failing", now));
    }
}
