//! Time, injected wherever expiry is decided, so that tests never sleep.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// A future that completes when a clock is moved by hand.
pub type ClockChange = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A source of the current time in Unix milliseconds.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;

    /// Whole seconds since the Unix epoch (the unit of JWT time claims).
    fn now(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    /// For clocks that jump (tests): a future that completes at the next
    /// jump after this call. Timers waiting on real time also wait on it.
    /// `None` for clocks that only flow with real time.
    fn changed(&self) -> Option<ClockChange> {
        None
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to: for tests and simulations.
///
/// ```
/// use wsauth::{Clock, ManualClock};
/// let clock = ManualClock::new(1_000);
/// clock.advance_secs(5);
/// assert_eq!(clock.now(), 1_005);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<watch::Sender<i64>>);

impl ManualClock {
    /// A clock standing at `secs` seconds since the epoch.
    #[must_use]
    pub fn new(secs: i64) -> Self {
        Self(Arc::new(watch::Sender::new(secs.saturating_mul(1000))))
    }

    /// A clock standing at the system's current time.
    #[must_use]
    pub fn starting_now() -> Self {
        Self(Arc::new(watch::Sender::new(SystemClock.now_millis())))
    }

    /// Moves the clock forward (or back, with a negative value) by whole seconds.
    pub fn advance_secs(&self, secs: i64) {
        self.advance_millis(secs.saturating_mul(1000));
    }

    /// Moves the clock by milliseconds.
    pub fn advance_millis(&self, millis: i64) {
        self.0.send_modify(|now| *now = now.saturating_add(millis));
    }

    /// Sets the clock to `secs` seconds since the epoch.
    pub fn set_secs(&self, secs: i64) {
        self.0.send_replace(secs.saturating_mul(1000));
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        *self.0.borrow()
    }

    fn changed(&self) -> Option<ClockChange> {
        let mut rx = self.0.subscribe();
        Some(Box::pin(async move {
            let _ = rx.changed().await;
        }))
    }
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;
