//! Failed logins per client address, as a leaky bucket: an address may owe
//! `BUDGET` failures, and one is forgiven every `FORGIVE`. Stricter than
//! configd's own pre-authentication limit, because every console login
//! reaches configd from one loopback address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const BUDGET: f64 = 5.0;
const FORGIVE: Duration = Duration::from_secs(12);
/// Addresses tracked at most; past it, idle ones are dropped first.
const MAX_ADDRS: usize = 10_000;

#[derive(Default)]
pub struct LoginLimiter {
    addrs: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl LoginLimiter {
    fn owed(entry: &(f64, Instant), now: Instant) -> f64 {
        let forgiven = now.duration_since(entry.1).as_secs_f64() / FORGIVE.as_secs_f64();
        (entry.0 - forgiven).max(0.0)
    }

    /// None when `ip` may try a login now, else how long it must wait.
    pub fn check(&self, ip: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let addrs = self.addrs.lock().unwrap_or_else(|p| p.into_inner());
        let owed = addrs.get(&ip).map(|e| Self::owed(e, now))?;
        // Refused once BUDGET failures are owed, until one is forgiven.
        let over = owed - (BUDGET - 1.0);
        (over > 0.0).then(|| FORGIVE.mul_f64(over))
    }

    /// Counts a failed login of `ip`.
    pub fn failed(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut addrs = self.addrs.lock().unwrap_or_else(|p| p.into_inner());
        if addrs.len() >= MAX_ADDRS {
            addrs.retain(|_, e| Self::owed(e, now) > 0.0);
        }
        let entry = addrs.entry(ip).or_insert((0.0, now));
        *entry = (Self::owed(entry, now) + 1.0, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_after_the_budget() {
        let l = LoginLimiter::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        for _ in 0..5 {
            assert!(l.check(ip).is_none());
            l.failed(ip);
        }
        assert!(l.check(ip).is_some());
        assert!(l.check("192.0.2.2".parse().unwrap_or(ip)).is_none());
    }
}
