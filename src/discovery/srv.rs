//! RFC 2782 target selection, pure: lowest priority first, then a weighted random
//! choice among equal priorities.
//!
//! The RFC's own recipe draws from the inclusive range `0..=sum`, which gives
//! zero-weight records a chance of being picked first (and skews the rest by one
//! part in `sum + 1`). Here a record is picked with probability exactly
//! `weight / sum`; zero-weight records are picked only when no weighted record
//! is left, uniformly among themselves.

use rand::Rng;

/// What SRV says about a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SrvInfo {
    /// Lower is preferred.
    pub priority: u16,
    /// Relative share among equal priorities.
    pub weight: u16,
}

/// Picks one index among `items` per RFC 2782, or `None` if empty.
pub fn pick<T>(items: &[T], info: impl Fn(&T) -> SrvInfo, rng: &mut impl Rng) -> Option<usize> {
    let best = items.iter().map(|i| info(i).priority).min()?;
    let tier: Vec<usize> = (0..items.len())
        .filter(|&i| info(&items[i]).priority == best)
        .collect();
    let total: u32 = tier
        .iter()
        .map(|&i| u32::from(info(&items[i]).weight))
        .sum();
    if total == 0 {
        return Some(tier[rng.random_range(0..tier.len())]);
    }
    let mut point = rng.random_range(0..total);
    for &i in &tier {
        let weight = u32::from(info(&items[i]).weight);
        if point < weight {
            return Some(i);
        }
        point -= weight;
    }
    unreachable!("point < total")
}

/// The full RFC 2782 order of `items`: what a client tries first, second, ...
///
/// ```
/// use pingpong::discovery::srv::{order, SrvInfo};
///
/// let records = [
///     ("backup", SrvInfo { priority: 10, weight: 100 }),
///     ("a", SrvInfo { priority: 0, weight: 60 }),
///     ("b", SrvInfo { priority: 0, weight: 40 }),
/// ];
/// let tried = order(&records, |r| r.1, &mut rand::rng());
/// assert_eq!(tried[2].0, "backup"); // a and b first, in weighted random order
/// ```
pub fn order<T: Clone>(items: &[T], info: impl Fn(&T) -> SrvInfo, rng: &mut impl Rng) -> Vec<T> {
    let mut left: Vec<T> = items.to_vec();
    let mut out = Vec::with_capacity(left.len());
    while let Some(i) = pick(&left, &info, rng) {
        out.push(left.remove(i));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn srv(priority: u16, weight: u16) -> SrvInfo {
        SrvInfo { priority, weight }
    }

    #[test]
    fn lower_priority_always_comes_first() {
        let items = [srv(10, 100), srv(0, 1), srv(5, 50), srv(0, 0)];
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..100 {
            let ordered = order(&items, |s| *s, &mut rng);
            let priorities: Vec<u16> = ordered.iter().map(|s| s.priority).collect();
            assert_eq!(priorities, vec![0, 0, 5, 10]);
            // A weighted record always beats a zero-weight one of equal priority.
            assert_eq!(ordered[0], srv(0, 1));
        }
    }

    #[test]
    fn first_choice_follows_the_weights() {
        // Deterministic (seeded), so it cannot flake; 200,000 draws put the
        // expected error of each share near 0.1 %, far inside the 1 % tolerance.
        let items = [srv(0, 10), srv(0, 20), srv(0, 70)];
        let mut rng = StdRng::seed_from_u64(2782);
        let draws = 200_000;
        let mut counts = [0u32; 3];
        for _ in 0..draws {
            counts[pick(&items, |s| *s, &mut rng).unwrap()] += 1;
        }
        for (count, want) in counts.iter().zip([0.10, 0.20, 0.70]) {
            let share = f64::from(*count) / f64::from(draws);
            assert!(
                (share - want).abs() < 0.01,
                "share {share} vs {want}: {counts:?}"
            );
        }
    }

    #[test]
    fn zero_weights_share_uniformly_and_are_never_starved() {
        let items = [srv(0, 0), srv(0, 0)];
        let mut rng = StdRng::seed_from_u64(3);
        let mut counts = [0u32; 2];
        for _ in 0..10_000 {
            counts[pick(&items, |s| *s, &mut rng).unwrap()] += 1;
        }
        assert!(
            counts.iter().all(|&c| (4_500..5_500).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn kubernetes_equal_weights_spread_evenly() {
        // CoreDNS gives each of N ready pods weight floor(100 / N), priority 0.
        let items = [srv(0, 33), srv(0, 33), srv(0, 33)];
        let mut rng = StdRng::seed_from_u64(5);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[pick(&items, |s| *s, &mut rng).unwrap()] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn empty_picks_nothing() {
        let items: [SrvInfo; 0] = [];
        assert_eq!(pick(&items, |s| *s, &mut StdRng::seed_from_u64(0)), None);
    }
}
