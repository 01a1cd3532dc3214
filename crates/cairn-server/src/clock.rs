//! The wall clock and randomness seams. The server stamps each proposal with the time once,
//! when it is proposed; the simulation supplies its own clock.

/// Milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> u64;
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// The randomness seam: where token secrets come from. The simulation
/// draws from its seed, so a run replays exactly.
pub trait Entropy: Send + Sync + 'static {
    fn fill(&self, bytes: &mut [u8]);
}

/// The operating system's randomness.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, bytes: &mut [u8]) {
        // Without the OS's randomness no token can be made safely; that is
        // not a condition to serve through.
        if let Err(error) = getrandom::fill(bytes) {
            panic!("the operating system gave no randomness: {error}");
        }
    }
}
