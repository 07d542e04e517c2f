//! The handshake MAC: HMAC-SHA256 keyed with the token's secret over the
//! server's nonce and identity and the peer's claimed role and name, so a
//! captured handshake is useless against another nonce or another identity.

use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha2::Sha256;

use crate::net::proto::PeerKind;

type HmacSha256 = Hmac<Sha256>;

const DOMAIN: &[u8] = b"monit-handshake-v1";

fn mac_state(
    secret: &[u8],
    nonce: &str,
    server_id: &str,
    kind: PeerKind,
    name: &str,
) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    let kind = match kind {
        PeerKind::Node => b"node".as_slice(),
        PeerKind::Client => b"client".as_slice(),
    };
    for part in [
        DOMAIN,
        nonce.as_bytes(),
        server_id.as_bytes(),
        kind,
        name.as_bytes(),
    ] {
        // Length-prefix each part so boundaries cannot be shifted.
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac
}

/// The MAC a peer sends in `Auth`, hex encoded.
pub fn handshake_mac(
    secret: &[u8],
    nonce: &str,
    server_id: &str,
    kind: PeerKind,
    name: &str,
) -> String {
    hex::encode(
        mac_state(secret, nonce, server_id, kind, name)
            .finalize()
            .into_bytes(),
    )
}

/// Constant-time check of a peer's MAC.
pub fn verify_handshake_mac(
    secret: &[u8],
    nonce: &str,
    server_id: &str,
    kind: PeerKind,
    name: &str,
    mac_hex: &str,
) -> bool {
    let Ok(given) = hex::decode(mac_hex) else {
        return false;
    };
    mac_state(secret, nonce, server_id, kind, name)
        .verify_slice(&given)
        .is_ok()
}

/// 32 random bytes, hex.
pub fn random_nonce() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_binds_every_part() {
        let m = handshake_mac(b"s", "n", "srv", PeerKind::Node, "web-1");
        assert!(verify_handshake_mac(
            b"s",
            "n",
            "srv",
            PeerKind::Node,
            "web-1",
            &m
        ));
        assert!(!verify_handshake_mac(
            b"t",
            "n",
            "srv",
            PeerKind::Node,
            "web-1",
            &m
        ));
        assert!(!verify_handshake_mac(
            b"s",
            "m",
            "srv",
            PeerKind::Node,
            "web-1",
            &m
        ));
        assert!(!verify_handshake_mac(
            b"s",
            "n",
            "srx",
            PeerKind::Node,
            "web-1",
            &m
        ));
        assert!(!verify_handshake_mac(
            b"s",
            "n",
            "srv",
            PeerKind::Client,
            "web-1",
            &m
        ));
        assert!(!verify_handshake_mac(
            b"s",
            "n",
            "srv",
            PeerKind::Node,
            "web-2",
            &m
        ));
        assert!(!verify_handshake_mac(
            b"s",
            "n",
            "srv",
            PeerKind::Node,
            "web-1",
            "zz"
        ));
        assert_ne!(random_nonce(), random_nonce());
    }
}
