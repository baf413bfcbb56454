//! What a browse reports, per service record, not per host: the pure book
//! between mdns-sd's events and the [`DiscoveryEvent`]s a browser sends.
//!
//! mdns-sd resolves a service through its host's A/AAAA records, which every
//! service on that host shares. When one server on a host says goodbye, or a
//! client asks mdns-sd to verify one service, the host's address records are
//! flushed for all of them, and mdns-sd reports the others as removed (or
//! resolved with fewer addresses) until it has asked again. The book therefore
//! confirms a removal, or the loss of an address, only when it lasts
//! [`REMOVAL_GRACE`]; a service resolved again within it never leaves, and
//! keeps its addresses. A server that advertised `state=draining` is leaving:
//! its removal is reported at once. Sans-IO: time comes in as arguments.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::discovery::{Candidate, DiscoveryEvent, RemovalReason};
use crate::proto::ServerState;

/// How long a service (or one of its addresses) must stay gone before it is
/// reported gone. RFC 6762 §10.1 keeps a goodbye record for one second; a
/// re-query of the flushed address records is answered within one more second
/// (a responder may not multicast a record again sooner, §6), plus up to
/// 120 ms of response delay. 2.5 s covers both with room to spare.
pub const REMOVAL_GRACE: Duration = Duration::from_millis(2500);

/// How long a service found only by the one-shot query (see
/// [`oneshot`](super::oneshot)) is kept without the multicast browse confirming
/// it: RFC 6762 §6.7 caps the TTLs of answers to such queries at 10 s.
pub const PROVISIONAL_LIFETIME: Duration = Duration::from_secs(10);

/// One service as the book knows it.
#[derive(Debug)]
struct Record {
    /// What listeners were last told: the addresses mdns-sd lists now, then the
    /// fading ones.
    published: Candidate,
    /// The addresses mdns-sd listed last.
    current: Vec<SocketAddr>,
    /// Addresses mdns-sd no longer lists, still published until the grace ends.
    fading: Vec<(SocketAddr, Instant)>,
    /// Since when mdns-sd has reported it removed, if it has.
    missing_since: Option<Instant>,
    /// Until when a service only the one-shot query found may stay unconfirmed.
    confirm_by: Option<Instant>,
}

impl Record {
    /// `published` with the current and fading addresses; an event if it changed.
    fn republish(&mut self, mut candidate: Candidate) -> Option<DiscoveryEvent> {
        candidate.addresses = self.current.clone();
        candidate
            .addresses
            .extend(self.fading.iter().map(|(addr, _)| *addr));
        candidate.addresses.sort();
        candidate.addresses.dedup();
        (self.published != candidate).then(|| {
            self.published = candidate.clone();
            DiscoveryEvent::Updated(candidate)
        })
    }
}

/// A server instance never returns from draining (a restarted server has a new
/// id), but a cache may hold its old TXT beside the new one for a second (RFC
/// 6762 §10.2 flushes only records older than that), and mdns-sd may resolve
/// with either: `state=serving` after `state=draining` from the same server id
/// is that stale record, and the candidate stays draining.
fn keep_draining(before: &Candidate, now: &mut Candidate) {
    let (Some(old), Some(new)) = (&before.txt, &mut now.txt) else {
        return;
    };
    if old.state == ServerState::Draining
        && new.state == ServerState::Serving
        && old.server_id.is_some()
        && old.server_id == new.server_id
    {
        new.state = ServerState::Draining;
        for (key, value) in &mut now.txt_pairs {
            if key == "state" {
                *value = "draining".into();
            }
        }
    }
}

/// How long the id of a server that drained and left is remembered: a stale
/// record of it that a cache re-resolves meanwhile is not a server coming back
/// (a restarted server has a new id).
pub const DRAINED_MEMORY: Duration = Duration::from_secs(60);
/// Most drained ids remembered.
const MAX_DRAINED: usize = 256;

/// Most services one browse keeps: a busy LAN has hundreds; past it, new
/// ones are ignored, so a flood of advertisements cannot grow memory (the
/// browse logs it once).
pub const MAX_RECORDS: usize = 4096;

