//! Send times of unanswered pings, indexed by seq.
//!
//! Seqs are handed out in increasing order, so a ring of slots starting at the
//! oldest unanswered seq gives O(1) insert, lookup and removal, where a map would
//! cost a tree walk per ping.

use std::collections::VecDeque;

use tokio::time::Instant;

/// Unanswered pings and when they were sent.
#[derive(Debug, Default)]
pub struct InFlight {
    /// Seq of `slots[0]`.
    base: u64,
    /// `None` marks a ping answered (or given up) out of order.
    slots: VecDeque<Option<Instant>>,
    len: usize,
}

impl InFlight {
    /// Records ping `seq`, sent at `at`. Seqs must increase by one at a time.
    pub fn insert(&mut self, seq: u64, at: Instant) {
        if self.slots.is_empty() {
            self.base = seq;
        }
        debug_assert_eq!(
            seq,
            self.base + self.slots.len() as u64,
            "seqs are sent in order"
        );
        self.slots.push_back(Some(at));
        self.len += 1;
    }

    /// Records ping `seq`, sent at `at`, where seqs may skip (a resend of the
    /// pings another session has not answered yet). Seqs must increase.
    pub fn insert_after_gap(&mut self, seq: u64, at: Instant) {
        if self.slots.is_empty() {
            self.base = seq;
        }
        let Some(index) = seq.checked_sub(self.base) else {
            debug_assert!(false, "seq {seq} is below {}", self.base);
            return;
        };
        while (self.slots.len() as u64) < index {
            self.slots.push_back(None);
        }
        if self.slots.len() as u64 == index {
            self.slots.push_back(Some(at));
            self.len += 1;
        }
    }

    /// Removes ping `seq`, returning when it was sent, if it was in flight.
    pub fn remove(&mut self, seq: u64) -> Option<Instant> {
        let index = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        let at = self.slots.get_mut(index)?.take()?;
        self.len -= 1;
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.base += 1;
        }
        Some(at)
    }

    /// The oldest unanswered ping.
    pub fn oldest(&self) -> Option<(u64, Instant)> {
        // The front slot is never `None`: `remove` pops those.
        self.slots
            .front()
            .copied()
            .flatten()
            .map(|at| (self.base, at))
    }

    /// How many pings are unanswered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether every ping was answered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Restarts the clock of every unanswered ping (they are being sent again);
    /// returns their seqs, oldest first.
    pub fn restart_all(&mut self, now: Instant) -> Vec<u64> {
        let base = self.base;
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, slot)| {
                slot.as_mut().map(|at| {
                    *at = now;
                    base + i as u64
                })
            })
            .collect()
    }

    /// Every unanswered seq, oldest first.
    pub fn seqs(&self) -> Vec<u64> {
        let base = self.base;
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.is_some())
            .map(|(i, _)| base + i as u64)
            .collect()
    }

    /// Removes and returns every unanswered seq, oldest first.
    pub fn drain(&mut self) -> Vec<u64> {
        let seqs = self.seqs();
        self.slots.clear();
        self.len = 0;
        seqs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_answers_keep_the_oldest_at_the_front() {
        let t = Instant::now();
        let mut w = InFlight::default();
        for seq in 1..=5 {
            w.insert(seq, t);
        }
        assert_eq!(w.remove(3), Some(t));
        assert_eq!(w.remove(3), None, "answered twice");
        assert_eq!(w.oldest().map(|(s, _)| s), Some(1));
        assert_eq!(w.remove(1), Some(t));
        assert_eq!(w.remove(2), Some(t));
        assert_eq!(w.oldest().map(|(s, _)| s), Some(4));
        assert_eq!(w.len(), 2);
        assert_eq!(w.remove(0), None);
        assert_eq!(w.remove(99), None);
        assert_eq!(w.drain(), vec![4, 5]);
        assert!(w.is_empty());
        w.insert(6, t);
        assert_eq!(w.oldest().map(|(s, _)| s), Some(6));
    }
}
