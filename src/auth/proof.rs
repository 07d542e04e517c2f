//! The proofs of the token handshake, after SCRAM (RFC 5802): the peer
//! proves it holds the secret, configd proves it holds the keys derived
//! from it, and both proofs cover the whole exchange and the TLS session
//! it runs in (an exporter value, as in RFC 9266), so nothing can be
//! replayed or relayed to another connection.
//!
//! From a token's secret S (256 random bits, so no salt or iterations are
//! needed): `ClientKey = HMAC(S, "monit client key")`, `StoredKey =
//! SHA-256(ClientKey)`, `ServerKey = HMAC(S, "monit server key")`.
//! configd keeps only StoredKey and ServerKey: a copy of its tokens file
//! lets no one authenticate.
//!
//! `AuthMessage` is the length-prefixed (u64 big-endian) concatenation of
//! `"monit-handshake-v2"`, client nonce, server nonce, server id, role
//! (`node`|`client`), name, token id and channel binding.
//! The peer sends `ClientProof = ClientKey XOR HMAC(StoredKey,
//! AuthMessage)`; configd checks `SHA-256(ClientProof XOR HMAC(StoredKey,
//! AuthMessage)) == StoredKey` and answers `ServerProof = HMAC(ServerKey,
//! AuthMessage)` in `Welcome`.

use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::net::proto::PeerKind;

type HmacSha256 = Hmac<Sha256>;

const DOMAIN: &[u8] = b"monit-handshake-v2";

fn hmac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    for p in parts {
        mac.update(p);
    }
    mac
}

fn hmac_bytes(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    hmac(key, parts).finalize().into_bytes().into()
}

/// What configd keeps of a token: enough to check a proof, not to make one.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenKeys {
    pub stored_key: [u8; 32],
    pub server_key: [u8; 32],
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(***)")
    }
}

fn client_key(secret: &[u8]) -> [u8; 32] {
    hmac_bytes(secret, &[b"monit client key"])
}

impl TokenKeys {
    pub fn derive(secret: &[u8]) -> TokenKeys {
        TokenKeys {
            stored_key: Sha256::digest(client_key(secret)).into(),
            server_key: hmac_bytes(secret, &[b"monit server key"]),
        }
    }
}

/// Everything both proofs cover.
#[derive(Debug, Clone, Copy)]
pub struct Transcript<'a> {
    pub client_nonce: &'a str,
    pub server_nonce: &'a str,
    pub server_id: &'a str,
    pub kind: PeerKind,
    pub name: &'a str,
    pub token_id: &'a str,
    /// The TLS exporter value; empty on a plaintext link.
    pub binding: &'a [u8],
}

impl Transcript<'_> {
    /// `AuthMessage`, byte for byte (see the module docs).
    pub fn auth_message(&self) -> Vec<u8> {
        let kind = match self.kind {
            PeerKind::Node => b"node".as_slice(),
            PeerKind::Client => b"client".as_slice(),
        };
        let mut out = Vec::with_capacity(256);
        for part in [
            DOMAIN,
            self.client_nonce.as_bytes(),
            self.server_nonce.as_bytes(),
            self.server_id.as_bytes(),
            kind,
            self.name.as_bytes(),
            self.token_id.as_bytes(),
            self.binding,
        ] {
            // Length-prefix each part so boundaries cannot be shifted.
            out.extend_from_slice(&(part.len() as u64).to_be_bytes());
            out.extend_from_slice(part);
        }
        out
    }
}

fn xor(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, (x, y)) in out.iter_mut().zip(a.iter().zip(b)) {
        *o = x ^ y;
    }
    out
}

/// The peer's proof for `Auth`, hex.
pub fn client_proof(secret: &[u8], t: &Transcript<'_>) -> String {
    let ck = client_key(secret);
    let stored: [u8; 32] = Sha256::digest(ck).into();
    let signature = hmac_bytes(&stored, &[&t.auth_message()]);
    hex::encode(xor(&ck, &signature))
}