/// Services seen by one browse.
#[derive(Debug, Default)]
pub struct RecordBook {
    records: HashMap<String, Record>,
    /// Ids of servers that drained and left, with when they left.
    drained: VecDeque<([u8; 16], Instant)>,
    /// Whether a service was turned away because the book was full.
    refused: bool,
}

impl RecordBook {
    /// mdns-sd resolved `candidate` (again).
    pub fn resolved(&mut self, mut candidate: Candidate, now: Instant) -> Option<DiscoveryEvent> {
        while self
            .drained
            .front()
            .is_some_and(|(_, left)| now >= *left + DRAINED_MEMORY)
        {
            self.drained.pop_front();
        }
        let id = candidate.txt.as_ref().and_then(|t| t.server_id);
        if id.is_some_and(|id| self.drained.iter().any(|(gone, _)| *gone == id)) {
            return None;
        }
        let Some(record) = self.records.get_mut(&candidate.key) else {
            if self.records.len() >= MAX_RECORDS {
                self.refused = true;
                return None;
            }
            self.records.insert(
                candidate.key.clone(),
                Record {
                    published: candidate.clone(),
                    current: candidate.addresses.clone(),
                    fading: Vec::new(),
                    missing_since: None,
                    confirm_by: None,
                },
            );
            return Some(DiscoveryEvent::Added(candidate));
        };
        record.missing_since = None;
        record.confirm_by = None;
        keep_draining(&record.published, &mut candidate);
        let lost: Vec<SocketAddr> = record
            .current
            .iter()
            .filter(|a| !candidate.addresses.contains(a))
            .copied()
            .collect();
        record
            .fading
            .retain(|(addr, _)| !candidate.addresses.contains(addr));
        for addr in lost {
            if !record.fading.iter().any(|(a, _)| *a == addr) {
                record.fading.push((addr, now));
            }
        }
        record.current = candidate.addresses.clone();
        record.republish(candidate)
    }

    /// The one-shot query resolved `candidate`: published at once, and kept for
    /// [`PROVISIONAL_LIFETIME`] unless mdns-sd resolves it meanwhile. Once
    /// mdns-sd has, its events are fresher and the one-shot's are ignored.
    pub fn found_early(&mut self, candidate: Candidate, now: Instant) -> Option<DiscoveryEvent> {
        let confirm_by = match self.records.get(&candidate.key) {
            None => now + PROVISIONAL_LIFETIME,
            Some(Record {
                confirm_by: Some(by),
                ..
            }) => *by,
            Some(_) => return None,
        };
        let key = candidate.key.clone();
        let event = self.resolved(candidate, now);
        if let Some(record) = self.records.get_mut(&key) {
            record.confirm_by = Some(confirm_by);
        }
        event
    }

    /// mdns-sd reported the service `key` removed; `known` is why, if the
    /// browse knows (a goodbye it heard, a reconfirmation that went
    /// unanswered): such a removal is reported at once, and so is that of a
    /// server that advertised `state=draining` (its removal is its own
    /// goodbye). Any other removal waits for the [`REMOVAL_GRACE`], and is
    /// then taken as the TTL running out.
    pub fn removed(
        &mut self,
        key: &str,
        now: Instant,
        known: Option<RemovalReason>,
    ) -> Option<DiscoveryEvent> {
        let record = self.records.get_mut(key)?;
        let draining = record
            .published
            .txt
            .as_ref()
            .is_some_and(|t| t.state == ServerState::Draining);
        let reason = match known {
            Some(reason) => reason,
            None if draining => RemovalReason::Goodbye,
            None => {
                record.missing_since.get_or_insert(now);
                return None;
            }
        };
        let record = self.records.remove(key)?;
        if draining {
            if let Some(id) = record.published.txt.as_ref().and_then(|t| t.server_id) {
                if self.drained.len() == MAX_DRAINED {
                    self.drained.pop_front();
                }
                self.drained.push_back((id, now));
            }
        }
        Some(DiscoveryEvent::Removed(record.published, reason))
    }

