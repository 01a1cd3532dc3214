//! A small seeded generator (SplitMix64): every random choice of a run comes
//! from one of these, derived from the run's seed.

#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// An independent stream for `purpose` (one of `purpose::*`, distinct
    /// for every use: two uses of one purpose draw the same numbers).
    pub fn fork(&self, purpose: u64) -> Rng {
        let mut forked = Rng(self.0 ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        forked.next_u64();
        forked
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `low..high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// What each stream forked from a run's root generator is for. Every value
/// is used once.
pub mod purpose {
    /// Nodes' Raft election timeouts.
    pub const TIMEOUTS: u64 = 1;
    /// The fault schedule.
    pub const FAULTS: u64 = 2;
    /// The access-control workload's gatekeeper.
    pub const GATEKEEPER: u64 = 3;
    /// The access-control workload's member.
    pub const MEMBER: u64 = 4;
    /// Peer message loss and duplication.
    pub const PEER_FAULTS: u64 = 5;
    /// Nodes' entropy (token secrets, ids).
    pub const ENTROPY: u64 = 6;
    /// Which unsynced pages of data files a crash keeps (`SimDisk`).
    pub const TEARS: u64 = 7;
    /// Agent `n` of the CAS workload forks `AGENTS + n`.
    pub const AGENTS: u64 = 100;
}
