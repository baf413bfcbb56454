//! Per-client outboxes: recent pongs kept so that a client that comes back
//! (`Hello { resume_after }`) gets what it missed, and a ping it sends again is
//! answered from here rather than processed twice. Pure: the caller passes the
//! clock. Bounded in pongs, bytes and age per client, and in clients.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bounds on what outboxes may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxLimits {
    /// Pongs kept per client (a second of pipelined pings at 256/s).
    pub max_pongs: usize,
    /// Payload bytes kept per client.
    pub max_bytes: usize,
    /// Age after which a pong is dropped: longer than any reconnection the
    /// client tries (its give-up default is 10 s).
    pub max_age: Duration,
    /// Clients with an outbox; the least recently seen is dropped first.
    pub max_clients: usize,
}

impl Default for OutboxLimits {
    fn default() -> Self {
        // Worst case: 1024 clients × 64 KiB = 64 MiB of payloads.
        Self {
            max_pongs: 256,
            max_bytes: 64 * 1024,
            max_age: Duration::from_secs(30),
            max_clients: 1024,
        }
    }
}

/// One client's recent pongs, in seq order.
#[derive(Debug, Default)]
pub struct Outbox {
    pongs: VecDeque<(u64, Vec<u8>, Instant)>,
    bytes: usize,
    /// Buffers of dropped pongs, reused so that recording does not allocate
    /// once the outbox is full.
    spare: Vec<Vec<u8>>,
}

/// Spare buffers kept per outbox.
const SPARE_BUFFERS: usize = 8;

impl Outbox {
    /// The pong for ping `seq`, whose payload is `payload`: a new seq (above
    /// every one kept: seqs arrive in increasing order) is kept, within the
    /// count and byte bounds, and `None` says to answer with `payload`; a seq
    /// answered before gives the payload it had then, if it is still kept.
    /// Ages are checked by [`expire`](Self::expire), once per batch of pings
    /// rather than per pong. One call a ping: this is the server's per-ping
    /// path.
    pub fn keep(
        &mut self,
        seq: u64,
        payload: &[u8],
        now: Instant,
        limits: &OutboxLimits,
    ) -> Option<&[u8]> {
        if self.pongs.back().is_none_or(|(last, _, _)| seq > *last) {
            self.push(seq, payload, now, limits);
            return None;
        }
        let i = self.pongs.binary_search_by_key(&seq, |(s, _, _)| *s).ok()?;
        Some(&self.pongs[i].1)
    }

    fn push(&mut self, seq: u64, payload: &[u8], now: Instant, limits: &OutboxLimits) {
        // A full outbox (the steady state of a busy client) gives its oldest
        // pong's buffer to the new one.
        let mut buffer = if self.pongs.len() >= limits.max_pongs {
            self.pongs.pop_front().map(|(_, buffer, _)| {
                self.bytes -= buffer.len();
                buffer
            })
        } else {
            None
        }
        .or_else(|| self.spare.pop())
        .unwrap_or_default();
        buffer.clear();
        buffer.extend_from_slice(payload);
        self.pongs.push_back((seq, buffer, now));
        self.bytes += payload.len();
        // Over a bound, the oldest go.
        while self.pongs.len() > limits.max_pongs || self.bytes > limits.max_bytes {
            self.drop_oldest();
        }
    }

    /// Every kept pong with a seq above `resume_after`, in order.
    pub fn after(&self, resume_after: u64) -> impl Iterator<Item = (u64, &[u8])> {
        let start = self.pongs.partition_point(|(s, _, _)| *s <= resume_after);
        self.pongs
            .range(start..)
            .map(|(s, p, _)| (*s, p.as_slice()))
    }

    /// Pongs kept.
    pub fn len(&self) -> usize {
        self.pongs.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.pongs.is_empty()
    }

    /// Drops pongs older than the age bound.
    pub fn expire(&mut self, now: Instant, limits: &OutboxLimits) {
        while self
            .pongs
            .front()
            .is_some_and(|(_, _, at)| now.saturating_duration_since(*at) > limits.max_age)
        {
            self.drop_oldest();
        }
    }

