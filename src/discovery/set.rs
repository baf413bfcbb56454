//! The candidates a client currently knows, kept up to date from discovery events.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::{Candidate, DiscoveryEvent, SrvInfo};

/// Most candidates a client keeps: a few thousand servers is a large site; past
/// it, new ones are ignored (a flood of advertisers cannot grow memory).
pub const MAX_CANDIDATES: usize = 4096;

/// Known candidates, in the order they were first seen. A candidate keeps the
/// last address a session was had over, even when its source stops listing it,
/// until an attempt there fails (docs/discovery.md, "Connecting").
#[derive(Debug, Default, Clone)]
pub struct CandidateSet {
    candidates: Vec<Candidate>,
    worked: HashMap<String, SocketAddr>,
    /// What each source listed last, before the worked address was added.
    listed: HashMap<String, Vec<SocketAddr>>,
}

impl CandidateSet {
    /// Applies one discovery event.
    pub fn apply(&mut self, event: DiscoveryEvent) {
        match event {
            DiscoveryEvent::Added(mut c) | DiscoveryEvent::Updated(mut c) => {
                self.listed.insert(c.key.clone(), c.addresses.clone());
                if let Some(worked) = self.worked.get(&c.key) {
                    if !c.addresses.is_empty() && !c.addresses.contains(worked) {
                        c.addresses.push(*worked);
                    }
                }
                let full = self.candidates.len() >= MAX_CANDIDATES;
                match self.candidates.iter_mut().find(|k| k.key == c.key) {
                    Some(known) => *known = c,
                    None if full => {
                        self.listed.remove(&c.key);
                    }
                    None => self.candidates.push(c),
                }
            }
            DiscoveryEvent::Removed(c, _) => {
                self.candidates.retain(|k| k.key != c.key);
                self.worked.remove(&c.key);
                self.listed.remove(&c.key);
            }
        }
    }

    /// A session to `key` was had over `address`.
    pub fn worked(&mut self, key: &str, address: SocketAddr) {
        self.worked.insert(key.to_string(), address);
    }

    /// An attempt at `key`'s `address` failed: it is no longer kept for the
    /// candidate if its source does not list it.
    pub fn failed(&mut self, key: &str, address: SocketAddr) {
        if self.worked.get(key) != Some(&address) {
            return;
        }
        self.worked.remove(key);
        let listed = self.listed.get(key).is_some_and(|l| l.contains(&address));
        if let Some(candidate) = self.candidates.iter_mut().find(|c| c.key == key) {
            if !listed {
                candidate.addresses.retain(|a| *a != address);
            }
        }
    }

    /// A candidate that takes sessions, speaks a version we speak, and is not
    /// excluded: lowest SRV priority first, then a weighted random choice (RFC
    /// 2782). Candidates without SRV count as priority 0, weight 1.
    pub fn pick_usable(
        &self,
        exclude: impl Fn(&Candidate) -> bool,
        rng: &mut impl rand::Rng,
    ) -> Option<&Candidate> {
        let usable: Vec<&Candidate> = self
            .candidates
            .iter()
            .filter(|c| is_usable(c) && !exclude(c))
            .collect();
        let info = |c: &&Candidate| {
            c.srv.unwrap_or(SrvInfo {
                priority: 0,
                weight: 1,
            })
        };
        super::srv::pick(&usable, info, rng).map(|i| usable[i])
    }

    /// The candidate with this key, if known.
    pub fn get(&self, key: &str) -> Option<&Candidate> {
        self.candidates.iter().find(|c| c.key == key)
    }

    /// Every known candidate.
    pub fn all(&self) -> &[Candidate] {
        &self.candidates
    }
}

