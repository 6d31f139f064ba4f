//! Injectable wall clock, so expiry can be tested without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The system clock. On Linux it reads `CLOCK_REALTIME_COARSE` (a few ms of
/// resolution, several times cheaper than a precise read), which is ample for
/// cache expiry and keeps L1 hits fast.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[cfg(target_os = "linux")]
    fn now_ms(&self) -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec.
        if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } == 0 {
            ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
        } else {
            precise_now_ms()
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn now_ms(&self) -> u64 {
        precise_now_ms()
    }
}

fn precise_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A manual clock starting at the current system time.
    pub fn new() -> Self {
        Self::at_ms(precise_now_ms())
    }

    /// A manual clock starting at `ms` milliseconds since the epoch.
    pub fn at_ms(ms: u64) -> Self {
        Self(Arc::new(AtomicU64::new(ms)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The default shared clock.
pub(crate) fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_agrees_with_std_within_its_resolution() {
        let (coarse, precise) = (SystemClock.now_ms(), precise_now_ms());
        assert!(precise.abs_diff(coarse) < 100, "{coarse} vs {precise}");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::at_ms(1_000);
        let shared = c.clone();
        c.advance(Duration::from_secs(2));
        assert_eq!((c.now_ms(), shared.now_ms()), (3_000, 3_000));
    }
}
