//! Limits before authentication, per source address: how many handshakes
//! one address may have in flight (a bounded share of the slots, so one
//! host cannot lock the others out), and how many failed handshakes it may
//! make (a leaky bucket). Refusals are logged once per burst.

use crate::sync::lock;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failed handshakes an address may have "owing" before it is throttled;
/// one is forgiven per `FORGIVE`.
const FAILURE_BUDGET: f64 = 30.0;
const FORGIVE: Duration = Duration::from_secs(1);
/// Refusals of one address are logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The address holds its share of the handshake slots.
    TooMany,
    /// The address failed too many handshakes lately.
    Throttled,
}

#[derive(Default)]
struct Addr {
    in_flight: usize,
    failures: f64,
    updated: Option<Instant>,
    refused: u64,
    logged: Option<Instant>,
}

impl Addr {
    fn decay(&mut self, now: Instant) {
        if let Some(t) = self.updated {
            let forgiven = now.duration_since(t).as_secs_f64() / FORGIVE.as_secs_f64();
            self.failures = (self.failures - forgiven).max(0.0);
        }
        self.updated = Some(now);
    }

    fn idle(&self) -> bool {
        self.in_flight == 0 && self.failures <= 0.0 && self.refused == 0
    }
}

pub struct PreAuth {
    per_address: usize,
    addrs: Mutex<HashMap<IpAddr, Addr>>,
    /// Refusals for want of room, logged once per burst.
    pub busy: Burst,
}

/// Counts events and says when to log them: the first, then at most once
/// per `LOG_EVERY` with how many happened since.
#[derive(Default)]
pub struct Burst(Mutex<(Option<Instant>, u64)>);

impl Burst {
    /// `Some(n)`: log now, `n` events since the last line (this one included).
    pub fn hit(&self) -> Option<u64> {
        let now = Instant::now();
        let mut g = lock(&self.0);
        g.1 += 1;
        if g.0.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
            return None;
        }
        g.0 = Some(now);
        Some(std::mem::take(&mut g.1))
    }
}

impl PreAuth {
    pub fn new(per_address: usize) -> Arc<PreAuth> {
        Arc::new(PreAuth {
            per_address: per_address.max(1),
            addrs: Mutex::new(HashMap::new()),
            busy: Burst::default(),
        })
    }

    /// A handshake slot for `ip`, or why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refusal> {
        let now = Instant::now();
        let mut addrs = lock(&self.addrs);
        if addrs.len() > 10_000 {
            addrs.retain(|_, a| {
                a.decay(now);
                !a.idle()
            });
        }
        let a = addrs.entry(ip).or_default();
        a.decay(now);
        let refusal = if a.failures > FAILURE_BUDGET - 1.0 {
            Some(Refusal::Throttled)
        } else if a.in_flight >= self.per_address {
            Some(Refusal::TooMany)
        } else {
            None
        };
        if let Some(r) = refusal {
            a.refused += 1;
            if a.logged.is_none_or(|t| now.duration_since(t) >= LOG_EVERY) {
                let why = match r {
                    Refusal::TooMany => format!(
                        "it already has {} handshakes in progress (max_handshakes_per_address)",
                        self.per_address
                    ),
                    Refusal::Throttled => "too many failed handshakes lately".to_string(),
                };
                tracing::warn!(peer = %ip, refused = a.refused, "refusing connections from {ip}: {why}");
                a.logged = Some(now);
                a.refused = 0;
            }
            return Err(r);
        }
        a.in_flight += 1;
        Ok(Slot {
            book: self.clone(),
            ip,
        })
    }
}

/// One handshake in progress; freed on drop.
pub struct Slot {
    book: Arc<PreAuth>,
    ip: IpAddr,
}

impl Slot {
    /// The handshake failed: it counts against the address.
    pub fn failed(&self) {
        let now = Instant::now();
        let mut addrs = lock(&self.book.addrs);
        let a = addrs.entry(self.ip).or_default();
        a.decay(now);
        a.failures += 1.0;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut addrs = lock(&self.book.addrs);
        if let Some(a) = addrs.get_mut(&self.ip) {
            a.in_flight = a.in_flight.saturating_sub(1);
            if a.idle() {
                addrs.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_per_address_and_failure_budget() {
        let book = PreAuth::new(2);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let s1 = book.admit(a).unwrap();
        let _s2 = book.admit(a).unwrap();
        assert_eq!(book.admit(a).err(), Some(Refusal::TooMany));
        let other = book.admit(b).unwrap();
        drop(s1);
        let s3 = book.admit(a).unwrap();
        for _ in 0..FAILURE_BUDGET as usize {
            s3.failed();
        }
        drop(s3);
        assert_eq!(book.admit(a).err(), Some(Refusal::Throttled));
        // Another address is not affected.
        other.failed();
        drop(other);
        assert!(book.admit(b).is_ok());
    }

    #[test]
    fn bursts_log_once() {
        let burst = Burst::default();
        assert_eq!(burst.hit(), Some(1));
        assert_eq!(burst.hit(), None);
        assert_eq!(burst.hit(), None);
    }
}
