//! The failover loop's decisions, pure: what to open beside the running
//! sessions (an urgent standby for a suspect primary, a warm one kept ready,
//! a watch for servers that join), what to do with a standby once it is
//! opened or lost, and when the next warm attempt may start. No sockets, no
//! clock of its own (the caller passes `now`), its randomness given: tested
//! in virtual time below; `failover.rs` drives it (the model is
//! `server/session.rs` beside `server/handler.rs`).

use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use super::policy::Recovery;
use crate::backoff::Backoff;
use crate::client::rebalance;

/// What to open beside the running sessions this turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Open {
    /// A standby session: `urgent` for a suspect primary (at once), else a
    /// warm one (after `delay`).
    Standby {
        /// Whether the primary is suspect.
        urgent: bool,
        /// How long to wait before the attempt.
        delay: Duration,
    },
    /// Nothing to open: watch for a server joining, which draws the run with
    /// probability 1/N once the run settled (`settled_at`).
    Newcomer {
        /// When joining servers start to count.
        settled_at: Instant,
    },
    /// Nothing.
    Nothing,
}

/// What to do with a standby session just opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Opened {
    /// Keep it as the standby; `ready` when it is a warm one to announce.
    Keep {
        /// A warm standby, up before any suspicion.
        ready: bool,
    },
    /// Close it: a warm standby to the primary's own server (under another
    /// name) is of no use.
    Close,
}

/// The state of the failover loop's decisions.
#[derive(Debug)]
pub(super) struct Plan {
    recovery: Recovery,
    /// A standby is wanted now: the primary is suspect.
    urgent: bool,
    /// Servers that join from then on draw the run with probability 1/N.
    settled_at: Instant,
    /// Failed warm attempts, and the wait before the next.
    warm_backoff: Backoff,
    warm_delay: Duration,
    /// Whether the standby being opened is a warm one.
    opening_warm: bool,
}

impl Plan {
    /// The plan of a run recovering as `recovery` says, started at `now`.
    pub(super) fn new(recovery: Recovery, now: Instant) -> Self {
        Self {
            recovery,
            urgent: false,
            settled_at: now + rebalance::SETTLE,
            warm_backoff: Backoff::new(),
            warm_delay: Duration::ZERO,
            opening_warm: false,
        }
    }

    /// What to open, given whether any other server is known and whether a
    /// standby is up.
    pub(super) fn open(&mut self, has_alternatives: bool, has_standby: bool) -> Open {
        let warm = self.recovery.standby > 0 && has_alternatives && !has_standby;
        self.opening_warm = warm && !self.urgent;
        if self.urgent || warm {
            Open::Standby {
                urgent: self.urgent,
                delay: if self.urgent {
                    Duration::ZERO
                } else {
                    self.warm_delay
                },
            }
        } else if self.recovery.rebalance && has_alternatives {
            Open::Newcomer {
                settled_at: self.settled_at,
            }
        } else {
            Open::Nothing
        }
    }

    /// The primary turned suspect: a standby is wanted at once.
    pub(super) fn suspect(&mut self) {
        self.urgent = true;
    }

    /// A standby attempt opened a session; `same_server`: whether it reached
    /// the primary's own server (under another name).
    pub(super) fn standby_opened(&mut self, same_server: bool, rng: &mut impl Rng) -> Opened {
        self.urgent = false;
        if same_server && self.opening_warm {
            self.warm_delay = self.warm_backoff.next_delay(rng);
            return Opened::Close;
        }
        self.warm_backoff.reset();
        self.warm_delay = Duration::ZERO;
        Opened::Keep {
            ready: self.opening_warm,
        }
    }

    /// A standby attempt opened nothing: the next warm attempt backs off.
    pub(super) fn standby_not_opened(&mut self, rng: &mut impl Rng) {
        self.urgent = false;
        self.warm_delay = self.warm_backoff.next_delay(rng);
    }

    /// The standby session failed: the next warm attempt backs off.
    pub(super) fn standby_lost(&mut self, rng: &mut impl Rng) {
        self.warm_delay = self.warm_backoff.next_delay(rng);
    }