    /// The instance label of `key` when only the one-shot query knows it (mdns-sd
    /// has not resolved it: its cache has nothing to reconfirm).
    pub fn provisional(&self, key: &str) -> Option<&str> {
        self.records
            .get(key)
            .filter(|record| record.confirm_by.is_some())
            .map(|record| record.published.instance.as_str())
    }

    /// Whether a service the book lists is on `host` (a name without the final
    /// dot; DNS names compare without regard to case).
    pub fn lists_host(&self, host: &str) -> bool {
        self.records
            .values()
            .any(|record| record.published.host.eq_ignore_ascii_case(host))
    }

    /// The key of the service whose full name is `name` (DNS names compare
    /// without regard to case), if the book lists it.
    pub fn key_for(&self, name: &str) -> Option<&str> {
        if let Some((key, _)) = self.records.get_key_value(name) {
            return Some(key);
        }
        self.records
            .keys()
            .find(|key| key.eq_ignore_ascii_case(name))
            .map(String::as_str)
    }

    /// Confirms what has been gone for [`REMOVAL_GRACE`] by `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<DiscoveryEvent> {
        let mut events = Vec::new();
        self.records.retain(|_, record| {
            let missing = record
                .missing_since
                .is_some_and(|since| now >= since + REMOVAL_GRACE);
            let unconfirmed = record.confirm_by.is_some_and(|by| now >= by);
            if missing || unconfirmed {
                events.push(DiscoveryEvent::Removed(
                    record.published.clone(),
                    RemovalReason::Expired,
                ));
                return false;
            }
            let before = record.fading.len();
            record
                .fading
                .retain(|(_, since)| now < *since + REMOVAL_GRACE);
            if record.fading.len() != before {
                events.extend(record.republish(record.published.clone()));
            }
            true
        });
        events
    }

    /// Whether a service was turned away because the book was full since the
    /// last call.
    pub fn take_refused(&mut self) -> bool {
        std::mem::take(&mut self.refused)
    }

    /// When [`expire`](Self::expire) next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let graces = self
            .records
            .values()
            .flat_map(|r| {
                r.missing_since
                    .iter()
                    .chain(r.fading.iter().map(|(_, t)| t))
            })
            .map(|since| *since + REMOVAL_GRACE);
        let confirmations = self.records.values().filter_map(|r| r.confirm_by);
        graces.chain(confirmations).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(key: &str, addresses: &[&str]) -> Candidate {
        Candidate {
            host: "vm.local".into(),
            addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
            txt: None,
            ..Candidate::for_test(key)
        }
    }

    fn addresses(event: &DiscoveryEvent) -> Vec<String> {
        let c = event.candidate();
        c.addresses.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_removal_undone_within_the_grace_is_never_reported() {
        let t0 = Instant::now();
        let mut book = RecordBook::default();
        let a = service("a", &["127.0.0.1:1"]);
        assert!(matches!(
            book.resolved(a.clone(), t0),
            Some(DiscoveryEvent::Added(_))
        ));
        book.removed("a", t0 + Duration::from_millis(10), None);
        assert!(book.expire(t0 + Duration::from_millis(500)).is_empty());
        assert_eq!(book.resolved(a, t0 + Duration::from_millis(900)), None);
        assert!(book.expire(t0 + REMOVAL_GRACE * 3).is_empty());
        assert_eq!(book.next_deadline(), None);
    }

    #[test]
    fn a_removal_that_lasts_is_reported_once_after_the_grace() {
        let t0 = Instant::now();
        let mut book = RecordBook::default();
        book.resolved(service("a", &["127.0.0.1:1"]), t0);
        book.resolved(service("b", &["127.0.0.1:2"]), t0);
        book.removed("a", t0, None);
        book.removed("a", t0 + Duration::from_secs(1), None); // the first one counts
        assert_eq!(book.next_deadline(), Some(t0 + REMOVAL_GRACE));
        assert!(book
            .expire(t0 + REMOVAL_GRACE - Duration::from_millis(1))
            .is_empty());
        let events = book.expire(t0 + REMOVAL_GRACE);
        assert_eq!(events.len(), 1);
        assert!(
            matches!(&events[0], DiscoveryEvent::Removed(c, RemovalReason::Expired) if c.key == "a")
        );
        assert!(book.expire(t0 + REMOVAL_GRACE * 2).is_empty());
        // A removal of an unknown service is nothing.
        assert_eq!(book.removed("zzz", t0, None), None);
        assert_eq!(book.next_deadline(), None);
    }

    #[test]
    fn a_lost_address_fades_and_a_returning_one_stays() {
        let t0 = Instant::now();
        let mut book = RecordBook::default();
        book.resolved(service("a", &["127.0.0.1:1", "[::1]:1"]), t0);
        // The IPv4 record was flushed: still published.
        assert_eq!(book.resolved(service("a", &["[::1]:1"]), t0), None);
        // It comes back within the grace: nothing changed.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(
            book.resolved(service("a", &["127.0.0.1:1", "[::1]:1"]), t1),
            None
        );
        assert!(book.expire(t0 + REMOVAL_GRACE * 2).is_empty());
        // Gone for good: withdrawn after the grace, in one update.
        let t2 = t0 + Duration::from_secs(10);
        assert_eq!(book.resolved(service("a", &["[::1]:1"]), t2), None);
        let events = book.expire(t2 + REMOVAL_GRACE);
        assert_eq!(events.len(), 1);
        assert!(matches!(events[0], DiscoveryEvent::Updated(_)));
        assert_eq!(addresses(&events[0]), ["[::1]:1"]);
    }

    #[test]
    fn a_new_address_is_published_at_once_beside_the_fading_one() {
        let t0 = Instant::now();
        let mut book = RecordBook::default();
        book.resolved(service("a", &["10.0.0.1:1"]), t0);
        let event = book.resolved(service("a", &["10.0.0.2:1"]), t0).unwrap();
        assert_eq!(addresses(&event), ["10.0.0.1:1", "10.0.0.2:1"]);
        let events = book.expire(t0 + REMOVAL_GRACE);
        assert_eq!(addresses(&events[0]), ["10.0.0.2:1"]);
    }

    #[test]
    fn an_early_find_is_published_at_once_and_dropped_unless_confirmed() {
        let t0 = Instant::now();
        let mut book = RecordBook::default();
        assert!(matches!(
            book.found_early(service("a", &["10.0.0.1:1"]), t0),
            Some(DiscoveryEvent::Added(_))
        ));
        // A second reply adds an address: still provisional, same deadline.
        let event = book
            .found_early(
                service("a", &["10.0.0.1:1", "[::1]:1"]),
                t0 + Duration::from_millis(5),
            )
            .unwrap();
        assert_eq!(addresses(&event), ["10.0.0.1:1", "[::1]:1"]);
        assert_eq!(book.next_deadline(), Some(t0 + PROVISIONAL_LIFETIME));
        let events = book.expire(t0 + PROVISIONAL_LIFETIME);
        assert!(
            matches!(&events[..], [DiscoveryEvent::Removed(c, RemovalReason::Expired)] if c.key == "a")
        );
    }

    #[test]
    fn an_early_find_confirmed_by_the_browse_stays_and_later_early_news_is_ignored() {
        let t0 = Instant::now();
        let mut book = RecordBook::default();
        book.found_early(service("a", &["10.0.0.1:1"]), t0);
        assert_eq!(book.resolved(service("a", &["10.0.0.1:1"]), t0), None);
        assert_eq!(book.next_deadline(), None);
        assert!(book.expire(t0 + PROVISIONAL_LIFETIME * 2).is_empty());
        assert_eq!(book.found_early(service("a", &["10.0.0.9:1"]), t0), None);
    }

    #[test]
    fn draining_is_final_for_a_server_id_but_not_for_a_new_one() {
        use crate::discovery::ServerTxt;
        let with = |state, id: u8| {
            let mut c = service("a", &["10.0.0.1:1"]);
            c.txt = Some(ServerTxt {
                version: 1,
                server_id: Some([id; 16]),
                path: "/pingpong".into(),
                state,
                fingerprint: None,
                load: None,
            });
            c.txt_pairs = vec![(
                "state".into(),
                crate::discovery::txt::state_name(state).into(),
            )];
            c
        };
        let t0 = Instant::now();
        let mut book = RecordBook::default();
        book.resolved(with(ServerState::Serving, 1), t0);
        assert!(book.resolved(with(ServerState::Draining, 1), t0).is_some());
        // The stale TXT of the same server: nothing changes.
        assert_eq!(book.resolved(with(ServerState::Serving, 1), t0), None);
        // A draining server's removal is its goodbye: reported at once, and a
        // stale record of it re-resolved afterwards does not bring it back.
        let gone = book.removed("a", t0, None);
        assert!(matches!(
            gone,
            Some(DiscoveryEvent::Removed(_, RemovalReason::Goodbye))
        ));
        assert_eq!(book.next_deadline(), None);
        assert_eq!(book.resolved(with(ServerState::Serving, 1), t0), None);
        assert_eq!(book.resolved(with(ServerState::Draining, 1), t0), None);
        // Until it is long gone.
        let later = t0 + DRAINED_MEMORY;
        assert!(book
            .resolved(with(ServerState::Serving, 1), later)
            .is_some());
        book.removed("a", later, None);
        book.expire(later + REMOVAL_GRACE);
        // A restarted server (new id) under the same name serves again.
        let event = book
            .resolved(with(ServerState::Serving, 2), later + REMOVAL_GRACE)
            .unwrap();
        assert!(event.candidate().is_serving());
    }

    #[test]
    fn a_removal_whose_reason_is_known_is_reported_at_once_with_it() {
        let t0 = Instant::now();
        let mut book = RecordBook::default();
        book.resolved(service("A b._pingpong._udp.local.", &["127.0.0.1:1"]), t0);
        book.resolved(service("c", &["127.0.0.1:2"]), t0);
        assert_eq!(
            book.key_for("a B._PINGPONG._udp.local."),
            Some("A b._pingpong._udp.local.")
        );
        assert_eq!(book.key_for("d"), None);
        assert!(book.lists_host("VM.local"));
        assert_eq!(book.provisional("c"), None);
        assert!(!book.lists_host("other.local"));
        let gone = book.removed(
            "A b._pingpong._udp.local.",
            t0,
            Some(RemovalReason::ReconfirmFailed),
        );
        assert!(matches!(
            gone,
            Some(DiscoveryEvent::Removed(_, RemovalReason::ReconfirmFailed))
        ));
        assert!(matches!(
            book.removed("c", t0, Some(RemovalReason::Goodbye)),
            Some(DiscoveryEvent::Removed(_, RemovalReason::Goodbye))
        ));
        assert_eq!(book.next_deadline(), None);
    }

    #[test]
    fn a_service_only_the_one_shot_query_found_is_provisional_until_resolved() {
        let t0 = Instant::now();
        let mut book = RecordBook::default();
        book.found_early(service("early", &["127.0.0.1:3"]), t0);
        assert_eq!(book.provisional("early"), Some("early"));
        book.resolved(service("early", &["127.0.0.1:3"]), t0);
        assert_eq!(book.provisional("early"), None);
    }

    #[test]
    fn a_flood_stops_at_the_cap_and_says_so_once() {
        let t0 = Instant::now();
        let mut book = RecordBook::default();
        for i in 0..MAX_RECORDS {
            assert!(book
                .resolved(service(&format!("s{i}"), &["10.0.0.1:1"]), t0)
                .is_some());
        }
        assert!(!book.take_refused());
        assert_eq!(
            book.resolved(service("one-more", &["10.0.0.1:1"]), t0),
            None
        );
        assert!(book.take_refused());
        assert!(!book.take_refused());
        // Known services still update.
        assert!(book.resolved(service("s0", &["10.0.0.2:1"]), t0).is_some());
    }

    #[test]
    fn other_changes_are_published_at_once() {
        let t0 = Instant::now();
        let mut book = RecordBook::default();
        book.resolved(service("a", &["10.0.0.1:1"]), t0);
        let mut moved = service("a", &["10.0.0.1:1"]);
        moved.host = "vm-2.local".into();
        assert!(
            matches!(book.resolved(moved, t0), Some(DiscoveryEvent::Updated(c)) if c.host == "vm-2.local")
        );
    }
}
