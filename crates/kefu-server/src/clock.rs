//! The two clocks of DESIGN.md.
//!
//! The *rule clock* decides everything WeChat decides by time (grants, deadlines, rollouts,
//! `CreateTime`); it is the system time truncated to whole seconds, or a virtual clock that only
//! the admin API moves. The *wall clock* decides what a client measures on its own clock: token
//! validity, timeouts. Both read through [`WallClock`] so tests can move time without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where "now" comes from, in whole unix seconds.
pub trait WallClock: Send + Sync + 'static {
    fn now(&self) -> i64;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl WallClock for SystemClock {
    fn now(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            // A clock set before 1970 is a broken machine; saturate rather than panic.
            Err(_) => 0,
        }
    }
}

/// A wall clock a test moves by hand (token expiry without sleeping for two hours).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start: i64) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(start)))
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl WallClock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
