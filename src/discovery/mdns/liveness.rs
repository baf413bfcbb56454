//! Which services a browse reconfirms, and why one left: RFC 6762 §10.4
//! (reconfirm a record after a failed connection) and §10.5 (passive
//! observation of failures), sans-IO: what the [`observer`](super::observer)
//! heard and what this process failed to reach come in with the time; the
//! verifications to ask mdns-sd for come out.
//!
//! A reconfirmation asks for the service's SRV record (and its host's
//! addresses) several times over [`RECONFIRM_WINDOW`]; if nothing answers,
//! mdns-sd flushes the record and the browse reports the service gone. Any
//! answer, to anyone's query, ends it: responders multicast their answers, so
//! one answer refreshes every cache on the link.
//!
//! A process that did not fail itself still learns of the failure: it hears
//! the failing process's queries (SRV records are unique, never sent as known
//! answers, so every such query expects an answer at once), and when one goes
//! unanswered for [`ANSWER_WAIT`] it reconfirms too, ending its window where
//! the first unanswered query's would end. So every watcher on the link drops
//! a dead server at about the same time as the process that failed to reach
//! it, about [`RECONFIRM_WINDOW`] after the failure, instead of after the
//! record's 120 s TTL.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::discovery::RemovalReason;

/// How long a reconfirmation lasts before an unanswered record is flushed.
/// It must outlast a link that flaps for 3 s (the server is alive, its answers
/// come once the link is back), plus the time an answer takes: 4 s.
pub const RECONFIRM_WINDOW: Duration = Duration::from_secs(4);

/// When, after a reconfirmation starts, it asks mdns-sd to verify again. Each
/// verification sends one query at once and one a second later, so with these
/// offsets the queries go out at 0, 1, 2 and 3 s into the window: four chances
/// for an answer, which makes a false removal under 10 % packet loss about
/// 0.2⁴ per reconfirmation.
pub const VERIFY_OFFSETS: [Duration; 2] = [Duration::ZERO, Duration::from_secs(2)];

/// How long a query for an SRV record may go unanswered before this process
/// takes it as a hint to reconfirm. Responders answer a query for a unique
/// record at once (RFC 6762 §6); 500 ms leaves room for a loaded host.
pub const ANSWER_WAIT: Duration = Duration::from_millis(500);

/// A query this soon after an answer was seen is not expected to be answered:
/// a responder does not multicast a record again within a second (RFC 6762 §6).
pub const ANSWER_COVERS: Duration = Duration::from_secs(1);

/// How long after a goodbye (a record with TTL 0) a removal is taken as that
/// goodbye: mdns-sd keeps the record one second (RFC 6762 §10.1), then reports
/// the service removed.
pub const GOODBYE_MEMORY: Duration = Duration::from_secs(3);

/// How long after its window ends a removal is still taken as a failed
/// reconfirmation: mdns-sd flushes on its next timer, within milliseconds.
const REMOVAL_SLACK: Duration = Duration::from_secs(1);

/// One reconfirmation under way.
#[derive(Debug, Clone, Copy)]
struct Reconfirm {
    /// When the record is flushed if nothing answers.
    ends: Instant,
    /// When mdns-sd is asked to verify next (an offset of [`VERIFY_OFFSETS`]).
    next: Option<Instant>,
}

/// A verification to ask mdns-sd for: query the service `key` now, and flush it
/// if nothing answers within `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verify {
    /// The service's full name, as the browse spells it.
    pub key: String,
    /// Until the end of the reconfirmation window.
    pub timeout: Duration,
}

/// What the browse knows about the liveness of its services. Callers pass only
/// the keys of services the browse lists, so every map is bounded by that list.
#[derive(Debug, Default)]
pub struct Liveness {
    /// When an answer for the service's SRV record was last heard.
    answered: HashMap<String, Instant>,
    /// When an unanswered query for it was first heard.
    asked: HashMap<String, Instant>,
    /// Reconfirmations under way, and those that ended unanswered.
    reconfirming: HashMap<String, Reconfirm>,
    /// When a goodbye for it was heard.
    goodbye: HashMap<String, Instant>,
}

impl Liveness {
    /// This process failed to reach `key`: reconfirm it from now.
    pub fn failed(&mut self, key: &str, now: Instant) -> Option<Verify> {
        self.start(key, now, now)
    }

