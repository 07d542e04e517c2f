//! What a node reports about its host.

use std::collections::BTreeSet;

/// The host's IP addresses, loopback and link-local left out unless they
/// are all there is.
pub fn host_addrs() -> Vec<String> {
    let Ok(ifaddrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut all = BTreeSet::new();
    let mut useful = BTreeSet::new();
    for ifa in ifaddrs {
        let Some(addr) = ifa.address else { continue };
        let ip: std::net::IpAddr = if let Some(v4) = addr.as_sockaddr_in() {
            v4.ip().into()
        } else if let Some(v6) = addr.as_sockaddr_in6() {
            v6.ip().into()
        } else {
            continue;
        };
        all.insert(ip.to_string());
        let link_local = match ip {
            std::net::IpAddr::V4(v4) => v4.is_link_local(),
            std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        };
        if !ip.is_loopback() && !link_local {
            useful.insert(ip.to_string());
        }
    }
    let chosen = if useful.is_empty() { all } else { useful };
    chosen.into_iter().take(64).collect()
}

/// The host's name.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default()
}