/// configd's check of a peer's proof, in constant time.
pub fn verify_client_proof(keys: &TokenKeys, t: &Transcript<'_>, proof_hex: &str) -> bool {
    let Ok(proof) = hex::decode(proof_hex) else {
        return false;
    };
    let Ok(proof) = <[u8; 32]>::try_from(proof.as_slice()) else {
        return false;
    };
    let signature = hmac_bytes(&keys.stored_key, &[&t.auth_message()]);
    let ck = xor(&proof, &signature);
    // HMAC's verify is constant-time: compare H(ck) to StoredKey through it.
    let candidate: [u8; 32] = Sha256::digest(ck).into();
    hmac(&keys.server_key, &[&candidate])
        .verify_slice(&hmac_bytes(&keys.server_key, &[&keys.stored_key]))
        .is_ok()
}

/// configd's proof for `Welcome`, hex.
pub fn server_proof(keys: &TokenKeys, t: &Transcript<'_>) -> String {
    hex::encode(hmac_bytes(&keys.server_key, &[&t.auth_message()]))
}

/// The peer's check of configd's proof, in constant time.
pub fn verify_server_proof(secret: &[u8], t: &Transcript<'_>, proof_hex: &str) -> bool {
    let Ok(given) = hex::decode(proof_hex) else {
        return false;
    };
    let keys = TokenKeys::derive(secret);
    hmac(&keys.server_key, &[&t.auth_message()])
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

    fn transcript<'a>(binding: &'a [u8]) -> Transcript<'a> {
        Transcript {
            client_nonce: "c",
            server_nonce: "n",
            server_id: "srv",
            kind: PeerKind::Node,
            name: "web-1",
            token_id: "t1",
            binding,
        }
    }

    #[test]
    fn proofs_bind_every_part() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let keys = TokenKeys::derive(secret);
        let t = transcript(b"tls-a");
        let proof = client_proof(secret, &t);
        assert!(verify_client_proof(&keys, &t, &proof));
        let changed = [
            Transcript {
                client_nonce: "d",
                ..t
            },
            Transcript {
                server_nonce: "m",
                ..t
            },
            Transcript {
                server_id: "srx",
                ..t
            },
            Transcript {
                kind: PeerKind::Client,
                ..t
            },
            Transcript { name: "web-2", ..t },
            Transcript {
                token_id: "t2",
                ..t
            },
            Transcript {
                binding: b"tls-b",
                ..t
            },
        ];
        for other in &changed {
            assert!(!verify_client_proof(&keys, other, &proof), "{other:?}");
        }
        assert!(!verify_client_proof(
            &TokenKeys::derive(b"other"),
            &t,
            &proof
        ));
        assert!(!verify_client_proof(&keys, &t, "zz"));
        assert!(!verify_client_proof(&keys, &t, "00"));
        let sp = server_proof(&keys, &t);
        assert!(verify_server_proof(secret, &t, &sp));
        assert!(!verify_server_proof(b"other", &t, &sp));
        for other in &changed {
            assert!(!verify_server_proof(secret, other, &sp));
        }
        assert_ne!(random_nonce(), random_nonce());
    }

    #[test]
    fn stored_keys_cannot_make_a_proof() {
        // Knowing StoredKey and ServerKey (a leaked tokens file), the best
        // guess at a proof is StoredKey-based, and it fails.
        let secret = b"s3cret-s3cret-s3cret-s3cret-s3cr";
        let keys = TokenKeys::derive(secret);
        let t = transcript(b"");
        assert!(!verify_client_proof(
            &keys,
            &t,
            &client_proof(&keys.stored_key, &t)
        ));
        assert!(!verify_client_proof(
            &keys,
            &t,
            &client_proof(&keys.server_key, &t)
        ));
    }

    #[test]
    fn auth_message_layout() {
        let t = transcript(b"");
        let m = t.auth_message();
        assert_eq!(&m[..8], &18u64.to_be_bytes());
        assert_eq!(&m[8..26], DOMAIN);
        assert_eq!(m.len(), 8 * 8 + 18 + 1 + 1 + 3 + 4 + 5 + 2);
    }
}