    /// Someone on the link asked for `key`'s SRV record.
    pub fn asked(&mut self, key: &str, now: Instant) {
        let covered = self
            .answered
            .get(key)
            .is_some_and(|at| now < *at + ANSWER_COVERS);
        if covered || self.reconfirming.contains_key(key) {
            return;
        }
        self.asked.entry(key.to_string()).or_insert(now);
    }

    /// Someone on the link answered with `key`'s SRV record: it is alive, and
    /// any reconfirmation of it ends.
    pub fn answered(&mut self, key: &str, now: Instant) {
        self.answered.insert(key.to_string(), now);
        self.asked.remove(key);
        self.reconfirming.remove(key);
        self.goodbye.remove(key);
    }

    /// `key`'s responder said goodbye (TTL 0).
    pub fn goodbye(&mut self, key: &str, now: Instant) {
        self.goodbye.insert(key.to_string(), now);
        self.asked.remove(key);
    }

    /// The verifications due by `now`: a query that went unanswered for
    /// [`ANSWER_WAIT`] starts a reconfirmation, and one under way asks again
    /// at its next offset.
    pub fn poll(&mut self, now: Instant) -> Vec<Verify> {
        let due: Vec<(String, Instant)> = self
            .asked
            .iter()
            .filter(|(_, at)| now >= **at + ANSWER_WAIT)
            .map(|(key, at)| (key.clone(), *at))
            .collect();
        let mut out = Vec::new();
        for (key, first_query) in due {
            self.asked.remove(&key);
            out.extend(self.start(&key, first_query, now));
        }
        for (key, reconfirm) in &mut self.reconfirming {
            if let Some(next) = reconfirm.next.filter(|next| now >= *next) {
                reconfirm.next = next_offset(reconfirm.ends, next);
                if now < reconfirm.ends {
                    out.push(Verify {
                        key: key.clone(),
                        timeout: reconfirm.ends - now,
                    });
                }
            }
        }
        out
    }

    /// Why `key` left, if this process knows: a goodbye heard lately, or a
    /// reconfirmation that went unanswered. `None` means its TTL ran out, or
    /// it went with a neighbour's records and may come back.
    pub fn why_gone(&self, key: &str, now: Instant) -> Option<RemovalReason> {
        if self
            .goodbye
            .get(key)
            .is_some_and(|at| now <= *at + GOODBYE_MEMORY)
        {
            return Some(RemovalReason::Goodbye);
        }
        self.reconfirming
            .get(key)
            .filter(|r| now <= r.ends + REMOVAL_SLACK)
            .map(|_| RemovalReason::ReconfirmFailed)
    }

    /// `key` left the browse: nothing about it is kept.
    pub fn forget(&mut self, key: &str) {
        self.answered.remove(key);
        self.asked.remove(key);
        self.reconfirming.remove(key);
        self.goodbye.remove(key);
    }

    /// When [`poll`](Self::poll) next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let asked = self.asked.values().map(|at| *at + ANSWER_WAIT);
        let verifies = self.reconfirming.values().filter_map(|r| r.next);
        asked.chain(verifies).min()
    }

    /// Starts reconfirming `key`, its window counted from `since`; nothing if
    /// a reconfirmation of it is already under way.
    fn start(&mut self, key: &str, since: Instant, now: Instant) -> Option<Verify> {
        if self
            .reconfirming
            .get(key)
            .is_some_and(|r| now < r.ends + REMOVAL_SLACK)
        {
            return None;
        }
        self.asked.remove(key);
        let ends = since + RECONFIRM_WINDOW;
        if now >= ends {
            return None;
        }
        let started = now;
        self.reconfirming.insert(
            key.to_string(),
            Reconfirm {
                ends,
                next: next_offset(ends, started),
            },
        );
        Some(Verify {
            key: key.to_string(),
            timeout: ends - now,
        })
    }
}