    /// The suspect primary answered again; true when the standby goes (no
    /// warm standby is wanted).
    pub(super) fn recovered(&mut self) -> bool {
        self.urgent = false;
        self.recovery.standby == 0
    }

    /// The run moved to a server that joined (or came back) at `now`: joining
    /// servers count again after a settling time.
    pub(super) fn moved(&mut self, now: Instant) {
        self.settled_at = now + rebalance::SETTLE;
    }

    /// The standby took over from a lost primary.
    pub(super) fn switched(&mut self) {
        self.urgent = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn recovery(standby: usize, rebalance: bool) -> Recovery {
        Recovery {
            give_up_after: Duration::from_secs(10),
            standby,
            rebalance,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_suspect_primary_gets_an_urgent_standby_at_once_then_nothing_more() {
        let mut plan = Plan::new(recovery(0, false), Instant::now());
        assert_eq!(plan.open(true, false), Open::Nothing);
        plan.suspect();
        assert_eq!(
            plan.open(true, false),
            Open::Standby {
                urgent: true,
                delay: Duration::ZERO
            }
        );
        let mut rng = StdRng::seed_from_u64(1);
        // A suspect primary takes any session, even to its own server.
        assert_eq!(
            plan.standby_opened(true, &mut rng),
            Opened::Keep { ready: false }
        );
        // Recovered: without --standby the standby goes.
        assert!(plan.recovered());
        assert_eq!(plan.open(true, false), Open::Nothing);
    }

    #[tokio::test(start_paused = true)]
    async fn a_warm_standby_is_kept_ready_and_backs_off_when_it_cannot_be_had() {
        let mut plan = Plan::new(recovery(1, false), Instant::now());
        let mut rng = StdRng::seed_from_u64(7);
        // No other server known: nothing to keep warm.
        assert_eq!(plan.open(false, false), Open::Nothing);
        assert_eq!(
            plan.open(true, false),
            Open::Standby {
                urgent: false,
                delay: Duration::ZERO
            }
        );
        // The attempt reached the primary's own server: closed, and the next
        // attempt waits; every further failure waits longer (gRPC's schedule,
        // the first retry immediate).
        assert_eq!(plan.standby_opened(true, &mut rng), Opened::Close);
        let mut delays = Vec::new();
        for _ in 0..4 {
            let Open::Standby { delay, urgent } = plan.open(true, false) else {
                panic!("a warm standby is still wanted")
            };
            assert!(!urgent);
            delays.push(delay);
            plan.standby_not_opened(&mut rng);
        }
        assert_eq!(delays[0], Duration::ZERO);
        assert!(delays.windows(2).skip(1).all(|w| w[0] < w[1]), "{delays:?}");
        // Up at last: announced as ready, and the schedule starts over.
        plan.open(true, false);
        assert_eq!(
            plan.standby_opened(false, &mut rng),
            Opened::Keep { ready: true }
        );
        assert_eq!(plan.open(true, true), Open::Nothing);
        // Recovering keeps a warm standby.
        assert!(!plan.recovered());
        // Lost later: the next attempt waits again.
        plan.standby_lost(&mut rng);
        plan.standby_lost(&mut rng);
        let Open::Standby { delay, .. } = plan.open(true, false) else {
            panic!("a warm standby is wanted again")
        };
        assert!(delay >= Duration::from_millis(800), "{delay:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn joining_servers_count_after_the_run_settled_and_again_after_a_move() {
        let start = Instant::now();
        let mut plan = Plan::new(recovery(0, true), start);
        assert_eq!(
            plan.open(true, false),
            Open::Newcomer {
                settled_at: start + rebalance::SETTLE
            }
        );
        // Alone: nothing to balance with.
        assert_eq!(plan.open(false, false), Open::Nothing);
        tokio::time::advance(Duration::from_secs(30)).await;
        let moved_at = Instant::now();
        plan.moved(moved_at);
        assert_eq!(
            plan.open(true, false),
            Open::Newcomer {
                settled_at: moved_at + rebalance::SETTLE
            }
        );
        // A suspect primary comes first.
        plan.suspect();
        assert!(matches!(
            plan.open(true, false),
            Open::Standby { urgent: true, .. }
        ));
        plan.switched();
        assert!(matches!(plan.open(true, false), Open::Newcomer { .. }));
    }
}
