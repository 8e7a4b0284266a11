//! Draining on shutdown: once it begins, requests already admitted finish and new ones are
//! answered 503 ([`crate::http`]); the service waits until none is in flight.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Whether the service is draining, and how many requests are in flight.
#[derive(Default)]
pub struct Drain {
    draining: AtomicBool,
    in_flight: AtomicUsize,
}

/// A request in flight; dropping it counts it done.
pub struct InFlight(Arc<Drain>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drain {
    /// Begins draining: from now on [`Drain::enter`] refuses.
    pub fn begin(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether draining has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Admits a request, or `None` when draining. The count is raised before the flag is
    /// read, so [`Drain::idle`] never misses a request admitted as draining begins.
    pub fn enter(self: &Arc<Self>) -> Option<InFlight> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight(self.clone());
        (!self.is_draining()).then_some(guard)
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Completes when no admitted request is in flight.
    pub async fn idle(&self) {
        while self.in_flight() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn admits_until_draining_and_counts_what_is_in_flight() {
        let d = Arc::new(Drain::default());
        let a = d.enter();
        assert!(a.is_some());
        assert_eq!(d.in_flight(), 1);
        d.begin();
        assert!(d.enter().is_none());
        assert_eq!(d.in_flight(), 1);
        drop(a);
        assert_eq!(d.in_flight(), 0);
    }
}
