//! Limits: what one client, or one source address, can make the service do. Submissions are
//! self-authenticating, so the service has no accounts; what it bounds is sizes, times,
//! connections and the rate of writes per source address (docs/OPERATIONS.md, "Limits").
//!
//! - Bodies: at most [`MAX_BODY_BYTES`]; a `Content-Length` over it is refused with 413
//!   before a byte of the body is read ([`crate::http`]).
//! - Times: request headers must arrive within `header_timeout` (slowloris), a whole request
//!   (its body included) within `request_timeout`, and a connection on which nothing is read
//!   for `idle_timeout` is closed.
//! - Connections: at most `max_connections` at once, and `max_connections_per_address` from
//!   one address; one over either is closed as soon as it is accepted.
//! - Writes (submissions, cosignatures): a token bucket per source address (`governor`'s
//!   GCRA), refused with 429 and a `Retry-After` of the seconds until the next token.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// The largest request body: one DSSE envelope at its limit (docs/FORMAT.md section 3).
pub const MAX_BODY_BYTES: usize = accord_core::envelope::MAX_ENVELOPE_BYTES;

/// How long a request may take, end to end, by default.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How many sources the rate limiter remembers before it forgets those whose bucket is
/// full again.
const MAX_SOURCES: usize = 65_536;

/// The service's limits, as `accord serve` flags set them.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Writes per second per source address; 0 for no limit.
    pub rate: f64,
    /// How many writes a source may make at once before the rate applies.
    pub burst: u32,
    /// Connections at once, from everyone.
    pub max_connections: usize,
    /// Connections at once from one address.
    pub max_connections_per_address: usize,
    /// Request headers must be complete within this.
    pub header_timeout: Duration,
    /// A whole request, body included, within this.
    pub request_timeout: Duration,
    /// A connection on which nothing arrives for this long is closed.
    pub idle_timeout: Duration,
    /// Bytes that must stay free on the ledger's file system; below it submissions get 507
    /// and no checkpoint is signed (0: no reserve).
    pub min_free_space: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rate: 20.0,
            burst: 40,
            max_connections: 4096,
            max_connections_per_address: 256,
            header_timeout: Duration::from_secs(10),
            request_timeout: REQUEST_TIMEOUT,
            idle_timeout: Duration::from_secs(60),
            min_free_space: 64 << 20,
        }
    }
}

/// The peer address of a connection, set by the listener on every request.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub std::net::SocketAddr);

/// Writes per source address: `rate` a second, bursts of `burst` (GCRA, `governor`).
pub struct RateLimiter {
    inner: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
}

impl RateLimiter {
    /// `rate` per second per source, with bursts up to `burst`; a rate of 0 (or one that is
    /// not a positive number) disables it.
    pub fn new(rate: f64, burst: u32) -> Self {
        let quota = (rate.is_finite() && rate > 0.0)
            .then(|| Quota::with_period(Duration::from_secs_f64(1.0 / rate)))
            .flatten()
            .map(|q| q.allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN)));
        Self {
            inner: quota.map(governor::RateLimiter::keyed),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one token for `ip`: `Ok`, or the time until the next one.
    ///
    /// # Errors
    /// How long to wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let Some(l) = &self.inner else {
            return Ok(());
        };
        if l.len() >= MAX_SOURCES {
            l.retain_recent();
        }
        l.check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Takes one token for `ip`; false when its bucket is empty.
    pub fn allow(&self, ip: IpAddr) -> bool {
        self.check(ip).is_ok()
    }
}

/// Counts connections, in total and per address.
pub struct Connections {
    max: usize,
    per_address: usize,
    total: AtomicUsize,
    by_address: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection; dropping it gives its place back.
pub struct Admitted {
    of: Arc<Connections>,
    ip: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.of.total.fetch_sub(1, Ordering::SeqCst);
        let mut map = match self.of.by_address.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(n) = map.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Why a connection was not admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `max_connections` are open.
    Full(usize),
    /// `max_connections_per_address` are open from this address.
    Address(usize),
}

impl Connections {
    /// At most `max` at once, `per_address` from one address (0: no limit).
    pub fn new(max: usize, per_address: usize) -> Arc<Self> {
        Arc::new(Self {
            max: if max == 0 { usize::MAX } else { max },
            per_address: if per_address == 0 {
                usize::MAX
            } else {
                per_address
            },
            total: AtomicUsize::new(0),
            by_address: Mutex::new(HashMap::new()),
        })
    }

    /// Admits a connection from `ip`, or says why not.
    ///
    /// # Errors
    /// [`Refusal`].
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, Refusal> {
        let mut map = match self.by_address.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if self.total.load(Ordering::SeqCst) >= self.max {
            return Err(Refusal::Full(self.max));
        }
        let n = map.entry(ip).or_insert(0);
        if *n >= self.per_address {
            return Err(Refusal::Address(self.per_address));
        }
        *n += 1;
        self.total.fetch_add(1, Ordering::SeqCst);
        Ok(Admitted {
            of: self.clone(),
            ip,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_with_the_wait() {
        let l = RateLimiter::new(1.0, 3);
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert!(l.allow(ip) && l.allow(ip) && l.allow(ip));
        let wait = l.check(ip).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(l.allow([127, 0, 0, 2].into()));
        assert!(RateLimiter::new(0.0, 1).allow(ip));
        assert!(RateLimiter::new(f64::NAN, 1).allow(ip));
    }

    #[test]
    fn connections_are_limited_in_total_and_per_address() {
        let c = Connections::new(3, 2);
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let a1 = c.admit(a).unwrap();
        let a2 = c.admit(a).unwrap();
        assert_eq!(c.admit(a).err(), Some(Refusal::Address(2)));
        let b1 = c.admit(b).unwrap();
        assert_eq!(c.admit(b).err(), Some(Refusal::Full(3)));
        drop(a1);
        assert_eq!(c.open(), 2);
        let _a3 = c.admit(a).unwrap();
        drop((a2, b1));
        assert_eq!(c.open(), 1);
    }
}
