//! Keeping the browsed records fresh with one query per record for the whole
//! link, not one per watcher (RFC 6762 §5.2, §7.3), sans-IO.
//!
//! A querier refreshes a cached record at 80 % of its TTL (§5.2). mdns-sd
//! does so at exactly 80 %, counted from the answer that every cache on the
//! link heard at the same moment, so every watcher asks at the same instant,
//! before any answer can suppress the others: the traffic grows with servers
//! × watchers. §5.2 asks for a random 2 % on top, and §7.3 for a query that
//! another host just asked to be suppressed; mdns-sd does neither.
//!
//! So each pingpong browse plans its own refresh of the SRV, TXT and address
//! records of the services it lists, earlier and at random: at
//! [`EARLIEST`]–[`LATEST`] of the TTL after the last answer heard. The first
//! browse on the link to get there asks (once, with every record of that
//! server due within [`BATCH`]); the responder multicasts the answer; every
//! cache on the link, mdns-sd's included, takes the new TTL, and every other
//! browse plans afresh from it. A browse that hears someone else ask for a
//! record it planned to ask for waits [`SUPPRESS_FOR`] for the answer instead
//! (§7.3). mdns-sd's own refresh at 80 % is reached only when no answer came.
//! The traffic is about one query and one answer per server per refresh
//! cycle, whatever the number of watchers.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hickory_proto::rr::{Name, RecordType};

/// The earliest a browse asks, as a share of the record's TTL: spread over
/// [`EARLIEST`]..[`LATEST`], 8 % of 120 s is 9.6 s between the first browse
/// and the last, far more than an answer takes to arrive.
pub const EARLIEST: f64 = 0.70;
/// The latest: before mdns-sd's own refresh at 80 %, with 2 % (2.4 s of a
/// 120 s record) for timers and the answer.
pub const LATEST: f64 = 0.78;
/// How long a browse waits for the answer to a query it heard someone else
/// ask, before asking itself: responders answer unique records at once,
/// shared ones within 120 ms (RFC 6762 §6).
pub const SUPPRESS_FOR: Duration = Duration::from_secs(2);
/// Records due this soon after the first due one go in the same query, so a
/// server's SRV, TXT and address records are asked for in one packet.
pub const BATCH: Duration = Duration::from_secs(2);
/// Records kept at most: each listed service has a few (SRV, TXT, A, AAAA).
pub const MAX_PLANNED: usize = 4 * super::records::MAX_RECORDS;

/// One record the browse will ask for.
#[derive(Debug, Clone)]
struct Plan {
    /// The record's owner, as it came on the wire (labels may hold dots).
    name: Name,
    /// When to ask.
    at: Instant,
}

/// The refresh plans of one browse, keyed by lowercased owner name and type.
#[derive(Debug, Default)]
pub struct Refresher {
    plans: HashMap<(String, RecordType), Plan>,
}

/// Whether this module refreshes records of `rtype`.
pub fn refreshed(rtype: RecordType) -> bool {
    matches!(
        rtype,
        RecordType::SRV | RecordType::TXT | RecordType::A | RecordType::AAAA
    )
}

impl Refresher {
    /// An answer with `name`/`rtype` and `ttl` was heard at `now` (for a record
    /// of a service the browse lists): plan the next refresh at `share` of the
    /// TTL, a number the caller draws in [`EARLIEST`]..[`LATEST`].
    pub fn answered(
        &mut self,
        key: &str,
        name: &Name,
        rtype: RecordType,
        ttl: u32,
        now: Instant,
        share: f64,
    ) {
        if !refreshed(rtype) || ttl == 0 {
            return;
        }
        let entry = (key.to_string(), rtype);
        if !self.plans.contains_key(&entry) && self.plans.len() >= MAX_PLANNED {
            return;
        }
        let share = share.clamp(EARLIEST, LATEST);
        let at = now + Duration::from_secs_f64(f64::from(ttl) * share);
        self.plans.insert(
            entry,
            Plan {
                name: name.clone(),
                at,
            },
        );
    }

    /// Someone on the link asked for `name`/`rtype` at `now`: wait for the
    /// answer rather than asking too (RFC 6762 §7.3).
    pub fn asked(&mut self, key: &str, rtype: RecordType, now: Instant) {
        if let Some(plan) = self.plans.get_mut(&(key.to_string(), rtype)) {
            plan.at = plan.at.max(now + SUPPRESS_FOR);
        }
    }

