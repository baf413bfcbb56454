//! The `load` a server publishes in its TXT record: sessions in use per mille
//! of `--max-sessions`, so that clients prefer the less loaded of otherwise
//! equal servers ([`rank`](crate::discovery::rank) compares it in buckets of
//! [`LOAD_BUCKET`]). Pure: when a new value is worth publishing. A TXT change
//! is an mDNS announcement to the whole LAN (and a DNS update with
//! `--register-dns`), so a value goes out only when it lands in another
//! bucket, which is the only change a client's ranking can see, and not
//! more often than every [`LOAD_INTERVAL`].

use std::time::Duration;

use tokio::time::Instant;

use crate::discovery::rank::LOAD_BUCKET;

/// How often the server looks at its load. Cheap (one atomic read); what is
/// rate-limited is the publishing.
pub const LOAD_POLL: Duration = Duration::from_secs(1);
/// Least time between two published values: a server whose load hovers on a
/// bucket's edge announces at most once per interval; mDNS announcements are
/// sent several times each (RFC 6762 §8.3), so this keeps the LAN quiet.
pub const LOAD_INTERVAL: Duration = Duration::from_secs(5);

/// Sessions in use per mille of the limit (0 to 1000).
pub fn per_mille(sessions: usize, max_sessions: usize) -> u16 {
    if max_sessions == 0 {
        return 1000;
    }
    let value = sessions.min(max_sessions) * 1000 / max_sessions;
    u16::try_from(value).unwrap_or(1000)
}

/// What was published last, and when.
#[derive(Debug)]
pub struct LoadReport {
    published: u16,
    at: Option<Instant>,
}

impl LoadReport {
    /// A server that starts by advertising `load=0`.
    pub fn new() -> Self {
        Self {
            published: 0,
            at: None,
        }
    }

    /// The value to publish now, if `load` is in another bucket than the one
    /// published and the last publication is at least [`LOAD_INTERVAL`] old.
    pub fn next(&mut self, load: u16, now: Instant) -> Option<u16> {
        if load / LOAD_BUCKET == self.published / LOAD_BUCKET {
            return None;
        }
        if self
            .at
            .is_some_and(|at| now.saturating_duration_since(at) < LOAD_INTERVAL)
        {
            return None;
        }
        self.published = load;
        self.at = Some(now);
        Some(load)
    }
}

impl Default for LoadReport {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_is_sessions_per_mille_of_the_limit() {
        assert_eq!(per_mille(0, 4000), 0);
        assert_eq!(per_mille(1000, 4000), 250);
        assert_eq!(per_mille(4000, 4000), 1000);
        assert_eq!(per_mille(5000, 4000), 1000);
        assert_eq!(per_mille(1, 3), 333);
        assert_eq!(per_mille(0, 0), 1000);
    }

    #[test]
    fn only_a_new_bucket_is_published_and_not_more_than_once_per_interval() {
        let start = Instant::now();
        let mut report = LoadReport::new();
        // Within the bucket of the load=0 advertised at start: nothing.
        assert_eq!(report.next(0, start), None);
        assert_eq!(report.next(99, start), None);
        // Into the next bucket: published at once (nothing was published yet).
        assert_eq!(report.next(100, start), Some(100));
        // Back and forth on the edge: quiet for the interval.
        assert_eq!(report.next(99, start + Duration::from_secs(1)), None);
        assert_eq!(report.next(600, start + Duration::from_secs(4)), None);
        assert_eq!(report.next(600, start + LOAD_INTERVAL), Some(600));
        // Sessions gone: back to the first bucket after the interval.
        let later = start + LOAD_INTERVAL * 2;
        assert_eq!(report.next(0, later), Some(0));
        assert_eq!(report.next(50, later + LOAD_INTERVAL), None);
    }
}