/// After a verification at `at`, when the next one is due: the next of
/// [`VERIFY_OFFSETS`] counted from the window's start, if it falls before the
/// window ends.
fn next_offset(ends: Instant, at: Instant) -> Option<Instant> {
    let start = ends - RECONFIRM_WINDOW;
    VERIFY_OFFSETS
        .iter()
        .map(|offset| start + *offset)
        .find(|when| *when > at && *when < ends)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_failure_here_reconfirms_at_once_and_asks_again_within_the_window() {
        let t0 = Instant::now();
        let mut live = Liveness::default();
        let first = live.failed("a", t0).unwrap();
        assert_eq!(first.timeout, RECONFIRM_WINDOW);
        assert_eq!(live.next_deadline(), Some(t0 + VERIFY_OFFSETS[1]));
        assert!(live.poll(t0 + ms(1999)).is_empty());
        let again = live.poll(t0 + VERIFY_OFFSETS[1]);
        assert_eq!(
            again,
            vec![Verify {
                key: "a".into(),
                timeout: RECONFIRM_WINDOW - VERIFY_OFFSETS[1]
            }]
        );
        assert_eq!(live.next_deadline(), None);
        // A second failure while it runs does not start another.
        assert_eq!(live.failed("a", t0 + ms(2500)), None);
        assert_eq!(
            live.why_gone("a", t0 + RECONFIRM_WINDOW),
            Some(RemovalReason::ReconfirmFailed)
        );
    }

    #[test]
    fn an_unanswered_query_heard_starts_a_window_that_ends_with_the_askers() {
        let t0 = Instant::now();
        let mut live = Liveness::default();
        live.asked("a", t0);
        live.asked("a", t0 + ms(300)); // the first one counts
        assert_eq!(live.next_deadline(), Some(t0 + ANSWER_WAIT));
        assert!(live.poll(t0 + ms(499)).is_empty());
        let verify = live.poll(t0 + ANSWER_WAIT);
        assert_eq!(
            verify,
            vec![Verify {
                key: "a".into(),
                timeout: RECONFIRM_WINDOW - ANSWER_WAIT
            }]
        );
        // Its own queries, heard back, start nothing new.
        live.asked("a", t0 + ms(600));
        let later = live.poll(t0 + VERIFY_OFFSETS[1]);
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].timeout, RECONFIRM_WINDOW - VERIFY_OFFSETS[1]);
    }

    #[test]
    fn an_answer_to_anyone_ends_the_suspicion_and_the_reconfirmation() {
        let t0 = Instant::now();
        let mut live = Liveness::default();
        live.asked("a", t0);
        live.answered("a", t0 + ms(20));
        assert!(live.poll(t0 + ANSWER_WAIT).is_empty());
        live.failed("b", t0).unwrap();
        live.answered("b", t0 + ms(1000));
        assert!(live.poll(t0 + VERIFY_OFFSETS[1]).is_empty());
        assert_eq!(live.why_gone("b", t0 + ms(3000)), None);
        assert_eq!(live.next_deadline(), None);
    }

    #[test]
    fn a_query_just_after_an_answer_is_not_expected_to_be_answered() {
        let t0 = Instant::now();
        let mut live = Liveness::default();
        live.answered("a", t0);
        live.asked("a", t0 + ms(900));
        assert!(live.poll(t0 + ms(2000)).is_empty());
        live.asked("a", t0 + ANSWER_COVERS);
        assert_eq!(live.poll(t0 + ANSWER_COVERS + ANSWER_WAIT).len(), 1);
    }

    #[test]
    fn a_goodbye_is_the_reason_for_a_removal_that_follows_it() {
        let t0 = Instant::now();
        let mut live = Liveness::default();
        live.goodbye("a", t0);
        assert_eq!(
            live.why_gone("a", t0 + ms(1000)),
            Some(RemovalReason::Goodbye)
        );
        assert_eq!(live.why_gone("a", t0 + GOODBYE_MEMORY + ms(1)), None);
        assert_eq!(live.why_gone("b", t0), None);
    }

    #[test]
    fn a_query_heard_too_late_for_its_window_starts_nothing() {
        let t0 = Instant::now();
        let mut live = Liveness::default();
        live.asked("a", t0);
        assert!(live.poll(t0 + RECONFIRM_WINDOW).is_empty());
        assert_eq!(live.next_deadline(), None);
    }

    #[test]
    fn forgetting_a_service_drops_everything_about_it() {
        let t0 = Instant::now();
        let mut live = Liveness::default();
        live.failed("a", t0);
        live.asked("b", t0);
        live.forget("a");
        live.forget("b");
        assert_eq!(live.next_deadline(), None);
        assert_eq!(live.why_gone("a", t0), None);
    }
}
