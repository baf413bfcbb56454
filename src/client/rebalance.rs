//! Rebalancing, so that servers that join or come back get their share of the
//! clients (without it, a rolling update ends with the pod replaced last
//! holding nobody; docs/kubernetes.md#rolling-update):
//!
//! - **home**: a client that a server drained (`Drain`: a restart, a rollout)
//!   goes back to that server once it answers again (tried on the
//!   [`HOME_RETRY`] schedule, at the addresses discovery lists then) or as
//!   soon as discovery lists it again: after a rollout every client is about
//!   where it was;
//! - **newcomers**: when a server never listed before in this run joins
//!   discovery (a replica was added), a client whose session works moves to
//!   it with probability 1/N, N the servers it now knows: the newcomer takes
//!   about 1/N of the clients, and no client moves twice for one join. A
//!   server that leaves and comes back (a restart) draws nobody: its own
//!   clients come home.
//!
//! A move is make-before-break: a session to the new server first, the
//! unanswered pings resent there, then the old one closed (see
//! `failover`). This module holds the decisions, pure.

use std::time::Duration;

use rand::Rng;

/// A server counts as joining only when it appears this long after the
/// session started. Discovery's first answers (mDNS responses arriving one by
/// one, the rest of an SRV answer) land within this window, and a client that
/// has just connected should not move at once because its first pick won the
/// race. A pod returning during a rollout takes seconds, well past it.
pub const SETTLE: Duration = Duration::from_secs(1);

/// When a drained client tries its home server again, after the drain: a
/// restarted server is usually back within seconds (a pod's replacement, a
/// service restart); one that stays away is retried less and less often, and
/// after the last try (about eight minutes) the client stays where it is.
pub const HOME_RETRY: [Duration; 10] = [
    Duration::from_secs(2),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(15),
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(90),
    Duration::from_secs(120),
    Duration::from_secs(150),
];

/// Whether to move to a server that just joined, `servers` being how many the
/// client now knows (the newcomer included): true with probability 1/servers.
pub fn moves_to_newcomer(servers: usize, rng: &mut impl Rng) -> bool {
    servers > 1 && rng.random_range(0..servers) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn a_newcomer_draws_one_client_in_n() {
        let mut rng = StdRng::seed_from_u64(7);
        for servers in [2usize, 3, 5] {
            let draws = 60_000;
            let moved = (0..draws)
                .filter(|_| moves_to_newcomer(servers, &mut rng))
                .count();
            let expected = draws / servers;
            // Binomial spread: well within 5 % of the mean at this size.
            assert!(
                moved.abs_diff(expected) < expected / 20,
                "{servers} servers: {moved} of {draws} moved, expected about {expected}"
            );
        }
    }

    #[test]
    fn a_lone_server_never_moves_anyone() {
        let mut rng = StdRng::seed_from_u64(1);
        assert!(!(0..1000).any(|_| moves_to_newcomer(1, &mut rng)));
        assert!(!moves_to_newcomer(0, &mut rng));
    }

    /// A StatefulSet rolling update of 3 pods (highest ordinal first) under 30
    /// clients, the way the client behaves: a drained client picks another
    /// ready pod at random and, with `home`, goes back once its pod returns.
    fn rolling_update(rng: &mut StdRng, home: bool) -> ([usize; 3], [usize; 3]) {
        let count = |on: &[usize]| {
            let mut spread = [0; 3];
            for server in on {
                spread[*server] += 1;
            }
            spread
        };
        let mut on: Vec<usize> = (0..30).map(|_| rng.random_range(0..3)).collect();
        let before = count(&on);
        for pod in [2, 1, 0] {
            let drained: Vec<usize> = (0..on.len()).filter(|c| on[*c] == pod).collect();
            for &client in &drained {
                let others: Vec<usize> = (0..3).filter(|p| *p != pod).collect();
                on[client] = others[rng.random_range(0..others.len())];
            }
            if home {
                for &client in &drained {
                    on[client] = pod;
                }
            }
        }
        (before, count(&on))
    }

    #[test]
    fn a_rolling_update_leaves_every_pod_its_share_of_the_clients() {
        // Drained clients go home: the spread after the rollout is the one
        // before it, an RFC 2782 draw, where every pod holds 1 to 22 of 30 but
        // about once in 40,000 (the bound tests/kubernetes_rollout.rs checks
        // with real processes). Without it the pod replaced last ends empty.
        let mut rng = StdRng::seed_from_u64(2026);
        let runs = 20_000;
        let mut outside = 0;
        for _ in 0..runs {
            let (before, after) = rolling_update(&mut rng, true);
            assert_eq!(before, after);
            outside += usize::from(after.iter().any(|n| !(1..=22).contains(n)));
        }
        assert!(
            outside * 2_000 < runs,
            "{outside} of {runs} rollouts outside 1..=22"
        );
        assert!((0..100).all(|_| rolling_update(&mut rng, false).1[0] == 0));
    }
}