    fn drop_oldest(&mut self) {
        if let Some((_, buffer, _)) = self.pongs.pop_front() {
            self.bytes -= buffer.len();
            if self.spare.len() < SPARE_BUFFERS {
                self.spare.push(buffer);
            }
        }
    }
}

/// Every client's outbox.
#[derive(Debug, Default)]
pub struct Outboxes {
    limits: OutboxLimits,
    by_client: HashMap<[u8; 16], (Arc<Mutex<Outbox>>, u64)>,
    clock: u64,
}

impl Outboxes {
    /// Empty, with `limits`.
    pub fn new(limits: OutboxLimits) -> Self {
        Self {
            limits,
            by_client: HashMap::new(),
            clock: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &OutboxLimits {
        &self.limits
    }

    /// The outbox of `client_id`, created if needed; the least recently used
    /// client's outbox goes when there are too many.
    pub fn for_client(&mut self, client_id: [u8; 16]) -> Arc<Mutex<Outbox>> {
        self.clock += 1;
        let clock = self.clock;
        if let Some((outbox, used)) = self.by_client.get_mut(&client_id) {
            *used = clock;
            return outbox.clone();
        }
        if self.by_client.len() >= self.limits.max_clients {
            if let Some(oldest) = self
                .by_client
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| *id)
            {
                self.by_client.remove(&oldest);
            }
        }
        let outbox = Arc::new(Mutex::new(Outbox::default()));
        self.by_client.insert(client_id, (outbox.clone(), clock));
        outbox
    }

    /// Clients with an outbox.
    pub fn clients(&self) -> usize {
        self.by_client.len()
    }

    /// Forgets a client that said Goodbye.
    pub fn forget(&mut self, client_id: &[u8; 16]) {
        self.by_client.remove(client_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> OutboxLimits {
        OutboxLimits {
            max_pongs: 3,
            max_bytes: 1000,
            max_age: Duration::from_secs(10),
            max_clients: 2,
        }
    }

    #[test]
    fn keeps_recent_pongs_for_replay_and_lookup() {
        let now = Instant::now();
        let mut o = Outbox::default();
        for seq in 1..=5 {
            assert_eq!(o.keep(seq, &[seq as u8], now, &limits()), None, "new");
        }
        assert_eq!(o.len(), 3, "count bound");
        // Seq 2 is no longer kept: answered with the payload it comes with.
        assert_eq!(o.keep(2, &[9], now, &limits()), None);
        let replay: Vec<u64> = o.after(3).map(|(s, _)| s).collect();
        assert_eq!(replay, vec![4, 5]);
        assert_eq!(o.after(5).count(), 0);
        // A resent seq is answered as before, and not kept twice.
        assert_eq!(o.keep(4, &[9], now, &limits()), Some(&[4u8][..]));
        assert_eq!(o.len(), 3);
    }

    #[test]
    fn bounded_by_age_and_bytes() {
        let now = Instant::now();
        let mut o = Outbox::default();
        o.keep(1, &[0; 10], now, &limits());
        o.expire(now + Duration::from_secs(10), &limits());
        assert_eq!(o.len(), 1, "kept for exactly its age bound");
        o.expire(now + Duration::from_secs(11), &limits());
        assert!(o.is_empty());
        o.keep(2, &[0; 600], now, &limits());
        o.keep(3, &[0; 600], now, &limits());
        assert_eq!(o.len(), 1, "byte bound");
        assert!(o.keep(3, &[], now, &limits()).is_some());
    }

    #[test]
    fn least_recently_seen_client_goes_first() {
        let mut all = Outboxes::new(limits());
        let a = all.for_client([1; 16]);
        all.for_client([2; 16]);
        // `a` is seen again, so `2` is the least recent when `3` arrives.
        assert!(Arc::ptr_eq(&a, &all.for_client([1; 16])));
        all.for_client([3; 16]);
        assert_eq!(all.clients(), 2);
        assert!(Arc::ptr_eq(&a, &all.for_client([1; 16])));
        all.forget(&[1; 16]);
        assert_eq!(all.clients(), 1);
    }
}
