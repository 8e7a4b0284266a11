//! Limits: the largest body accepted, how long a request may take, and a token bucket per
//! source address for writes. Submissions are self-authenticating, so the service has no
//! accounts; what it bounds is what one source can make it do.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The largest request body: one DSSE envelope at its limit (docs/FORMAT.md section 3).
pub const MAX_BODY_BYTES: usize = accord_core::envelope::MAX_ENVELOPE_BYTES;

/// How long a request may take, end to end.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How many sources the limiter remembers before it forgets the idle ones.
const MAX_SOURCES: usize = 65_536;

/// The peer address of a connection, set by the listener on every request.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub std::net::SocketAddr);

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A token bucket per source address: `rate` writes a second, bursts of `burst`.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    /// `rate` per second per source, with bursts up to `burst`; a rate of 0 disables it.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `ip`; false when its bucket is empty.
    pub fn allow(&self, ip: IpAddr) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let mut map = match self.buckets.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let now = Instant::now();
        if map.len() >= MAX_SOURCES {
            let idle = Duration::from_secs_f64(self.burst / self.rate);
            map.retain(|_, b| now.duration_since(b.at) < idle);
        }
        let b = map.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() * self.rate;
        b.tokens = (b.tokens + refill).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused() {
        let l = RateLimiter::new(1.0, 3.0);
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert!(l.allow(ip) && l.allow(ip) && l.allow(ip));
        assert!(!l.allow(ip));
        assert!(l.allow([127, 0, 0, 2].into()));
        assert!(RateLimiter::new(0.0, 1.0).allow(ip));
    }
}
