//! The candidates a client currently knows, kept up to date from discovery events.

use super::{Candidate, DiscoveryEvent};

/// Known candidates, in the order they were first seen.
#[derive(Debug, Default, Clone)]
pub struct CandidateSet {
    candidates: Vec<Candidate>,
}

impl CandidateSet {
    /// Applies one discovery event.
    pub fn apply(&mut self, event: DiscoveryEvent) {
        match event {
            DiscoveryEvent::Added(c) | DiscoveryEvent::Updated(c) => {
                match self.candidates.iter_mut().find(|k| k.key == c.key) {
                    Some(known) => *known = c,
                    None => self.candidates.push(c),
                }
            }
            DiscoveryEvent::Removed(c) => self.candidates.retain(|k| k.key != c.key),
        }
    }

    /// The first candidate that takes sessions, speaks a version we speak, and
    /// is not excluded.
    pub fn first_usable(&self, exclude: impl Fn(&Candidate) -> bool) -> Option<&Candidate> {
        self.candidates.iter().find(|c| is_usable(c) && !exclude(c))
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
    use crate::discovery::{ServerTxt, Source};
    use crate::proto::ServerState;

    fn candidate(key: &str, state: ServerState) -> Candidate {
        Candidate {
            key: key.into(),
            instance: key.into(),
            host: "h.local".into(),
            addresses: vec!["192.0.2.1:4433".parse().unwrap()],
            port: 4433,
            path: "/pingpong".into(),
            source: Source::Mdns,
            txt: Some(ServerTxt {
                version: 1,
                server_id: None,
                path: "/pingpong".into(),
                state,
                fingerprint: None,
                load: None,
            }),
        }
    }

    #[test]
    fn upserts_removes_and_skips_draining_and_excluded() {
        let mut set = CandidateSet::default();
        set.apply(DiscoveryEvent::Added(candidate("a", ServerState::Draining)));
        set.apply(DiscoveryEvent::Added(candidate("b", ServerState::Serving)));
        set.apply(DiscoveryEvent::Added(candidate("c", ServerState::Serving)));
        assert_eq!(set.first_usable(|_| false).unwrap().key, "b");
        assert_eq!(set.first_usable(|c| c.key == "b").unwrap().key, "c");
        set.apply(DiscoveryEvent::Updated(candidate(
            "a",
            ServerState::Serving,
        )));
        assert_eq!(set.first_usable(|_| false).unwrap().key, "a");
        set.apply(DiscoveryEvent::Removed(candidate(
            "a",
            ServerState::Serving,
        )));
        assert_eq!(set.all().len(), 2);
        assert_eq!(set.first_usable(|_| false).unwrap().key, "b");
    }
}
