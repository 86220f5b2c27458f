//! The sandbox's clock. Tests move it forward to expire codes without sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Wall and monotonic time, both shifted by the same skew (zero outside tests).
#[derive(Clone, Default)]
pub(crate) struct Clock {
    skew_secs: Arc<AtomicU64>,
}

impl Clock {
    fn skew(&self) -> Duration {
        Duration::from_secs(self.skew_secs.load(Ordering::Relaxed))
    }

    /// Monotonic now, for expiry of sandbox state.
    pub(crate) fn now(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(self.skew()).unwrap_or(now)
    }

    /// Seconds since the Unix epoch, for token claims.
    pub(crate) fn unix(&self) -> u64 {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        since_epoch.saturating_add(self.skew()).as_secs()
    }

    /// Moves this clock (and every clone of it) forward.
    #[cfg(test)]
    pub(crate) fn advance(&self, by: Duration) {
        self.skew_secs.fetch_add(by.as_secs(), Ordering::Relaxed);
    }
}