/// Serving, and not advertising a protocol version below ours.
pub fn is_usable(candidate: &Candidate) -> bool {
    let version_ok = candidate
        .txt
        .as_ref()
        .is_none_or(|t| t.version >= crate::proto::MIN_VERSION);
    candidate.is_serving() && version_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::ServerTxt;
    use crate::proto::ServerState;
    use rand::SeedableRng;

    fn candidate(key: &str, state: ServerState) -> Candidate {
        Candidate {
            host: "h.local".into(),
            txt: Some(ServerTxt::for_test(state)),
            ..Candidate::for_test(key)
        }
    }

    #[test]
    fn upserts_removes_and_skips_draining_and_excluded() {
        let mut set = CandidateSet::default();
        set.apply(DiscoveryEvent::Added(candidate("a", ServerState::Draining)));
        set.apply(DiscoveryEvent::Added(candidate("b", ServerState::Serving)));
        set.apply(DiscoveryEvent::Added(candidate("c", ServerState::Serving)));
        let rng = &mut rand::rngs::StdRng::seed_from_u64(7);
        let only = |set: &CandidateSet, exclude: &[&str], rng: &mut rand::rngs::StdRng| {
            set.pick_usable(|c| exclude.contains(&c.key.as_str()), rng)
                .map(|c| c.key.clone())
        };
        // "a" drains: only b and c are ever picked.
        for _ in 0..20 {
            assert_ne!(only(&set, &[], rng).as_deref(), Some("a"));
        }
        assert_eq!(only(&set, &["b"], rng).as_deref(), Some("c"));
        assert_eq!(only(&set, &["b", "c"], rng), None);
        set.apply(DiscoveryEvent::Updated(candidate(
            "a",
            ServerState::Serving,
        )));
        assert_eq!(only(&set, &["b", "c"], rng).as_deref(), Some("a"));
        set.apply(DiscoveryEvent::Removed(
            candidate("a", ServerState::Serving),
            crate::discovery::RemovalReason::Expired,
        ));
        assert_eq!(set.all().len(), 2);
    }

    #[test]
    fn the_address_that_worked_stays_until_it_fails() {
        let mut set = CandidateSet::default();
        let mut a = candidate("a", ServerState::Serving);
        set.apply(DiscoveryEvent::Added(a.clone()));
        let worked = a.addresses[0];
        set.worked("a", worked);
        // The source stops listing it (a flushed record): still there.
        a.addresses = vec!["[::1]:4433".parse().unwrap()];
        set.apply(DiscoveryEvent::Updated(a.clone()));
        assert_eq!(
            set.get("a").unwrap().addresses,
            vec![a.addresses[0], worked]
        );
        // It failed: dropped at once, and not added back.
        set.failed("a", worked);
        assert_eq!(set.get("a").unwrap().addresses, a.addresses);
        set.apply(DiscoveryEvent::Updated(a.clone()));
        assert_eq!(set.get("a").unwrap().addresses, a.addresses);
    }

    #[test]
    fn a_flood_of_candidates_stops_at_the_cap() {
        let mut set = CandidateSet::default();
        for i in 0..MAX_CANDIDATES + 10 {
            set.apply(DiscoveryEvent::Added(candidate(
                &format!("c{i}"),
                ServerState::Serving,
            )));
        }
        assert_eq!(set.all().len(), MAX_CANDIDATES);
        assert_eq!(set.listed.len(), MAX_CANDIDATES);
        // Known ones still update.
        let mut first = candidate("c0", ServerState::Draining);
        first.port = 1;
        set.apply(DiscoveryEvent::Updated(first));
        assert_eq!(set.get("c0").unwrap().port, 1);
    }

    #[test]
    fn srv_priority_decides_before_weight() {
        let mut set = CandidateSet::default();
        let mut low = candidate("backup", ServerState::Serving);
        low.srv = Some(SrvInfo {
            priority: 10,
            weight: 100,
        });
        let mut high = candidate("primary", ServerState::Serving);
        high.srv = Some(SrvInfo {
            priority: 0,
            weight: 1,
        });
        set.apply(DiscoveryEvent::Added(low));
        set.apply(DiscoveryEvent::Added(high));
        let rng = &mut rand::rngs::StdRng::seed_from_u64(1);
        for _ in 0..20 {
            assert_eq!(set.pick_usable(|_| false, rng).unwrap().key, "primary");
        }
        assert_eq!(
            set.pick_usable(|c| c.key == "primary", rng).unwrap().key,
            "backup"
        );
    }
}