    /// The records to ask for now, if any is due: every record due by `now`
    /// plus [`BATCH`]. They are not planned again until an answer comes.
    pub fn poll(&mut self, now: Instant) -> Vec<(Name, RecordType)> {
        if !self.plans.values().any(|plan| plan.at <= now) {
            return Vec::new();
        }
        let due: Vec<(String, RecordType)> = self
            .plans
            .iter()
            .filter(|(_, plan)| plan.at <= now + BATCH)
            .map(|(entry, _)| entry.clone())
            .collect();
        let mut out: Vec<(Name, RecordType)> = due
            .into_iter()
            .filter_map(|entry| self.plans.remove(&entry).map(|plan| (plan.name, entry.1)))
            .collect();
        out.sort_by(|a, b| {
            (a.0.to_string(), u16::from(a.1)).cmp(&(b.0.to_string(), u16::from(b.1)))
        });
        out
    }

    /// `key`'s records are no longer wanted (the service left).
    pub fn forget(&mut self, key: &str) {
        self.plans.retain(|(name, _), _| name != key);
    }

    /// When [`poll`](Self::poll) next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.plans.values().map(|plan| plan.at).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::from_utf8(text).unwrap()
    }

    #[test]
    fn an_answer_plans_a_refresh_between_70_and_78_percent_of_its_ttl() {
        let t0 = Instant::now();
        let mut refresher = Refresher::default();
        refresher.answered("a.local.", &name("a.local."), RecordType::A, 100, t0, 0.0);
        assert_eq!(
            refresher.next_deadline(),
            Some(t0 + Duration::from_secs(70))
        );
        refresher.answered("a.local.", &name("a.local."), RecordType::A, 100, t0, 1.0);
        assert_eq!(
            refresher.next_deadline(),
            Some(t0 + Duration::from_secs(78))
        );
        assert!(refresher.poll(t0 + Duration::from_secs(77)).is_empty());
        let asked = refresher.poll(t0 + Duration::from_secs(78));
        assert_eq!(asked, vec![(name("a.local."), RecordType::A)]);
        // Not again until an answer comes.
        assert_eq!(refresher.next_deadline(), None);
    }

    #[test]
    fn records_due_together_go_in_one_query() {
        let t0 = Instant::now();
        let mut refresher = Refresher::default();
        let srv = name("x._pingpong._udp.local.");
        refresher.answered(
            "x._pingpong._udp.local.",
            &srv,
            RecordType::SRV,
            120,
            t0,
            0.75,
        );
        let host = name("h.local.");
        refresher.answered(
            "h.local.",
            &host,
            RecordType::A,
            120,
            t0 + Duration::from_millis(500),
            0.75,
        );
        refresher.answered("h.local.", &host, RecordType::AAAA, 120, t0, 0.75);
        // A record of another server, due much later, waits.
        refresher.answered(
            "other.local.",
            &name("other.local."),
            RecordType::A,
            120,
            t0 + Duration::from_secs(30),
            0.75,
        );
        let asked = refresher.poll(t0 + Duration::from_secs(90));
        assert_eq!(asked.len(), 3, "{asked:?}");
        assert_eq!(
            refresher.next_deadline(),
            Some(t0 + Duration::from_secs(120))
        );
    }

    #[test]
    fn a_query_heard_from_another_host_postpones_ours() {
        let t0 = Instant::now();
        let mut refresher = Refresher::default();
        let host = name("h.local.");
        refresher.answered("h.local.", &host, RecordType::A, 100, t0, 0.75);
        let heard = t0 + Duration::from_secs(74);
        refresher.asked("h.local.", RecordType::A, heard);
        assert!(refresher.poll(t0 + Duration::from_secs(75)).is_empty());
        assert_eq!(refresher.next_deadline(), Some(heard + SUPPRESS_FOR));
        // Its answer comes: planned afresh from it.
        refresher.answered("h.local.", &host, RecordType::A, 100, heard, 0.70);
        assert_eq!(
            refresher.next_deadline(),
            Some(heard + Duration::from_secs(70))
        );
    }

    #[test]
    fn goodbyes_other_types_and_forgotten_services_plan_nothing() {
        let t0 = Instant::now();
        let mut refresher = Refresher::default();
        refresher.answered("h.local.", &name("h.local."), RecordType::A, 0, t0, 0.75);
        refresher.answered(
            "_t._udp.local.",
            &name("_t._udp.local."),
            RecordType::PTR,
            4500,
            t0,
            0.75,
        );
        assert_eq!(refresher.next_deadline(), None);
        refresher.answered(
            "x.local.",
            &name("x.local."),
            RecordType::SRV,
            120,
            t0,
            0.75,
        );
        refresher.forget("x.local.");
        assert_eq!(refresher.next_deadline(), None);
    }
}
